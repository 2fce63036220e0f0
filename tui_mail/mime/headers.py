"""Where a message's headers end and its body starts (one decision for every reader), and header field values."""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from datetime import datetime
from email.utils import mktime_tz, parsedate_tz

from .charsets import decode_guess
from .sanitize import sanitize_line

HEADER_VALUE_CAP = 64 * 1024  # bytes kept per header value (a megabyte-long header line is cut)
WANTED = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "reply-to",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "mime-version",
    }
)


def split_message(raw: bytes) -> tuple[bytes, bytes | None]:
    """Split raw bytes at the first empty line: (header block, body or None when there is no body at all)."""
    block_end, body_start = split_offsets(raw)
    if body_start < 0:
        return raw, None
    return raw[:block_end], (raw[body_start:] if body_start < len(raw) else None)


def split_offsets(raw: bytes, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """(end of the header block, start of the body) of raw[start:end]: the first empty line ends the headers;
    (end, -1) when there is no empty line. A message starting with an empty line has an empty header block."""
    end = len(raw) if end is None else end
    if raw.startswith(b"\n", start, end):
        return start, start + 1
    if raw.startswith(b"\r\n", start, end):
        return start, start + 2
    lo, window = start, 16384
    while True:  # growing windows: a LF-only message must not be scanned to its end for a "\n\r\n"
        hi = min(end, lo + window)
        crlf = raw.find(b"\n\r\n", lo, hi)  # first "\n" of the earliest "\n\r?\n"
        lf = raw.find(b"\n\n", lo, hi if crlf < 0 else crlf + 1)
        if lf >= 0:
            first, after = lf, lf + 2
            break
        if crlf >= 0:
            first, after = crlf, crlf + 3
            break
        if hi >= end:
            return end, -1
        lo, window = hi - 2, window * 2
    if first > start and raw[first - 1] == 13:  # the line's own \r belongs to the separator
        first -= 1
    return first, after


def header_fields(block: bytes, wanted: Iterable[str] | None = WANTED, hint: str | None = None) -> dict[str, str]:
    """First occurrence of each wanted header, unfolded, 8-bit bytes decoded (UTF-8, the hint, cp1252); not RFC 2047.

    Lenient like the envelope reader: `Name  :` counts as `Name:`, a line with no colon is ignored."""
    keep = frozenset(wanted) if wanted is not None else None
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    size = 0
    for line in block.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line[:1] in (b" ", b"\t"):
            if current is not None and size < HEADER_VALUE_CAP:
                current.append(line)
                size += len(line)
            continue
        current = None
        name, sep, value = line.partition(b":")
        if not sep:
            continue  # "From " mbox line or junk
        key = name.strip().lower().decode("latin-1")
        if (keep is not None and key not in keep) or key in fields:
            continue
        current = [value[:HEADER_VALUE_CAP]]
        size = len(current[0])
        fields[key] = current
    result: dict[str, str] = {}
    for key, parts in fields.items():
        data = b"".join(parts)[:HEADER_VALUE_CAP].strip()
        result[key] = data.decode("ascii") if data.isascii() else decode_guess(data, hint)
    return result


# Envelope headers with their (folded) values, found in "\n" + the lowercased header block; names are compared
# like header_fields() does (stripped, any case).
_ENV_FIELD = re.compile(
    rb"\n[\r\x0b\x0c]*(from|to|cc|subject|date|message-id|in-reply-to|references|content-type"
    rb"|content-transfer-encoding|content-disposition|content-id)[ \t\r\x0b\x0c]*:([^\n]*(?:\n[ \t][^\n]*)*)"
)


def field_spans(block: bytes) -> dict[bytes, tuple[int, int]]:
    """First occurrence of each envelope header in a header block: (value start, value end), the end excluding
    the line break that ends the (possibly folded) header."""
    spans: dict[bytes, tuple[int, int]] = {}
    for m in _ENV_FIELD.finditer(b"\n" + block.lower()):
        key = m.group(1)
        if key not in spans:
            start, end = m.span(2)
            spans[key] = (start - 1, end - 1)  # offsets in block (the lowered copy has one leading byte more)
    return spans


def unfolded(block: bytes, span: tuple[int, int] | None, hint: str | None = None) -> str:
    """A header value as header_fields() gives it: unfolded, stripped, 8-bit bytes decoded."""
    if span is None:
        return ""
    data = block[span[0] : span[1]]
    if b"\n" in data:
        data = data.replace(b"\r\n", b"").replace(b"\n", b"")
    data = data.strip()
    return data.decode("ascii") if data.isascii() else decode_guess(data, hint)


# A header block the email parser reads the same way: every line "name:" (printable name) or a continuation.
_HEADER_LINE_START = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_NON_HEADER_LINE = re.compile(rb"\n(?![ \t]|[\x21-\x39\x3b-\x7e]+:)")
_LENIENT_HEADER = re.compile(rb"[\x0b\x0c]*([\x21-\x39\x3b-\x7e]+)[ \t\x0b\x0c]*:")


def clean_block(block: bytes) -> bool:
    """True when the email parser splits this header block exactly like header_fields() does."""
    return (
        _HEADER_LINE_START.match(block) is not None
        and _NON_HEADER_LINE.search(block) is None
        and block.count(b"\r") == block.count(b"\r\n")
    )


def parser_input(raw: bytes) -> bytes:
    """raw rewritten so that the email parser ends the headers where split_offsets() does and reads the fields
    header_fields() reads: `Name  :` becomes `Name:`, lines that are no header are dropped, a lone CR is a space.

    Without this, a line the stdlib does not take for a header (obsolete syntax, an unindented continuation) ends
    its header block early and the rest of the headers (Received, DKIM ...) would be shown as body text."""
    block_end, body_start = split_offsets(raw)
    block = raw[:block_end]
    if not block or clean_block(block):
        return raw
    lines: list[bytes] = []
    for n, line in enumerate(block.split(b"\n")):
        if line.endswith(b"\r"):
            line = line[:-1]
        line = line.replace(b"\r", b" ")
        if line[:1] in (b" ", b"\t"):
            if lines:
                lines.append(line)
            continue
        if n == 0 and line.startswith(b"From "):
            lines.append(line)  # mbox separator: the parser keeps it as the envelope line
            continue
        m = _LENIENT_HEADER.match(line)
        if m is not None:
            lines.append(m.group(1) + b":" + line[m.end() :])
    head = b"\r\n".join(lines) + b"\r\n" if lines else b""
    return head + b"\r\n" + (raw[body_start:] if body_start >= 0 else b"")


_MSGID_TOKEN = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,998}>")
_MAX_REFERENCES = 100


