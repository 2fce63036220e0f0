"""Frozen dataclasses shared by every layer: folders, envelopes, flags, parsed envelopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """The job of a folder, from IMAP SPECIAL-USE (RFC 6154) or its well-known name."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"
    OUTBOX = "outbox"
    NONE = ""


# Order in which folders with a role are listed (folders without a role follow, by name).
ROLE_ORDER: dict[Role, int] = {
    Role.INBOX: 0,
    Role.DRAFTS: 1,
    Role.SENT: 2,
    Role.OUTBOX: 3,
    Role.ARCHIVE: 4,
    Role.JUNK: 5,
    Role.TRASH: 6,
    Role.NONE: 9,
}

SEEN = "\\Seen"
FLAGGED = "\\Flagged"
ANSWERED = "\\Answered"
DELETED = "\\Deleted"
DRAFT = "\\Draft"


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder as the cache knows it."""

    id: int
    name: str
    delimiter: str = "/"
    role: Role = Role.NONE
    uidvalidity: int | None = None
    uidnext: int | None = None
    highestmodseq: int | None = None
    last_uid: int = 0
    total: int = 0
    unread: int = 0
    local_only: bool = False

    @property
    def display_name(self) -> str:
        """The last component of the hierarchical name ("INBOX" shown as "Inbox")."""
        if self.role is Role.INBOX:
            return "Inbox"
        leaf = self.name.rsplit(self.delimiter, 1)[-1] if self.delimiter else self.name
        return leaf or self.name


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the message list needs about one message, parsed from its headers at sync time."""

    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    date: int = 0  # unix seconds, UTC; 0 when unknown
    from_name: str = ""
    from_addr: str = ""
    to: str = ""  # display form "Name <a@b>, c@d"
    cc: str = ""
    subject: str = ""
    size: int = 0
    has_attachments: bool = False
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message row read from the cache (what the list and reader start from)."""

    id: int
    folder_id: int
    uid: int | None
    date: int
    from_name: str
    from_addr: str
    to: str
    cc: str
    subject: str
    message_id: str
    in_reply_to: str
    references: str
    flags: frozenset[str] = field(default_factory=frozenset)
    size: int = 0
    has_attachments: bool = False
    snippet: str = ""
    has_body: bool = False
    thread_depth: int = 0
    thread_id: int | None = None  # the conversation (tui_mail/store/threads.py); None before threading

    @property
    def seen(self) -> bool:
        return SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags

    @property
    def answered(self) -> bool:
        return ANSWERED in self.flags

    @property
    def sender(self) -> str:
        """Name if there is one, else the address."""
        return self.from_name or self.from_addr


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A local change waiting to be replayed on the server (RFC 4549 style)."""

    id: int
    kind: str  # "flags" | "move" | "delete" | "append"
    folder_id: int
    uid: int | None
    message_id: int | None
    args: dict[str, object]
    attempts: int = 0
    last_error: str = ""
    state: str = "queued"  # "queued" | "claimed" (a replay is sending it) | "failed" (refused for good)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A composed message waiting to be sent (or kept after a failed send)."""

    id: int
    raw: bytes
    recipients: tuple[str, ...]
    created: int
    attempts: int = 0
    last_error: str = ""
    state: str = "queued"  # queued | sending (SMTP DATA may have begun) | held (the user must decide)
    message_id: str = ""
    send_after: int = 0  # unix time before which it is not sent (undo-send, send-later); 0 = at once


@dataclass(slots=True)
class SyncProgress:
    """Progress of one account's sync, posted to whoever listens (CLI line, UI status)."""

    account: str
    stage: str = ""  # "folders" | "headers" | "bodies" | "flags" | "pop" | "send" | "done"
    folder: str = ""
    done: int = 0
    total: int = 0
    new_messages: int = 0
