"""Never leave the user guessing: a failed connection, a dropped IDLE and a full disk, as the UI shows them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port
from tui_mail.accounts import AccountManager
from tui_mail.config import Config
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.reader_screen import ReaderScreen

pytestmark = pytest.mark.servers

SIZE = (160, 40)


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def status_text(app: MailApp) -> str:
    return str(app.status.content)


async def settle(app: MailApp, pilot: Any) -> None:
    """Wait for the syncs (not the long-lived IDLE workers)."""
    await pilot.pause()
    syncs = [w for w in app.workers if not w.group.startswith("push-")]
    if syncs:  # an empty list would mean "all workers", the IDLE ones included
        await app.workers.wait_for_complete(syncs)
    await pilot.pause()


def told(app: MailApp) -> list[str]:
    """Record every notification the app shows."""
    seen: list[str] = []
    original = app.notify

    def notify(message: str, *args: Any, **kw: Any) -> None:
        seen.append(str(message))
        original(message, *args, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return seen


def _app(account: Any, tmp_path: Path, password: str, **kw: Any) -> tuple[MailApp, AccountManager]:
    config = Config(path=None, accounts=(account,))
    manager = AccountManager(config, data_dir=tmp_path / "data", password_source=lambda _a, _s: password)
    kw.setdefault("push", False)
    return MailApp(config, manager, show_clock=True, preview_delay=0, cursor_blink=False, **kw), manager


CASES = {
    "untrusted certificate": (
        {"ca_file": None},
        "The certificate of 127.0.0.1 could not be verified",
    ),
    "TLS on a plaintext port": ({"port": "imap_port"}, "A secure connection to 127.0.0.1"),
    "wrong port": ({"port": "closed"}, "connection refused"),
    "wrong password": ({"password": "wrong-pw-123"}, "rejected the username or password"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_failed_connection_shows_its_sentence_once_keeps_it_and_dollar_repeats_it(
    case: str, tmp_path: Path, dovecot: Any, mail_user: Any
) -> None:
    overrides, sentence = CASES[case]
    overrides = dict(overrides)
    password = overrides.pop("password", mail_user.password)
    if overrides.get("port") == "imap_port":
        overrides["port"] = dovecot.imap_port
    elif overrides.get("port") == "closed":
        overrides["port"] = free_port()
    account = dovecot.imap_account(mail_user, **overrides)
    app, manager = _app(account, tmp_path, password)
    notes = told(app)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(app, pilot)
            assert sentence in status_text(app)
            assert "offline" not in status_text(app)
            assert "wrong-pw-123" not in status_text(app)
            assert sum(sentence in n for n in notes) == 1
            assert sentence in screen_text(app)  # the toast (and the status line) on screen

            app.start_sync(account.name, quiet=True)  # the poll timer: the same failure is not toasted again
            await settle(app, pilot)
            assert sum(sentence in n for n in notes) == 1
            assert sentence in status_text(app)

            await pilot.press("dollar_sign")  # asked for: said again
            await settle(app, pilot)
            assert sum(sentence in n for n in notes) == 2
            assert sentence in status_text(app)
            assert "Traceback" not in screen_text(app)
    finally:
        manager.close()


async def test_the_sentence_stays_until_a_sync_succeeds(tmp_path: Path, dovecot: Any, mail_user: Any) -> None:
    passwords = ["wrong-pw-123"]
    account = dovecot.imap_account(mail_user)
    config = Config(path=None, accounts=(account,))
    manager = AccountManager(config, data_dir=tmp_path / "data", password_source=lambda _a, _s: passwords[-1])
    app = MailApp(config, manager, show_clock=False, preview_delay=0, cursor_blink=False, push=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert "rejected the username or password" in status_text(app)
            passwords.append(mail_user.password)
            await pilot.press("dollar_sign")
            await settle(app, pilot)
            assert "rejected" not in status_text(app)
            assert "synced" in status_text(app)
    finally:
        manager.close()


async def test_a_dropped_idle_connection_says_offline_since_and_dollar_reconnects(
    tmp_path: Path, dovecot: Any, mail_user: Any
) -> None:
    account = dovecot.imap_account(mail_user, idle=True)
    app, manager = _app(account, tmp_path, mail_user.password, push=True)
    app.reconnect_delays = (3600.0,)  # type: ignore[attr-defined]  # no automatic retry during the test
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert "last synced" in status_text(app)
            idle = manager._get(account.name)
            for _ in range(600):  # until the IDLE connection is up
                backend = idle.idle_backend
                if backend is not None and getattr(backend, "_idle_client", None) is not None:
                    break
                await pilot.pause(0.05)
            _drop_connections(dovecot, mail_user.name)  # the server side of the IDLE connection dies
            state = app.sync_states[account.name]
            for _ in range(600):
                if state.offline:
                    break
                await pilot.pause(0.05)
            await pilot.pause()
            assert state.offline
            assert "offline since " in status_text(app)
            await pilot.press("dollar_sign")  # reconnects (the kept sync connection was dropped too)
            await settle(app, pilot)
            assert "offline" not in status_text(app)
            assert "last synced" in status_text(app)
    finally:
        app._stop.set()
        manager.close()


def _drop_connections(dovecot: Any, user: str) -> None:
    """End the server processes of every connection of user (what a dropped network or a restart looks like)."""
    pids = [
        int(pid)
        for line in dovecot.doveadm("who").splitlines()
        if line.split()[:1] == [user]
        for pid in re.findall(r"\d+", line.split("(")[1])
    ]
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGTERM)


def _big(i: int) -> bytes:
    filler = f"Line {i} of a long report that takes room on the disk.\r\n" * 700
    return (
        f"From: Dana <dana@example.test>\r\nTo: me@example.test\r\nSubject: Report {i}\r\n"
        f"Message-ID: <ui-report-{i}@example.test>\r\nDate: Mon, 23 Nov 2026 10:{i % 60:02d}:00 +0000\r\n\r\n{filler}"
    ).encode()


async def test_a_full_disk_is_one_sentence_in_the_status_line_and_reading_still_works(
    small_disk: Path, dovecot: Any, mail_user: Any
) -> None:
    dovecot.deliver(
        mail_user,
        b"From: Eve <eve@example.test>\r\nSubject: Small note\r\nMessage-ID: <small@example.test>\r\n"
        b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nStill readable.\r\n",
        flags=["\\Seen"],
    )
    account = dovecot.imap_account(mail_user)
    data = small_disk / "data"
    app, manager = _app(account, small_disk, mail_user.password)
    notes = told(app)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(app, pilot)
            assert "last synced" in status_text(app)
            dovecot.deliver_many(mail_user, [_big(i) for i in range(60)])  # more than the disk holds
            await pilot.press("dollar_sign")
            await settle(app, pilot)
            status = status_text(app)
            assert status.count(f"The disk holding {data} is full: ") == 1, status
            assert "nothing was lost." in status
            assert sum("is full" in n for n in notes) == 1
            assert app.is_running
            # Reading still works from the cache.
            await pilot.press("G")
            assert app.message_list.current_row is not None
            assert app.message_list.current_row.subject == "Small note"
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, ReaderScreen)
            assert "Still readable." in screen_text(app)
    finally:
        manager.close()
        subprocess.run(["sync"], check=False)