def _msgid_tokens(value: str) -> list[str]:
    tokens = _MSGID_TOKEN.findall(value)
    if tokens and value.isascii():
        return tokens  # printable ASCII without spaces: sanitize_line() would return each unchanged
    if not tokens:
        bare = [t.strip("<>") for t in value.split()]
        tokens = [f"<{t}>" for t in bare if t and "@" in t and len(t) < 998]
    return [sanitize_line(t) for t in tokens]


def normalize_msgid(value: str) -> str:
    """The first Message-ID token of a header value as `<...>`, or ""."""
    tokens = _msgid_tokens(value)
    return tokens[0] if tokens else ""


def normalize_references(value: str) -> str:
    """All Message-ID tokens of a References header, `<...>` form, space-separated, duplicates dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for t in _msgid_tokens(value):
        if t not in seen:
            seen.add(t)
            out.append(t)
    if len(out) > _MAX_REFERENCES:  # keep the thread root and the most recent ancestors
        out = out[:1] + out[-(_MAX_REFERENCES - 1) :]
    return " ".join(out)


_DATE_FAST = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]*)?(\d{1,2})[ \t]+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r"[ \t]+([1-9]\d{3})[ \t]+(\d{1,2}):(\d{2})(?::(\d{2}))?[ \t]+([+-])(\d{4})(?:[ \t].*)?",
    re.ASCII,
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()
_MAX_OFFSET = 24 * 3600


@functools.lru_cache(maxsize=1024)
def _month_start(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of the month."""
    return datetime(year, month, 1).toordinal() - _EPOCH_ORDINAL


