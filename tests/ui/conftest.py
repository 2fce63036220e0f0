"""Fixtures for the UI tests: the demo mailbox and hand-built caches, offline managers, screen text helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.config import AccountConfig, Config, ServerConfig, UiConfig
from tui_mail.demo import build_demo
from tui_mail.mime import parse_envelope
from tui_mail.models import SEEN, Role
from tui_mail.store.cache import NewMessage
from tui_mail.ui.app import MailApp

FIXED_NOW = 1_795_000_000  # 2026-11-18, so fixture dates never depend on the clock


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dates render the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def settle(app: MailApp, pilot: Any) -> None:
    """Let the app process what is queued, wait for every worker, then let it process their messages."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: MailApp) -> str:
    """What the terminal shows right now (all layers, notifications included), as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@dataclass
class Mailbox:
    config: Config
    manager: AccountManager
    data_dir: Path

    def app(self, **kw: object) -> MailApp:
        kw.setdefault("sync_on_start", False)
        kw.setdefault("show_clock", False)
        kw.setdefault("preview_delay", 0)
        kw.setdefault("cursor_blink", False)  # a blinking cursor makes snapshots depend on timing
        return MailApp(self.config, self.manager, **kw)  # type: ignore[arg-type]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Mailbox]:
    """The shipped demo (IMAP-style "work", POP3-style "home"), offline."""
    config = build_demo(tmp_path)
    manager = AccountManager(config, data_dir=tmp_path, offline=True)
    yield Mailbox(config, manager, tmp_path)
    manager.close()


def account(name: str, protocol: str = "imap") -> AccountConfig:
    return AccountConfig(
        name=name,
        email=f"me@{name}.example",
        protocol=protocol,  # type: ignore[arg-type]
        incoming=ServerConfig(host=f"mail.{name}.invalid", port=993),
        smtp=ServerConfig(host=f"smtp.{name}.invalid", port=465),
    )


def make_raw(
    subject: str,
    sender: str = "Alice <alice@example.com>",
    body: str = "Hello.\n",
    date: int = FIXED_NOW,
    message_id: str = "",
    attachments: list[tuple[str, bytes]] | None = None,
) -> bytes:
    """A message built with the email package; header values are set verbatim (hostile ones included)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Me <me@example.com>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.fromtimestamp(date, UTC))
    msg["Message-ID"] = message_id or f"<{abs(hash((subject, date)))}@example.com>"
    msg.set_content(body)
    for name, data in attachments or []:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def build_mailbox(tmp_path: Path, messages: list[bytes], *, seen: bool = False, name: str = "test") -> Mailbox:
    """One IMAP-style account whose INBOX holds the given raw messages (bodies cached); also Trash and Archive."""
    config = Config(path=None, accounts=(account(name),), ui=UiConfig(threads=False))
    manager = AccountManager(config, data_dir=tmp_path, offline=True)
    cache = manager.cache(name)
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    cache.ensure_folder("Trash", "/", Role.TRASH)
    cache.ensure_folder("Archive", "/", Role.ARCHIVE)
    flags = frozenset({SEEN}) if seen else frozenset()
    cache.store_messages(
        inbox,
        [NewMessage(parse_envelope(raw), uid=i + 1, flags=flags, raw=raw) for i, raw in enumerate(messages)],
        uidvalidity=1,
        last_uid=len(messages),
    )
    return Mailbox(config, manager, tmp_path)


def fill_folder_fast(mailbox: Mailbox, account_name: str, folder_name: str, count: int) -> int:
    """Insert count envelope-only rows straight into the cache DB with executemany; returns the folder id."""
    cache = mailbox.manager.cache(account_name)
    folder_id = cache.ensure_folder(folder_name, "/", Role.NONE)
    rows = [
        (
            folder_id,
            i + 1,
            1,
            f"<m{i}@bulk.example>",
            FIXED_NOW - i * 60,
            f"Sender {i % 977}",
            f"s{i % 977}@bulk.example",
            f"Bulk message number {i}",
            "\\Seen" if i % 3 else "",
            1 if i % 3 else 0,
            FIXED_NOW - i * 60,
        )
        for i in range(count)
    ]
    with cache.transaction() as c:
        c.executemany(
            "INSERT INTO messages(folder_id, uid, uidvalidity, message_id, date, from_name, from_addr, subject, "
            "flags, seen, thread_date) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        c.execute("UPDATE messages SET thread_id=id WHERE folder_id=?", (folder_id,))
    return folder_id


@dataclass
class Helpers:
    """The module's helpers handed to tests as one fixture (test modules here are not a package)."""

    screen_text = staticmethod(screen_text)
    make_raw = staticmethod(make_raw)
    build_mailbox = staticmethod(build_mailbox)
    fill_folder_fast = staticmethod(fill_folder_fast)


@pytest.fixture
def ui() -> Helpers:
    return Helpers()
