"""The reader's view of a message: one parse shared by display, attachment saving, reply and forward."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from .addresses import format_addresses, parse_addresses, sender_warning
from .charsets import decode_guess, decode_header_text
from .headers import WANTED, charset_hint, header_fields, parse_date, split_message
from .parsed import MsgNode, decoded_payload, embedded_subject, parse_bytes, part_text, walk_message
from .sanitize import fallback_name, safe_filename, sanitize_line, sanitize_text
from .structure import NOTE_UNPARSEABLE, Found, Walk

_TEXT_CAP = 2 * 1024 * 1024
_RAW_FALLBACK_CAP = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment as the reader lists it; `index` is what attachment_bytes() takes."""

    index: int
    filename: str  # safe_filename() applied, never empty
    content_type: str
    size: int  # decoded size (estimated from the encoded length for base64)


@dataclass(slots=True)
class RenderedMessage:
    """A message ready to display: every string is sanitised plain text (never markup)."""

    headers: dict[str, str]  # From, To, Cc, Date, Subject (always present, may be "")
    text: str
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sender_warning: str = ""  # set when the sender's name pretends to be another address (also the first note)


def format_local_date(ts: int) -> str:
    """Unix seconds -> readable local time ("Mon, 23 Nov 2026 10:05"), "" for 0."""
    if not ts:
        return ""
    try:
        return datetime.fromtimestamp(ts).astimezone().strftime("%a, %d %b %Y %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


_QUOTE_PREFIX = re.compile(r"[ \t]{0,3}(?:>[ \t]?)+")


def quote_depth(line: str) -> int:
    """How many '>' quote markers a line starts with ("> > x" and ">> x" are both 2)."""
    m = _QUOTE_PREFIX.match(line)
    return m.group().count(">") if m else 0


def _estimated_size(part: Message) -> int:
    payload = part.get_payload()
    if isinstance(payload, list):
        return sum(_estimated_size(p) for p in payload if isinstance(p, Message))
    if not isinstance(payload, str):
        return 0
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        stripped = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return max(0, stripped * 3 // 4 - payload.rstrip().count("=", -2))
    return len(payload)


def _found_part(found: Found) -> Message:
    node = found.node
    assert isinstance(node, MsgNode)
    return node.part


class ParsedMessage:
    """One parse of a raw message: its header fields, its MIME walk, and (on demand) its rendering."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        block, _body = split_message(raw)
        self.hint = None if block.isascii() else charset_hint(raw, block)
        try:
            self.fields = header_fields(block, WANTED, self.hint)
        except Exception:
            self.fields = {}
        self.walk: Walk | None
        try:
            self.walk = walk_message(parse_bytes(raw))
        except Exception:  # RecursionError, parser bugs on pathological input
            self.walk = None
        self._rendered: RenderedMessage | None = None
        self._lock = threading.Lock()

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """The (name, address) pairs of an address header ("from", "to", "cc", "reply-to")."""
        return parse_addresses(self.fields.get(name, ""), self.hint)

    def subject(self) -> str:
        """The decoded, sanitised subject."""
        return sanitize_line(decode_header_text(self.fields.get("subject", ""), self.hint))[:2000]

    def display_headers(self) -> dict[str, str]:
        """From, To, Cc, Date, Subject for display."""
        date = self.fields.get("date", "")
        return {
            "From": format_addresses(self.addresses("from")),
            "To": format_addresses(self.addresses("to")),
            "Cc": format_addresses(self.addresses("cc")),
            "Date": format_local_date(parse_date(date)) or sanitize_line(date)[:100],
            "Subject": self.subject(),
        }

    def attachments(self) -> list[Attachment]:
        """The attachments as the reader lists them."""
        out: list[Attachment] = []
        for i, att in enumerate(self.walk.attachments if self.walk else []):
            part = _found_part(att)
            name = att.node.filename()
            if not name and att.content_type.startswith("message/"):
                name = embedded_subject(part)
            name = safe_filename(name) if name else fallback_name(i, att.content_type)
            out.append(Attachment(i, name, sanitize_line(att.content_type), _estimated_size(part)))
        return out

    def attachment_bytes(self, index: int) -> bytes:
        """Decoded payload of attachment `index` as listed; IndexError if there is no such one."""
        found = self.walk.attachments if self.walk else []
        if not 0 <= index < len(found):
            raise IndexError(f"The message has no attachment number {index + 1}.")
        part = _found_part(found[index])
        if found[index].content_type.startswith("message/"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                inner = payload[0]
                try:
                    return inner.as_bytes()
                except Exception:
                    return inner.as_string().encode("utf-8", "surrogateescape")
        return decoded_payload(part)

    def rendered(self) -> RenderedMessage:
        """The message for the reader (computed once). Never raises: falls back to the raw text with a note."""
        with self._lock:
            if self._rendered is None:
                self._rendered = self._render()
            return self._rendered

    def _render(self) -> RenderedMessage:
        try:
            headers = self.display_headers()
        except Exception:
            headers = dict.fromkeys(("From", "To", "Cc", "Date", "Subject"), "")
        sender = self.addresses("from")
        warning = sender_warning(*sender[0]) if sender else ""
        reply_to = self.addresses("reply-to")
        if not warning and reply_to:
            warning = sender_warning(*reply_to[0]).replace("the sender's name", "the Reply-To name")
        try:
            if self.walk is None:
                raise ValueError("unparseable")
            text = self._body_text(self.walk)
            notes = ([warning] if warning else []) + list(self.walk.notes)
            return RenderedMessage(headers, text, self.attachments(), notes, warning)
        except Exception:
            text = sanitize_text(decode_guess(self.raw[:_RAW_FALLBACK_CAP]))
            notes = ([warning] if warning else []) + [NOTE_UNPARSEABLE]
            return RenderedMessage(headers, text, [], notes, warning)

    @staticmethod
    def _body_text(walk: Walk) -> str:
        texts: list[str] = []
        for node in list(walk.bodies):
            assert isinstance(node, MsgNode)
            texts.append(part_text(node.part, walk).strip("\n"))
        text = "\n\n".join(t for t in texts if t.strip())
        if len(text) > _TEXT_CAP:
            text = text[:_TEXT_CAP]
            walk.note("The message text is very long; only its beginning is shown.")
        return sanitize_text(text)


_RECENT: OrderedDict[bytes, ParsedMessage] = OrderedDict()
_RECENT_MAX = 4
_RECENT_MAX_BYTES = 32 * 1024 * 1024  # a bigger message is parsed again rather than kept
_RECENT_LOCK = threading.Lock()


def parse_message(raw: bytes) -> ParsedMessage:
    """The parse of raw, shared with the last few callers: opening, saving an attachment, replying and forwarding
    the same message parse it once."""
    with _RECENT_LOCK:
        found = _RECENT.get(raw)
        if found is not None:
            _RECENT.move_to_end(raw)
            return found
    parsed = ParsedMessage(raw)
    if len(raw) > _RECENT_MAX_BYTES:
        return parsed
    with _RECENT_LOCK:
        _RECENT[raw] = parsed
        while len(_RECENT) > _RECENT_MAX:
            _RECENT.popitem(last=False)
    return parsed


def render_message(raw: bytes) -> RenderedMessage:
    """Parse a full message for the reader. Never raises: falls back to the raw text with a note."""
    return parse_message(raw).rendered()


def attachment_bytes(raw: bytes, index: int) -> bytes:
    """Decoded payload of attachment `index` as listed by render_message(); IndexError if there is no such one."""
    return parse_message(raw).attachment_bytes(index)
