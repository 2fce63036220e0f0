"""Text for the full-text index: a message's body text (quoted lines included, HTML made plain text cheaply) and its
attachments' file names, read straight from the raw bytes where possible, and capped.

The reader's renderer lays HTML out for display (inscriptis) and parses every message with the email package; the
index needs only the words, in the same body parts the reader shows (the one structure.Walk decides which), so it
reads the MIME tree from the bytes (rawtree), decodes only the text parts it indexes, and turns HTML into words by
dropping tags, scripts and styles. Only what the raw-bytes tree cannot read exactly goes through the email parser.
"""

from __future__ import annotations

import binascii
import logging
import re
from email.message import Message

from .charsets import decode_bytes
from .headers import clean_block, field_spans, split_offsets
from .htmltext import html_tree
from .parsed import MsgNode, decoded_payload, parse_bytes, part_filename, safe_content_type
from .rawtree import PartHeaders, RawPart, RawTree, Unsupported, top_headers
from .sanitize import SURROGATE_RE
from .structure import Walk

log = logging.getLogger(__name__)

# Characters of body text indexed per message. Written mail is far shorter (a long letter is ~20 KB); what goes on
# past 128 KB is logs, dumps and pasted data, whose later words nobody searches for but which would grow the index
# (and every build and sync) in proportion. The reader still shows all of it.
INDEX_TEXT_CAP = 128 * 1024
# Decoded bytes read from one body part: HTML markup is often 5-10x its text, so a part may be read further than
# the text cap before its words run out.
PART_BYTES_CAP = 1024 * 1024
# The email parser (the slow path, for structures the raw-bytes tree does not read exactly) sees at most this much
# of a message: it reads every line in Python, and attachment names lie in the part headers, not in the payloads.
ROBUST_PARSE_CAP = 8 * 1024 * 1024

_DROPPED = "//script|//style|//head|//title|//noscript|//template"
_BLOCK_TAGS = "p div br li tr td th h1 h2 h3 h4 h5 h6 table ul ol dl dt dd blockquote pre section article header footer hr".split()
_LINK_SCHEMES = ("http://", "https://", "mailto:", "ftp://", "tel:")
_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_TAG_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def index_text(raw: bytes) -> tuple[str, str]:
    """(body text, attachment file names separated by spaces) of a full raw message, for the index. Never raises."""
    try:
        fast = _fast_index_text(raw)
    except Exception:
        fast = None
    if fast is None:
        try:
            fast = _robust_index_text(raw[:ROBUST_PARSE_CAP])
        except Exception:  # a message that cannot be read is still found by its headers
            log.debug("text for the index failed", exc_info=True)
            return "", ""
    text, names = fast
    if not text.isascii():
        text = SURROGATE_RE.sub("\ufffd", text)
    return text, names


def html_index_text(html: str) -> str:
    """The words of an HTML body: text without tags, scripts and styles, entities decoded, a space at every block
    boundary (cells and paragraphs do not run into each other), link targets and image alt text kept (the reader
    shows both)."""
    try:
        tree = html_tree(html)
        if tree is None:
            return ""
        for bad in tree.xpath(_DROPPED):
            bad.drop_tree()
        extra: list[str] = []
        for el in tree.iter(*_BLOCK_TAGS, "a", "img"):
            tag = el.tag
            if tag == "a":
                href = el.get("href")
                if href and href.lower().startswith(_LINK_SCHEMES):
                    extra.append(href[:2048])
            elif tag == "img":
                alt = el.get("alt")
                if alt:
                    extra.append(alt)
            el.tail = " " + el.tail if el.tail else " "
        text = str(tree.text_content())
        return text + "\n" + " ".join(extra) if extra else text
    except Exception:
        from html import unescape

        return unescape(_TAG_RE.sub(" ", html))


