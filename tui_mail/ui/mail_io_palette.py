"""Command-palette entries that back up or export an account's mail, run in a thread worker (the UI never waits)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .. import paths
from ..errors import MailError
from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from .app import MailApp


def backup_dir() -> Path:
    return paths.data_dir() / "backups"


def export_dir() -> Path:
    return paths.data_dir() / "exports"


def _backup(app: MailApp, account: str) -> str:
    from ..backup import backup

    folder = backup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    info = backup(app.manager.cache(account), folder)
    return f"Backup of {account} ({info.messages:,} messages) written to {info.path}."


def _export(app: MailApp, account: str, fmt: str) -> str:
    from ..transfer import export_folders

    cache = app.manager.cache(account)
    dest = export_dir() / f"{account}-{time.strftime('%Y%m%d-%H%M%S')}-{fmt}"
    result = export_folders(cache, [f for f in cache.folders() if f.total], fmt, dest, single=False)
    missing = f" {result.missing:,} not downloaded were left out." if result.missing else ""
    return f"Exported {result.done:,} messages of {account} to {dest}.{missing}"


def run_in_worker(app: MailApp, job: Callable[[], str]) -> None:
    """Run job in a thread worker and tell the user its one-sentence outcome."""

    def work() -> None:
        try:
            text, severity = job(), "information"
        except MailError as e:
            text, severity = str(e), "error"
        except OSError as e:
            text, severity = f"Could not write the file ({e.strerror}).", "error"
        app.call_from_thread(app.notify, clean_line(text), severity=severity)  # type: ignore[arg-type]

    app.run_worker(work, thread=True, group="mail-io", exclusive=False)


class MailIoProvider(Provider):
    """Back up / export entries for every account."""

    def _entries(self) -> list[tuple[str, str, Callable[[], None]]]:
        app = cast("MailApp", self.app)
        out: list[tuple[str, str, Callable[[], None]]] = []
        for acc in app.accounts:
            name = clean_line(acc.name)
            out.append(
                (
                    f"Back up account {name}",
                    f"a snapshot of the cache in {backup_dir()}",
                    partial(run_in_worker, app, partial(_backup, app, acc.name)),
                )
            )
            for fmt in ("maildir", "mbox"):
                out.append(
                    (
                        f"Export account {name} as {fmt}",
                        f"every folder, bytes as received, into {export_dir()}",
                        partial(run_in_worker, app, partial(_export, app, acc.name, fmt)),
                    )
                )
        if any(a.protocol == "pop3" for a in app.accounts) and any(a.protocol == "imap" for a in app.accounts):
            from .screens.migrate import open_migrate

            out.append(
                (
                    "Move a POP3 account to IMAP",
                    "upload its mail into folders of an IMAP account (resumable; keep or remove it after)",
                    partial(open_migrate, app),
                )
            )
        return out

    async def discover(self) -> Hits:
        for text, help_text, action in self._entries():
            yield DiscoveryHit(text, action, text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action in self._entries():
            score = matcher.match(text) * 0.9  # rarer than switching: "account home" still picks the switch first
            if score > 0:
                yield Hit(score, matcher.highlight(text), action, text=text, help=help_text)