@functools.lru_cache(maxsize=1024)
def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _usable(year: int, month: int, day: int, hh: int, mi: int, ss: int, offset: int) -> bool:
    """Every field in its range (a leap second allowed): "59:10" as the time is no date, not another day."""
    return (
        1970 <= year <= 9999
        and 1 <= month <= 12
        and 1 <= day <= _month_days(year, month)
        and 0 <= hh <= 23
        and 0 <= mi <= 59
        and 0 <= ss <= 60
        and abs(offset) <= _MAX_OFFSET
    )


def parse_date(value: str) -> int:
    """RFC 5322 date -> unix seconds UTC; 0 ("no usable date") when missing, unparseable or out of range."""
    m = _DATE_FAST.fullmatch(value.strip()) if value and len(value) < 200 else None
    # The usual "Mon, 2 Nov 2026 10:00:00 +0100" form is computed directly; -0000 means local time (robust path).
    if m is not None and (m.group(8) != "0000" or m.group(7) == "+"):
        dd, mon, yy, hh, mi, ss, sign, zone = m.groups()
        offset = int(zone[:2]) * 3600 + int(zone[2:]) * 60
        if not _usable(int(yy), _MONTHS[mon], int(dd), int(hh), int(mi), int(ss or 0), offset):
            return 0
        days = _month_start(int(yy), _MONTHS[mon]) + int(dd) - 1
        ts = days * 86400 + int(hh) * 3600 + int(mi) * 60 + int(ss or 0) - (offset if sign == "+" else -offset)
        return ts if 0 <= ts < 2**40 else 0
    return parse_date_robust(value)


def parse_date_robust(value: str) -> int:
    """parse_date() through the stdlib's lenient date parser (any form it reads)."""
    if not value:
        return 0
    try:
        parsed = parsedate_tz(value[:200])
        if parsed is None:
            return 0
        year, month, day, hh, mi, ss = parsed[:6]
        if not _usable(year, month, day, hh, mi, ss, parsed[9] or 0):
            return 0
        ts = int(mktime_tz(parsed))
    except Exception:
        return 0
    return ts if 0 <= ts < 2**40 else 0


_CT_PARAM = re.compile(r'([A-Za-z0-9*_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


def content_type_of(value: str) -> tuple[str, dict[str, str]]:
    """Parse a Content-Type value cheaply: ("type/subtype" lowercased, params)."""
    main, _, rest = value.partition(";")
    ctype = main.strip().lower()
    params: dict[str, str] = {}
    for m in _CT_PARAM.finditer(rest):
        params.setdefault(m.group(1).lower(), m.group(2).strip('"'))
    return ctype, params


_CHARSET_PARAM = re.compile(rb"""(?i)charset\s*=\s*["']?([A-Za-z0-9_.:+-]{1,40})""")


def charset_hint(raw: bytes, block: bytes) -> str | None:
    """The charset the message declares for its text (top Content-Type, else the first part that names one):
    the best guess for 8-bit header bytes that are not UTF-8 (e.g. a GB2312 subject sent raw)."""
    m = _CHARSET_PARAM.search(block)
    if m is None:
        m = _CHARSET_PARAM.search(raw, len(block), len(block) + 16384)
    if m is None:
        return None
    name = m.group(1).decode("ascii").lower()
    return None if name in ("us-ascii", "utf-8", "utf8") else name
