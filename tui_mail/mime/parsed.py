"""The email parser's MIME tree (compat32: tolerant, lazy), fed the same header/body split as every other reader,
with salvage for a wrong boundary, and the decoding of its parts' payloads and text."""

from __future__ import annotations

import re
from email import errors
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from .charsets import decode_bytes, decode_header_text
from .headers import parser_input, split_message
from .htmltext import html_snippet_text, html_to_text
from .rawtree import unfold_boundary
from .sanitize import sanitize_line
from .structure import NOTE_BAD_ENCODING, Walk

_STRUCTURE_DEFECTS = (
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.NoBoundaryInMultipartDefect,
    errors.FirstHeaderLineIsContinuationDefect,
    errors.MisplacedEnvelopeHeaderDefect,
)
_ENCODING_DEFECTS = (
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64LengthDefect,
)
_BOUNDARY_GUESS = re.compile(r"(?m)^--([^\s]{1,200}?)(?:--)?[ \t]*\r?$")


class _Message(Message):
    """compat32 Message whose boundary is unfolded, as the fast path reads it (rawtree.unfold_boundary)."""

    def get_boundary(self, failobj=None):  # type: ignore[no-untyped-def]
        boundary = super().get_boundary(failobj)
        return unfold_boundary(boundary) if isinstance(boundary, str) else boundary


def _parser() -> BytesParser:
    return BytesParser(_class=_Message, policy=compat32)


def parse_bytes(raw: bytes) -> Message:
    """compat32 parse of raw, headers ending where split_offsets() says; salvages a multipart whose boundary is
    missing or wrong."""
    data = parser_input(raw)
    msg = _parser().parsebytes(data)
    if msg.get_content_maintype() == "multipart" and not msg.is_multipart():
        fixed = _salvage_multipart(data, msg)
        if fixed is not None:
            return fixed
    return msg


def _salvage_multipart(raw: bytes, msg: Message) -> Message | None:
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return None
    m = _BOUNDARY_GUESS.search(payload)
    if m is None:
        return None
    block, body = split_message(raw)
    kept: list[bytes] = []
    skipping = False
    for line in block.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(b"content-type:")
        if not skipping:
            kept.append(line)
    boundary = m.group(1).encode("utf-8", "surrogateescape").replace(b'"', b"")
    header = b"\n".join(kept).rstrip(b"\r\n") + b'\nContent-Type: multipart/mixed; boundary="' + boundary + b'"\n\n'
    fixed = _parser().parsebytes(header + (body or b""))
    if not fixed.is_multipart():
        return None
    fixed.defects.append(errors.StartBoundaryNotFoundDefect())
    return fixed


def safe_content_type(part: Message) -> str:
    """get_content_type() that never raises nor returns something without a slash."""
    try:
        ctype = part.get_content_type()
    except Exception:
        return "text/plain"
    return ctype if isinstance(ctype, str) and "/" in ctype else "application/octet-stream"


def _safe_disposition(part: Message) -> str:
    try:
        return part.get_content_disposition() or ""
    except Exception:
        return ""


def part_filename(part: Message) -> str:
    """The part's filename, decoded and sanitised; "" when it has none."""
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not isinstance(name, str) or not name:
        return ""
    return sanitize_line(decode_header_text(name[:4096]))


def embedded_subject(part: Message) -> str:
    """ "Subject.eml" for a forwarded message part, from its own Subject; "" when it has none."""
    try:
        inner = part.get_payload(0) if part.is_multipart() else None
        subject = str(inner.get("subject", "")) if isinstance(inner, Message) else ""
    except Exception:
        subject = ""
    subject = sanitize_line(decode_header_text(subject))[:80]
    return f"{subject}.eml" if subject else ""


class MsgNode:
    """A part of the email parser's tree as the walk sees it (a structure.Node)."""

    __slots__ = ("_filename", "ctype", "disposition", "part")

    def __init__(self, part: Message) -> None:
        self.part = part
        self.ctype = safe_content_type(part)
        self.disposition = _safe_disposition(part)
        self._filename: str | None = None

    def filename(self) -> str:
        if self._filename is None:
            self._filename = part_filename(self.part)
        return self._filename

    def content_id(self) -> bool:
        return bool(self.part.get("content-id"))

    def children(self) -> list[MsgNode] | None:
        payload = self.part.get_payload()
        if self.part.is_multipart() and isinstance(payload, list):
            return [MsgNode(c) for c in payload if isinstance(c, Message)]
        return None

    def blank(self) -> bool:
        payload = self.part.get_payload()
        if self.ctype.startswith("message/") and isinstance(payload, list) and len(payload) == 1:
            inner = payload[0]  # an embedded message with neither headers nor text
            if not isinstance(inner, Message) or inner.keys():
                return False
            payload = inner.get_payload()
        return isinstance(payload, str) and not payload.strip()

    def damaged(self) -> bool:
        return any(isinstance(d, _STRUCTURE_DEFECTS) for d in self.part.defects)


def walk_message(msg: Message) -> Walk:
    """The one walk over a parsed message."""
    return Walk().run(MsgNode(msg))


def decoded_payload(part: Message) -> bytes:
    """The part's payload with its transfer encoding undone (what a saved attachment contains)."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def part_text(part: Message, walk: Walk, *, for_snippet: bool = False) -> str:
    """Decoded, charset-converted text of a body part (HTML converted to text). Not sanitised."""
    data = decoded_payload(part)
    if any(isinstance(d, _ENCODING_DEFECTS) for d in part.defects):
        walk.note(NOTE_BAD_ENCODING)
    if for_snippet:
        data = data[: 64 * 1024]
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text, known = decode_bytes(data, charset)
    if not known:
        walk.note(f"Unknown charset {sanitize_line(str(charset))[:40]}; shown as UTF-8 with replacements.")
    if safe_content_type(part) == "text/html":
        text = html_snippet_text(text) if for_snippet else html_to_text(text)
    return text