def _fast_index_text(raw: bytes) -> tuple[str, str] | None:
    """index_text() from the raw-bytes tree; None when only the email parser reads the message exactly."""
    block_end, body_start = split_offsets(raw)
    if body_start < 0 or body_start >= len(raw):
        return "", ""  # no body at all
    block = raw[:block_end]
    if not block or not clean_block(block):
        return None
    tree = RawTree(raw)
    tree.cap = len(raw)  # the whole message: attachment names come after the first 256 KiB of a big one
    try:
        root = tree.build(top_headers(block, field_spans(block)), body_start, [], 0)[0]
        walk = Walk().run(_IndexPart(root))
        names = [name for found in walk.attachments if (name := found.node.filename())]
    except Unsupported:
        return None
    texts: list[str] = []
    left = INDEX_TEXT_CAP
    for node in walk.bodies:
        if left <= 0:
            break
        assert isinstance(node, _IndexPart)
        text = _raw_part_text(node.part)[:left]
        if text.strip():
            texts.append(text)
            left -= len(text)
    return "\n\n".join(texts), " ".join(names)


class _IndexPart:
    """A part of the raw-bytes tree for the index's walk: file names in the RFC 2231 form (`filename*=utf-8''...`),
    which the envelope's fast path leaves to the email parser, are decoded here instead."""

    __slots__ = ("ctype", "disposition", "part")

    def __init__(self, part: RawPart) -> None:
        self.part = part
        self.ctype = part.ctype
        self.disposition = part.disposition

    def filename(self) -> str:
        try:
            return self.part.filename()
        except Unsupported:
            return _rfc2231_filename(self.part.h)

    def content_id(self) -> bool:
        return self.part.content_id()

    def children(self) -> list[_IndexPart] | None:
        kids = self.part.children()
        return None if kids is None else [_IndexPart(k) for k in kids]

    def blank(self) -> bool:
        return self.part.blank()

    def damaged(self) -> bool:
        return False


def _rfc2231_filename(h: PartHeaders) -> str:
    """The file name of a part's content headers as the email parser reads it (parsed.part_filename)."""
    part = Message()
    if h.disposition_value is not None:
        part["Content-Disposition"] = h.disposition_value
    if h.ctype_value is not None:
        part["Content-Type"] = h.ctype_value
    return part_filename(part)


def _raw_part_text(part: RawPart) -> str:
    """The decoded text of a body part of the raw-bytes tree (at most PART_BYTES_CAP bytes of it); Unsupported when
    only the email parser decodes it."""
    raw, start, end = part.raw, part.start, part.end
    cte = part.h.cte
    if cte == "quoted-printable":
        data = binascii.a2b_qp(raw[start : min(end, start + PART_BYTES_CAP)])
    elif cte == "base64":
        # 4 characters carry 3 bytes; line breaks come every 76 characters or so
        encoded = b"".join(raw[start : min(end, start + PART_BYTES_CAP * 4 // 3 + PART_BYTES_CAP // 16)].split())
        encoded = encoded[: len(encoded) - len(encoded) % 4]
        try:
            data = binascii.a2b_base64(encoded)
        except binascii.Error:
            data = b""
    elif cte in _UUENCODE:
        raise Unsupported  # the email parser decodes it (index_text falls back to it)
    else:
        data = raw[start : min(end, start + PART_BYTES_CAP)]
    try:
        charset = part.h.param("charset")
    except Unsupported:
        charset = None
    text = decode_bytes(data, charset.lower() if charset is not None else None)[0]
    return html_index_text(text) if part.ctype == "text/html" else text


def _robust_index_text(raw: bytes) -> tuple[str, str]:
    """index_text() through the email parser (the reader's parse) for what the raw-bytes tree cannot read."""
    walk = Walk().run(MsgNode(parse_bytes(raw)))
    texts: list[str] = []
    left = INDEX_TEXT_CAP
    for node in walk.bodies:
        if left <= 0:
            break
        assert isinstance(node, MsgNode)
        part = node.part
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        text = decode_bytes(decoded_payload(part)[:PART_BYTES_CAP], charset)[0]
        if safe_content_type(part) == "text/html":
            text = html_index_text(text)
        text = text[:left]
        if text.strip():
            texts.append(text)
            left -= len(text)
    names = [name for found in walk.attachments if (name := found.node.filename())]
    return "\n\n".join(texts), " ".join(names)
