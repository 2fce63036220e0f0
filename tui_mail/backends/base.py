"""The backend interface every protocol implements, and the capabilities the UI asks about."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..models import SyncProgress

ProgressCallback = Callable[[SyncProgress], None]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an account can do; the UI hides actions an account can't do."""

    server_folders: bool  # folders live on the server (IMAP) rather than only in the cache (POP3)
    move: bool  # messages can be moved between folders
    server_flags: bool  # read/flag state is kept on the server
    idle: bool = False  # push (IMAP IDLE)
    server_search: bool = False


@dataclass(slots=True)
class SyncResult:
    """What one sync did, for the CLI line and the UI notification."""

    new_messages: int = 0
    folders: int = 0
    removed: int = 0
    flag_changes: int = 0
    actions_replayed: int = 0
    warnings: list[str] = field(default_factory=list)


class Backend(Protocol):
    """One account's connection to its incoming server, used by one thread at a time."""

    capabilities: Capabilities

    def sync(self, progress: ProgressCallback | None = None) -> SyncResult:
        """Replay pending local changes, then bring the cache up to date with the server."""
        ...

    def fetch_body(self, message_id: int) -> bytes:
        """Download (and cache) the full message of a cached row whose body is not cached yet."""
        ...

    def save_sent(self, raw: bytes) -> int | None:
        """Keep a copy of a message that was just sent (IMAP: APPEND to Sent with \\Seen; POP3: local Sent)."""
        ...

    def save_draft(self, raw: bytes) -> int | None:
        """Keep a draft (IMAP: APPEND to Drafts with \\Draft \\Seen; POP3: local Drafts)."""
        ...

    def close(self) -> None:
        """Log out and close the connection; safe to call twice."""
        ...
