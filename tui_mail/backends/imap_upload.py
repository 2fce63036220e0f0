"""Uploading whole messages to an IMAP folder once: what the folder holds already, APPEND, and the UID it got."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ..errors import ProtocolError, describe
from .imap_folders import FolderGone, appenduid

if TYPE_CHECKING:
    from .imap import ImapBackend

_MSGID = re.compile(rb"^Message-ID:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)
_DATE = re.compile(rb"^Date:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)
_FETCH_CHUNK = 500


def fingerprint(message_id: str, date_header: str, size: int) -> str:
    """What identifies a message in a folder: its Message-ID, or (no Message-ID) its Date header and size."""
    return message_id.strip() or f"{date_header.strip()}|{size}"


def _header(block: bytes, pattern: re.Pattern[bytes]) -> str:
    m = pattern.search(block)
    return m.group(1).decode("utf-8", "replace").strip() if m else ""


def message_fingerprint(raw: bytes) -> str:
    """fingerprint() of a message as it will look on the server (RFC822.SIZE counts lines ending in CRLF)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    size = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
    return fingerprint(_header(head, _MSGID), _header(head, _DATE), size)


class ImapUploader:
    """APPENDs messages to folders of one IMAP account, never twice: what a folder holds is listed once (Message-ID,
    or Date and size when there is none), and every APPEND is confirmed by APPENDUID or a UID SEARCH."""

    def __init__(self, backend: ImapBackend) -> None:
        self.backend = backend
        self._held: dict[str, dict[str, int]] = {}  # folder -> fingerprint -> uid
        self._validity: dict[str, int] = {}
        self.separator = "/"  # the personal namespace's hierarchy separator, once folder_name() asked

    def folder_name(self, *parts: str) -> str:
        """A folder name in the account's personal namespace from its parts ("Old POP", "Inbox")."""
        self.backend._guard(self.backend.connect)  # capabilities first: NAMESPACE is asked only when offered
        prefix, sep = self.backend._guard(self.backend._personal_namespace)
        sep = self.separator = sep or "/"
        return prefix + sep.join(p.replace(sep, "-") for p in parts if p)

    def ensure_folder(self, name: str) -> None:
        """Create the folder on the server when it is missing (ProtocolError when the server refuses)."""

        def run() -> None:
            c = self.backend._c
            if c.folder_exists(name):
                return
            try:
                c.create_folder(name)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                if not c.folder_exists(name):
                    raise ProtocolError(f"The server refused to create the folder {name} ({describe(e)}).") from None
            try:
                c.subscribe_folder(name)
            except IMAPClientAbortError:
                raise
            except IMAPClientError:
                pass

        self.backend._guard(run)

    def held(self, name: str) -> dict[str, int]:
        """fingerprint -> UID of what the server folder holds (listed once per folder and kept current)."""
        if name in self._held:
            return self._held[name]

        def run() -> dict[str, int]:
            try:
                info = self.backend._select(name, readonly=True)
            except FolderGone:
                raise ProtocolError(f"The folder {name} does not exist on the server.") from None
            self._validity[name] = int(info.get(b"UIDVALIDITY", 0) or 0)
            c = self.backend._c
            uids = sorted(c.search(["ALL"]))
            out: dict[str, int] = {}
            for i in range(0, len(uids), _FETCH_CHUNK):
                data = c.fetch(
                    uids[i : i + _FETCH_CHUNK], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE)]", "RFC822.SIZE"]
                )
                for uid, item in data.items():
                    block = bytes(item.get(b"BODY[HEADER.FIELDS (MESSAGE-ID DATE)]") or b"")
                    key = fingerprint(_header(block, _MSGID), _header(block, _DATE), int(item.get(b"RFC822.SIZE", 0)))
                    out.setdefault(key, uid)
            return out

        self._held[name] = self.backend._guard(run)
        return self._held[name]

    def uidvalidity(self, name: str) -> int:
        self.held(name)
        return self._validity[name]

    def upload(self, name: str, raw: bytes, flags: Iterable[str], date: int = 0) -> tuple[int | None, bool]:
        """Put the message into the folder unless it is there already. Returns (its UID when known, whether it was
        APPENDed now); a server that refuses it raises ProtocolError."""
        key = message_fingerprint(raw)
        held = self.held(name)
        if key in held:
            return held[key], False

        def run() -> int | None:
            c = self.backend._c
            when = datetime.fromtimestamp(date, UTC) if date else None
            try:
                resp = c.append(name, raw, flags=sorted(f for f in flags if f != "\\Recent"), msg_time=when)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                raise ProtocolError(f"The server refused to store a message in {name} ({describe(e)}).") from None
            got = appenduid(resp)
            if got is not None:
                self._validity[name] = got[0]
                return got[1]
            msgid = _header(raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0], _MSGID)
            if not msgid:
                return None
            self.backend._select(name, readonly=True)
            found = c.search(["HEADER", "Message-ID", msgid])
            return max(found) if found else None

        uid: int | None = self.backend._guard(run)
        held[key] = uid or 0
        return uid, True
