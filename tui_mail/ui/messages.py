"""Textual messages that thread workers post back to the app (workers never touch widgets)."""

from __future__ import annotations

import threading

from textual.message import Message

from ..backends.base import SyncResult
from ..models import SyncProgress


class SyncStarted(Message):
    """A sync of one account began."""

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account


class PushNotified(Message):
    """The server told an IDLE connection that something changed in the account."""

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account


class SyncProgressed(Message):
    """Progress of a running sync (coalesced by the status line). painted, when given, is set once the screen
    shows it (the sync worker waits for that after the first rows it stores)."""

    def __init__(self, progress: SyncProgress, painted: threading.Event | None = None) -> None:
        super().__init__()
        self.progress = progress
        self.painted = painted


class RowsCounted(Message):
    """A worker counted the rows of a folder shown with a bounded estimate."""

    def __init__(self, account: str, folder_id: int | None, count: int) -> None:
        super().__init__()
        self.account = account
        self.folder_id = folder_id
        self.count = count


class SyncFinished(Message):
    """A sync ended: result on success, error (one sentence) otherwise; offline when the server was unreachable."""

    def __init__(
        self,
        account: str,
        result: SyncResult | None = None,
        error: str | None = None,
        offline: bool = False,
        busy: str = "",
    ) -> None:
        super().__init__()
        self.busy = busy  # another tui-mail process is syncing the account: "syncing in another tui-mail (pid N)"
        self.account = account
        self.result = result
        self.error = error
        self.offline = offline


class BodyFetched(Message):
    """The full message of a row is now in the cache (raw is None when the download failed)."""

    def __init__(self, account: str, message_id: int, raw: bytes | None, error: str | None = None) -> None:
        super().__init__()
        self.account = account
        self.message_id = message_id
        self.raw = raw
        self.error = error


class ActionDone(Message):
    """A local change (read, flag, move, delete) was written; the views re-read the cache."""

    def __init__(self, account: str, what: str, error: str | None = None) -> None:
        super().__init__()
        self.account = account
        self.what = what
        self.error = error


class UndoOffered(Message):
    """A message was queued with undo-send: it waits in the outbox until send_after, unless undone."""

    def __init__(self, account: str, message_id: str, send_after: int) -> None:
        super().__init__()
        self.account = account
        self.message_id = message_id
        self.send_after = send_after


class Notice(Message):
    """A one-sentence notice for the user from a worker (severity: information, warning or error)."""

    def __init__(self, text: str, severity: str = "information") -> None:
        super().__init__()
        self.text = text
        self.severity = severity
