"""What the message list needs at sync time (sender, subject, date, threading ids, paperclip, snippet), fast.

The fast path reads fields by regex and the MIME tree from the raw bytes; the robust path (the reference) uses the
lenient header reader and the email parser. Both make their body/attachment decisions through structure.Walk.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TypeVar

from ..models import Envelope
from .addresses import CACHED_VALUE_LEN, format_addresses, parse_addresses, parse_addresses_robust
from .charsets import decode_header_text
from .headers import (
    HEADER_VALUE_CAP,
    charset_hint,
    content_type_of,
    field_spans,
    header_fields,
    normalize_msgid,
    normalize_references,
    parse_date,
    parse_date_robust,
    split_message,
    split_offsets,
    unfolded,
)
from .rawtree import SNIPPET_PARSE_CAP, RawPart, Unsupported, raw_tree
from .sanitize import plain_words, sanitize_line
from .structure import Found, Node, StopWalk, Walk

_T = TypeVar("_T")
SNIPPET_CHARS = 200


def parse_envelope(raw: bytes, size: int | None = None) -> Envelope:
    """What the message list needs, from a header-only block or a full message. Never raises; fast."""
    size_value = size if size is not None else len(raw)
    try:
        return _parse_envelope(raw, size_value)
    except Exception:
        try:
            return parse_envelope_robust(raw, size_value)
        except Exception:
            return Envelope(size=size_value)


def _parse_envelope(raw: bytes, size: int) -> Envelope:
    block_end, body_start = split_offsets(raw)
    block = raw[:block_end]
    spans = field_spans(block)
    if len(block) > HEADER_VALUE_CAP and any(end - start > HEADER_VALUE_CAP for start, end in spans.values()):
        return parse_envelope_robust(raw, size)  # a huge header: let the capping splitter handle it
    hint = None if block.isascii() else charset_hint(raw, block)
    from_name, from_addr = _from_field(block, spans.get(b"from"), hint)
    has_attachments = False
    snippet = ""
    if 0 <= body_start < len(raw):
        try:
            summary = _fast_body_summary(raw, block, spans, body_start)
            if summary is None:
                has_attachments, snippet = body_summary(raw)
            else:
                has_attachments, snippet = summary
        except Exception:
            has_attachments, snippet = False, ""
        if not has_attachments and len(raw) > SNIPPET_PARSE_CAP and _top_ctype(block, spans).startswith("multipart/"):
            has_attachments = _LATE_ATTACHMENT.search(raw, SNIPPET_PARSE_CAP) is not None
    return Envelope(
        message_id=normalize_msgid(unfolded(block, spans.get(b"message-id"))),
        in_reply_to=normalize_msgid(unfolded(block, spans.get(b"in-reply-to"))),
        references=normalize_references(unfolded(block, spans.get(b"references"))),
        date=parse_date(unfolded(block, spans.get(b"date"))),
        from_name=from_name,
        from_addr=from_addr,
        to=_addresses_field(block, spans.get(b"to"), hint),
        cc=_addresses_field(block, spans.get(b"cc"), hint),
        subject=_subject_field(block, spans.get(b"subject"), hint),
        size=size,
        has_attachments=has_attachments,
        snippet=snippet,
    )


def _top_ctype(block: bytes, spans: dict[bytes, tuple[int, int]]) -> str:
    """content_type_of(...)[0] of the message's Content-Type."""
    return unfolded(block, spans.get(b"content-type")).partition(";")[0].strip().lower()


def _first_address(value: str, hint: str | None) -> tuple[str, str]:
    pairs = parse_addresses(value, hint)
    return pairs[0] if pairs else ("", "")


def _display_addresses(value: str, hint: str | None) -> str:
    return format_addresses(parse_addresses(value, hint)) if value else ""


def _subject(value: str, hint: str | None) -> str:
    return sanitize_line(decode_header_text(value, hint))[:1000]


def _cached_field(
    parse: Callable[[str, str | None], _T],
) -> Callable[[bytes, tuple[int, int] | None, str | None], _T]:
    """parse(unfolded(block, span)), remembered by the raw header bytes (and charset hint) for short values."""

    @functools.lru_cache(maxsize=2048)
    def cached(data: bytes, hint: str | None) -> _T:
        return parse(unfolded(data, (0, len(data)), hint), hint)

    def field(block: bytes, span: tuple[int, int] | None, hint: str | None) -> _T:
        if span is not None and span[1] - span[0] <= CACHED_VALUE_LEN:
            return cached(block[span[0] : span[1]], hint)
        return parse(unfolded(block, span, hint), hint)

    return field


_from_field = _cached_field(_first_address)
_addresses_field = _cached_field(_display_addresses)
_subject_field = _cached_field(_subject)


