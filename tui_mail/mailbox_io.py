"""Reading and writing Maildir and mbox (mboxrd out; mboxo and mboxrd in) byte for byte, with flags."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO

from .models import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

# Maildir info flags (https://cr.yp.to/proto/maildir.html), kept in ASCII order as the spec asks.
_MAILDIR_FLAGS = {"D": DRAFT, "F": FLAGGED, "R": ANSWERED, "S": SEEN, "T": DELETED}
_TO_MAILDIR = {v: k for k, v in _MAILDIR_FLAGS.items()}
# mbox: Status (R read, O old) and X-Status (A answered, F flagged, T draft, D deleted), as mutt writes them.
_X_STATUS = {"A": ANSWERED, "F": FLAGGED, "T": DRAFT, "D": DELETED}
_TO_X_STATUS = {v: k for k, v in _X_STATUS.items()}
_BATCH = 1000  # Maildir files written before one sync makes them durable and they are renamed into cur/
_FROM_LINE = re.compile(rb"^>*From ")
_STATUS_HEADER = re.compile(rb"^(X-)?Status:[ \t]*([A-Za-z]*)[ \t]*\r?\n", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MailboxMessage:
    """One message of a Maildir or mbox: its bytes as stored and its flags."""

    raw: bytes
    flags: frozenset[str]


class MailboxFormatError(Exception):
    """SOURCE is neither a Maildir nor an mbox file (one sentence saying why)."""


# -- Maildir ---------------------------------------------------------------------------------------------------------


def maildir_flags(flags: Iterable[str]) -> str:
    """The info part ("2,FS") of a Maildir file name for these flags."""
    return "2," + "".join(sorted(_TO_MAILDIR[f] for f in set(flags) if f in _TO_MAILDIR))


class MaildirWriter:
    """Writes messages into a Maildir (made if missing): tmp/ then renamed into cur/ with flags in the name.

    File names are derived from the message bytes and flags, so exporting the same mail twice writes no copies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
        self._existing = {n.split(":", 1)[0] for n in os.listdir(path / "cur")}
        self._pending: list[tuple[Path, Path]] = []

    def add(self, raw: bytes, flags: Iterable[str], date: int = 0) -> bool:
        """Store one message; False when the same bytes are there already. Files reach cur/ in batches, each
        only after its data is on disk (one sync per batch rather than one fsync per file)."""
        digest = hashlib.sha256(raw).hexdigest()[:24]
        unique = f"{date}.M{digest}.{self._host}"
        if unique in self._existing:
            return False
        tmp = self.path / "tmp" / unique
        with open(tmp, "wb") as f:
            f.write(raw)
        if date:
            os.utime(tmp, (date, date))
        self._pending.append((tmp, self.path / "cur" / f"{unique}:{maildir_flags(flags)}"))
        self._existing.add(unique)
        if len(self._pending) >= _BATCH:
            self.flush()
        return True

    def flush(self) -> None:
        """Make the written files durable, then move them into cur/ (a crash leaves whole files or none)."""
        if not self._pending:
            return
        os.sync()
        for tmp, final in self._pending:
            os.replace(tmp, final)
        self._pending = []
        fd = os.open(self.path / "cur", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.flush()


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def read_maildir(path: Path) -> Iterator[MailboxMessage]:
    """Messages of a Maildir: new/ (unread, no flags) then cur/ (flags from the name), in name order."""
    for sub in ("new", "cur"):
        for name in sorted(os.listdir(path / sub)):
            if name.startswith("."):
                continue
            flags: set[str] = set()
            _, sep, info = name.partition(":")
            if sep and info.startswith("2,"):
                flags = {_MAILDIR_FLAGS[c] for c in info[2:] if c in _MAILDIR_FLAGS}
            with open(path / sub / name, "rb") as f:
                yield MailboxMessage(f.read(), frozenset(flags))


# -- mbox --------------------------------------------------------------------------------------------------------------


def _newline(raw: bytes) -> bytes:
    end = raw.find(b"\n")
    return b"\r\n" if end > 0 and raw[end - 1 : end] == b"\r" else b"\n"


def _from_line(raw: bytes, date: int) -> bytes:
    """ "From sender asctime" for the separator line (sender from Return-Path or From, else MAILER-DAEMON)."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    sender = ""
    for name in (b"return-path:", b"from:"):
        for line in head.splitlines():
            if line.lower().startswith(name):
                sender = parseaddr(line[len(name) :].decode("ascii", "replace").strip())[1]
                break
        if sender:
            break
    sender = re.sub(r"\s", "", sender) or "MAILER-DAEMON"
    when = time.asctime(time.gmtime(date or time.time()))
    return f"From {sender} {when}\n".encode("ascii", "replace")


class MboxWriter:
    """Appends messages to an mboxrd file: a From_ line, Status/X-Status headers first (the flags), every line that
    looks like a From_ line (">*From ") quoted with one more ">", and a blank line after each message."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = open(path, "ab")

    def add(self, raw: bytes, flags: Iterable[str], date: int = 0) -> bool:
        flags = set(flags)
        nl = _newline(raw)
        status = ("R" if SEEN in flags else "") + "O"
        x_status = "".join(sorted(k for f, k in _TO_X_STATUS.items() if f in flags))
        out = [_from_line(raw, date), b"Status: " + status.encode() + nl, b"X-Status: " + x_status.encode() + nl]
        for line in raw.splitlines(keepends=True):
            out.append(b">" + line if _FROM_LINE.match(line) else line)
        if not raw.endswith(b"\n"):
            out.append(nl)
        out.append(b"\n")
        self._file.write(b"".join(out))
        return True

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def is_mbox(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        start = f.read(5)
    return start in (b"From ", b"")


def _mbox_chunks(path: Path, chunk: int = 1 << 22) -> Iterator[bytes]:
    """The text between From_ lines (each From_ line itself dropped), read in large blocks: memory stays at
    about one block plus the largest message. Anything before the first From_ line is not a message."""
    with open(path, "rb") as f:
        buf = b"\n"  # a line end before the first From_ line, so every separator is "\nFrom "
        start = -1  # where the current message's text starts in buf (-1: before the first From_ line)
        pos = 0  # where to look for the next separator
        eof = False
        while True:
            cut = buf.find(b"\nFrom ", pos)
            if cut >= 0:
                nl = buf.find(b"\n", cut + 1)
                if nl < 0 and not eof:  # the From_ line goes on in the next block
                    more = f.read(chunk)
                    eof = not more
                    buf, pos = buf + more, cut
                    continue
                if start >= 0:
                    yield buf[start : cut + 1]
                if nl < 0:
                    return
                start, pos = nl + 1, nl  # from the From_ line's own line end (an empty message is one)
                continue
            if eof:
                if start >= 0 and start < len(buf):
                    yield buf[start:]
                return
            more = f.read(chunk)
            eof = not more
            drop = start - 1 if start >= 1 else max(0, len(buf) - 6)
            pos = max(0, len(buf) - drop - 6)
            buf = buf[drop:] + more
            if start >= 1:
                start -= drop


_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def read_mbox(path: Path) -> Iterator[MailboxMessage]:
    """Messages of an mbox file, split at From_ lines (Content-Length is not trusted). mboxrd and mboxo alike: one
    ">" is taken from quoted From_ lines; flags come from Status/X-Status, and the two lines tui-mail's export puts
    first are removed again, so an exported message comes back byte for byte."""
    for text in _mbox_chunks(path):
        if b">From " in text:  # most messages have no quoted line: skip the regex pass
            text = _QUOTED_FROM.sub(rb"\1", text)
        yield _mbox_message(text.splitlines(keepends=True))


def _mbox_message(lines: list[bytes]) -> MailboxMessage:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]  # the blank line before the next From_ belongs to the mbox, not the message
    flags: set[str] = set()
    ours = len(lines) >= 2 and lines[0].startswith(b"Status: ") and lines[1].startswith(b"X-Status: ")
    for line in lines:
        if line in (b"\n", b"\r\n"):
            break
        m = _STATUS_HEADER.match(line)
        if m is None:
            continue
        letters = m.group(2).decode("ascii", "replace")
        if m.group(1):
            flags |= {_X_STATUS[c] for c in letters if c in _X_STATUS}
        elif "R" in letters:
            flags.add(SEEN)
    if ours:
        lines = lines[2:]
    return MailboxMessage(b"".join(lines), frozenset(flags))


def read_mailbox(path: Path) -> Iterator[MailboxMessage]:
    """Messages of a Maildir or an mbox file; MailboxFormatError for anything else."""
    if is_maildir(path):
        return read_maildir(path)
    if is_mbox(path):
        return read_mbox(path)
    if not path.exists():
        raise MailboxFormatError(f"{path} does not exist.")
    raise MailboxFormatError(f"{path} is neither a Maildir (with cur/ and new/) nor an mbox file.")


def header_date(raw: bytes) -> int:
    """Unix time of the Date header, 0 when missing or unreadable (only for file names and From_ lines)."""
    m = re.search(rb"^Date:[ \t]*(.+?)\r?$", raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0], re.M | re.I)
    if m is None:
        return 0
    try:
        return int(parsedate_to_datetime(m.group(1).decode("ascii", "replace")).timestamp())
    except (TypeError, ValueError, IndexError):
        return 0