def parse_envelope_robust(raw: bytes, size: int) -> Envelope:
    """The reference implementation of parse_envelope: lenient header reader, email parser for the body."""
    block, body = split_message(raw)
    hint = None if block.isascii() else charset_hint(raw, block)
    h = header_fields(block, hint=hint)
    from_pairs = parse_addresses_robust(h.get("from", ""), hint)
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    subject = sanitize_line(decode_header_text(h.get("subject", ""), hint))[:1000]
    ctype, _params = content_type_of(h.get("content-type", ""))
    has_attachments = False
    snippet = ""
    if body is not None:
        try:
            has_attachments, snippet = body_summary(raw)
        except Exception:
            has_attachments, snippet = False, ""
        if not has_attachments and len(raw) > SNIPPET_PARSE_CAP and ctype.startswith("multipart/"):
            has_attachments = _LATE_ATTACHMENT.search(raw, SNIPPET_PARSE_CAP) is not None
    return Envelope(
        message_id=normalize_msgid(h.get("message-id", "")),
        in_reply_to=normalize_msgid(h.get("in-reply-to", "")),
        references=normalize_references(h.get("references", "")),
        date=parse_date_robust(h.get("date", "")),
        from_name=from_name,
        from_addr=from_addr,
        to=format_addresses(parse_addresses_robust(h.get("to", ""), hint)),
        cc=format_addresses(parse_addresses_robust(h.get("cc", ""), hint)),
        subject=subject,
        size=size,
        has_attachments=has_attachments,
        snippet=snippet,
    )


_LATE_ATTACHMENT = re.compile(
    rb"(?im)^content-disposition:[ \t]*attachment|^content-type:[ \t]*(?:application|image|audio|video)/"
)


def body_summary(raw: bytes) -> tuple[bool, str]:
    """(has_attachments, snippet) through the email parser, parsing at most the first 256 KiB."""
    from .parsed import MsgNode, parse_bytes, part_text  # the email package: only for what rawtree cannot read

    walk = Walk().run(MsgNode(parse_bytes(raw[:SNIPPET_PARSE_CAP])))
    snippet = ""
    for node in walk.bodies:
        assert isinstance(node, MsgNode)
        text = part_text(node.part, walk, for_snippet=True)
        snippet = sanitize_line(strip_quoted(text[:_SNIPPET_TEXT_CAP]))[:SNIPPET_CHARS]
        if snippet:
            break
    return walk.has_attachments, snippet


def _fast_body_summary(
    raw: bytes, block: bytes, spans: dict[bytes, tuple[int, int]], body_start: int
) -> tuple[bool, str] | None:
    """body_summary() from the raw-bytes tree, or None when only the email parser can tell."""
    root = raw_tree(raw, block, spans, body_start)
    if root is None:
        return None
    walk = _SummaryWalk()
    try:
        walk.run(root)
    except Unsupported:
        return None
    return walk.has_attachments, walk.snippet


class _SummaryWalk(Walk):
    """The walk, stopped as soon as the list knows the snippet (first non-empty body) and that there is an
    attachment: nothing later in the message can change either."""

    snippet = ""

    def found_body(self, node: Node) -> None:
        super().found_body(node)
        if not self.snippet:
            assert isinstance(node, RawPart)
            self.snippet = make_snippet(node.text())
            self._enough()

    def found_attachment(self, found: Found) -> None:
        super().found_attachment(found)
        self._enough()

    def _enough(self) -> None:
        if self.snippet and self.has_attachments:
            raise StopWalk


_SNIPPET_TEXT_CAP = SNIPPET_CHARS * 40
_SNIPPET_PREFIXES = (400, 2400)


def make_snippet(text: str) -> str:
    """The list snippet of a body text: unquoted lines, whitespace collapsed, sanitised, at most 200 characters.

    Same result as sanitize_line(strip_quoted(text[:8000]))[:200], usually from just the first few lines: they are
    cut at a line break (escape sequences and line breaks never span one), so their words begin the whole result.
    """
    text = text[:_SNIPPET_TEXT_CAP]
    for size in _SNIPPET_PREFIXES:
        if len(text) <= size:
            break
        cut = text.rfind("\n", 0, size)
        if cut <= 0:
            continue
        head = text[: cut + 1]
        if ">" not in head:
            words = plain_words(head)  # no quoted line and nothing to neutralise: the lines are the words
            if words is not None:
                if len(words) >= SNIPPET_CHARS:
                    return words[:SNIPPET_CHARS]
                continue
        kept, unquoted = _strip_quoted_lines(head)
        if unquoted:
            snippet = sanitize_line(kept)
            if len(snippet) >= SNIPPET_CHARS:
                return snippet[:SNIPPET_CHARS]
    if ">" not in text:
        words = plain_words(text)
        if words is not None:
            return words[:SNIPPET_CHARS]
    kept, unquoted = _strip_quoted_lines(text)
    return sanitize_line(kept if unquoted else text)[:SNIPPET_CHARS]


def strip_quoted(text: str) -> str:
    """text without its quoted ('>') lines, unless that leaves nothing."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    return "\n".join(lines) if any(ln.strip() for ln in lines) else text


def _strip_quoted_lines(text: str) -> tuple[str, bool]:
    """(the lines not starting with '>' joined by \\n, whether any of them is not blank)."""
    lines = text.splitlines()
    if ">" in text:
        lines = [ln for ln in lines if not ln.lstrip().startswith(">")]
    kept = "\n".join(lines)
    return kept, bool(kept.strip())  # some kept line is not blank
