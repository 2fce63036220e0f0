"""Untrusted mail bytes -> safe displayable parts (envelope, body text, attachments), and reply/forward/new messages."""

from __future__ import annotations

import binascii
import codecs
import functools
import mimetypes
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import errors
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import SMTP, compat32
from email.utils import format_datetime, getaddresses, make_msgid, mktime_tz, parseaddr, parsedate_tz
from html import unescape
from typing import Any, TypeVar

from .models import Envelope

_T = TypeVar("_T")

# ---------------------------------------------------------------------------------------------------------------------
# Terminal safety
# ---------------------------------------------------------------------------------------------------------------------

# Whole escape sequences (7-bit ESC forms and their 8-bit C1 equivalents). String-type sequences (OSC, DCS, SOS, PM,
# APC) run to their terminator (BEL or ST); an unterminated one is cut at the end of the line.
_ESCAPE_SEQ = re.compile(
    r"""
    \x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?                    # OSC/DCS/SOS/PM/APC ... BEL|ST
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)             # 8-bit forms, terminated only
    | (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                                         # CSI params intermediates final
    | \x1b[ -/]*[0-~]?                                                         # nF/Fp/Fe/Fs two-byte escapes
    """,
    re.VERBOSE,
)

# Single characters that must not reach a terminal: C0 (except \t \n), DEL, C1, bidi controls, invisible format
# characters that can spoof text, BOM, interlinear annotations, and lone surrogates (undecodable bytes).
_BAD_CHARS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff"
)
_BAD_CHAR_RE = re.compile(f"[{_BAD_CHARS}]")
_NEEDS_WORK = re.compile(f"[\\r\\u2028\\u2029{_BAD_CHARS}]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _drop_bad_char(m: re.Match[str]) -> str:
    return "\ufffd" if "\ud800" <= m.group() <= "\udfff" else ""


def sanitize_text(s: str) -> str:
    """Make untrusted text inert for a terminal; keeps newlines and tabs, never touches markup-like brackets.

    Removes ANSI/OSC/DCS escape sequences whole, all other C0/C1 controls, bidi overrides/isolates and invisible
    format characters; \\r\\n becomes \\n, a lone \\r is dropped, U+2028/U+2029 become \\n, lone surrogates
    (undecodable bytes) become U+FFFD.
    """
    if not s or not _NEEDS_WORK.search(s):
        return s
    if "\x1b" in s or any(c in s for c in "\x90\x98\x9b\x9d\x9e\x9f"):
        s = _ESCAPE_SEQ.sub("", s)
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "")
    if "\u2028" in s or "\u2029" in s:
        s = s.replace("\u2028", "\n").replace("\u2029", "\n")
    return _BAD_CHAR_RE.sub(_drop_bad_char, s)


def sanitize_line(s: str) -> str:
    """sanitize_text for one-line fields (headers, snippets): every run of whitespace becomes one space, trimmed."""
    if s.isascii() and s.isprintable():  # nothing to neutralise (the common case)
        return " ".join(s.split())
    words = _plain_words(s)
    return words if words is not None else " ".join(sanitize_text(s).split())


# Whitespace that sanitize_text() removes (instead of keeping some whitespace in its place); \r only when alone.
_DROPPED_SPACES = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85")


def _plain_words(s: str) -> str | None:
    """The words of s joined by single spaces, when that is exactly sanitize_line(s); else None."""
    if "\r" in s and s.count("\r") != s.count("\r\n"):
        return None
    for c in _DROPPED_SPACES:
        if c in s:
            return None
    words = " ".join(s.split())
    return words if words.isprintable() else None


# ---------------------------------------------------------------------------------------------------------------------
# Charsets and RFC 2047
# ---------------------------------------------------------------------------------------------------------------------

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "tis-620": "cp874",
    "iso-2022-jp-3": "iso2022_jp_3",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_LATIN1_NAMES = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "windows-1252", "cp1252"}
_GUESS_NAMES = {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "x-user-defined"}
_TEXT_CODECS: dict[str, str | None] = {}


def _decode_guess(data: bytes) -> str:
    """Bytes of unknown charset: UTF-8 if valid, else Windows-1252 (a superset of Latin-1 for printable text)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _codec_for(charset: str) -> str | None:
    """Python codec name for a MIME charset name, or None when unknown / not a text encoding."""
    cached = _TEXT_CODECS.get(charset, "?")
    if cached != "?":
        return cached
    name = _CHARSET_ALIASES.get(charset, charset)
    result: str | None
    try:
        info = codecs.lookup(name)
        result = info.name if getattr(info, "_is_text_encoding", True) else None
    except (LookupError, ValueError, TypeError):
        result = None
    if len(_TEXT_CODECS) < 512:
        _TEXT_CODECS[charset] = result
    return result


def _norm_charset(charset: str | None) -> str:
    cs = (charset or "").strip().strip("\"'").lower()
    if "*" in cs:  # RFC 2231 language suffix: utf-8*en
        cs = cs.split("*", 1)[0]
    return cs[:64]


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode bytes in a (possibly bogus) MIME charset; returns (text, charset_was_known). Never raises."""
    cs = _norm_charset(charset)
    if cs in _GUESS_NAMES:
        return _decode_guess(data), True
    if cs in _LATIN1_NAMES:
        if data.isascii():
            return data.decode("ascii"), True
        try:
            return data.decode("utf-8"), True  # mislabelled UTF-8 is very common
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("cp1252"), True
        except UnicodeDecodeError:
            return data.decode("latin-1"), True
    codec = _codec_for(cs)
    if codec is None:
        return data.decode("utf-8", "replace"), False
    try:
        return data.decode(codec, "replace"), True
    except Exception:  # some codecs raise despite errors="replace" (e.g. broken stateful input)
        return data.decode("utf-8", "replace"), False


def _fix_surrogates(s: str) -> str:
    """A str holding undecodable bytes as surrogate escapes (from email's ASCII decoding) -> best-effort text."""
    if not _SURROGATE_RE.search(s):
        return s
    try:
        return _decode_guess(s.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return _SURROGATE_RE.sub("\ufffd", s)


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*)\?=")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def _decode_q(text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape").replace(b"_", b" ")
    return _QP_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _decode_b(text: str) -> bytes:
    data = _B64_JUNK.sub(b"", text.encode("ascii", "ignore"))
    if len(data) % 4 == 1:
        data = data[:-1]
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return b""


def decode_header_text(value: str) -> str:
    """Decode RFC 2047 encoded words in a header value (tolerant of broken words, unknown charsets). Not sanitised."""
    if not value.isascii():
        value = _fix_surrogates(value)
    if "=?" not in value:
        return value
    out: list[str] = []
    run_cs: str | None = None
    run: list[bytes] = []
    pos = 0

    def flush() -> None:
        nonlocal run_cs
        if run:
            out.append(decode_bytes(b"".join(run), run_cs)[0])
            run.clear()
        run_cs = None

    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        if gap and (not run or gap.strip()):
            flush()
            out.append(gap)
        cs = _norm_charset(m.group(1))
        data = _decode_b(m.group(3)) if m.group(2) in "bB" else _decode_q(m.group(3))
        if run and cs != run_cs:
            flush()
        run_cs = cs
        run.append(data)  # adjacent words of one charset are joined as bytes: split multibyte chars survive
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------------
# Fast header splitting (used for envelopes at sync time and for the reader's header block)
# ---------------------------------------------------------------------------------------------------------------------

_HEADER_VALUE_CAP = 64 * 1024  # bytes kept per header value (a megabyte-long header line is cut)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_WANTED = frozenset(
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


def _split_message(raw: bytes) -> tuple[bytes, bytes | None]:
    """Split raw bytes at the first empty line: (header block, body or None when there is no body at all)."""
    block_end, body_start = _split_offsets(raw)
    if body_start < 0:
        return raw, None
    return raw[:block_end], (raw[body_start:] if body_start < len(raw) else None)


def _split_offsets(raw: bytes, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """(end of the header block, start of the body) of raw[start:end], split like _HEADER_END; (end, -1) when
    there is no empty line. A message starting with an empty line has an empty header block."""
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


def _header_fields(block: bytes, wanted: Iterable[str] | None = _WANTED) -> dict[str, str]:
    """First occurrence of each wanted header, unfolded, 8-bit bytes decoded (UTF-8 then cp1252); not RFC 2047."""
    keep = frozenset(wanted) if wanted is not None else None
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    size = 0
    for line in block.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line[:1] in (b" ", b"\t"):
            if current is not None and size < _HEADER_VALUE_CAP:
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
        current = [value[:_HEADER_VALUE_CAP]]
        size = len(current[0])
        fields[key] = current
    result: dict[str, str] = {}
    for key, parts in fields.items():
        data = b"".join(parts)[:_HEADER_VALUE_CAP].strip()
        result[key] = data.decode("ascii") if data.isascii() else _decode_guess(data)
    return result


# ---------------------------------------------------------------------------------------------------------------------
# Header value helpers
# ---------------------------------------------------------------------------------------------------------------------

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


@functools.lru_cache(maxsize=1024)
def _month_start(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of the month."""
    return datetime(year, month, 1).toordinal() - _EPOCH_ORDINAL


def parse_date(value: str) -> int:
    """RFC 5322 date -> unix seconds UTC; 0 when missing or unparseable."""
    m = _DATE_FAST.fullmatch(value.strip()) if value and len(value) < 200 else None
    # The usual "Mon, 2 Nov 2026 10:00:00 +0100" form is computed directly; -0000 means local time (robust path).
    if m is not None and (m.group(8) != "0000" or m.group(7) == "+"):
        dd, mon, yy, hh, mi, ss, sign, zone = m.groups()
        days = _month_start(int(yy), _MONTHS[mon]) + int(dd) - 1
        offset = int(zone[:2]) * 3600 + int(zone[2:]) * 60
        ts = days * 86400 + int(hh) * 3600 + int(mi) * 60 + int(ss or 0) - (offset if sign == "+" else -offset)
        return ts if 0 <= ts < 2**40 else 0
    return _parse_date_robust(value)


def _parse_date_robust(value: str) -> int:
    if not value:
        return 0
    try:
        parsed = parsedate_tz(value[:200])
        if parsed is None:
            return 0
        ts = int(mktime_tz(parsed))
    except Exception:
        return 0
    return ts if 0 <= ts < 2**40 else 0


# One address the RFC parser reads verbatim: "phrase of atoms" <dot-atom@dot-atom>, "quoted" <...> or a bare one.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_SIMPLE_ADDRESS = re.compile(
    rf' ?(?:(?:"([^"\\]*)"|({_ATOM}(?: {_ATOM})*)) ?<({_DOT_ATOM}@{_DOT_ATOM})>|({_DOT_ATOM}@{_DOT_ATOM})) ?'
)


def parse_addresses(value: str) -> list[tuple[str, str]]:
    """Address header -> [(display name, address)], names RFC 2047-decoded and sanitised. Never raises."""
    line = sanitize_line(value[:16384])
    if line and line.isascii():
        out: list[tuple[str, str]] = []
        for chunk in line.split(","):
            pair = _simple_address(chunk) if len(chunk) <= _CACHED_VALUE_LEN else _simple_address.__wrapped__(chunk)
            if pair is None:
                break
            out.append(pair)
        else:
            return out
    return _parse_addresses_robust(value)


@functools.lru_cache(maxsize=4096)
def _simple_address(chunk: str) -> tuple[str, str] | None:
    """One address of a sanitised ASCII header as the RFC parser reads it, or None when it is not a simple one."""
    m = _SIMPLE_ADDRESS.fullmatch(chunk)
    if m is None:
        return None
    quoted, phrase, addr, bare = m.groups()
    name = quoted if quoted is not None else phrase or ""
    addr = addr or bare
    if "=?" in name:
        name = sanitize_line(decode_header_text(name))
    elif quoted is not None:
        name = sanitize_line(name)
    if "=?" in addr:
        addr = sanitize_line(decode_header_text(addr))
    return ("" if name == addr else name, addr)


def _parse_addresses_robust(value: str) -> list[tuple[str, str]]:
    value = sanitize_line(value[:16384])
    if not value:
        return []
    try:
        pairs = getaddresses([value])
    except Exception:
        pairs = []
    if not pairs or (any("@" not in addr for _n, addr in pairs if addr) and "@" in value):
        pairs = _split_addresses(value)  # e.g. "[bold]Admin[/] <a@b>": brackets confuse the RFC parser
    out: list[tuple[str, str]] = []
    for name, addr in pairs:
        name = sanitize_line(decode_header_text(name))
        addr = sanitize_line(decode_header_text(addr))
        if not name and not addr:
            continue
        if name == addr:
            name = ""
        out.append((name, addr))
    if not out:
        out.append((sanitize_line(decode_header_text(value)), ""))
    return out


_ADDR_CHUNK = re.compile(r'(?:"(?:[^"\\]|\\.)*"|<[^<>]*>|[^,"<])+')


def _split_addresses(value: str) -> list[tuple[str, str]]:
    """Lenient fallback: split at commas outside quotes/angle brackets; "name <addr>" or a bare address."""
    out: list[tuple[str, str]] = []
    for chunk in _ADDR_CHUNK.findall(value):
        chunk = chunk.strip()
        m = re.fullmatch(r"(.*?)\s*<([^<>]*)>\s*", chunk, re.DOTALL)
        if m:
            name = m.group(1).strip()
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = re.sub(r"\\(.)", r"\1", name[1:-1])
            out.append((name, m.group(2).strip()))
        elif chunk:
            out.append(("", chunk) if "@" in chunk and " " not in chunk else (chunk, ""))
    return out


def format_addresses(pairs: Iterable[tuple[str, str]]) -> str:
    """[(name, addr)] -> display string "Name <addr>, addr" (for humans, not for headers)."""
    return ", ".join(_display_addr(n, a) for n, a in pairs)


def _display_addr(name: str, addr: str) -> str:
    if name and addr:
        return f"{name} <{addr}>"
    return name or addr


def _content_type_of(value: str) -> tuple[str, dict[str, str]]:
    """Parse a Content-Type value cheaply: ("type/subtype" lowercased, params)."""
    main, _, rest = value.partition(";")
    ctype = main.strip().lower()
    params: dict[str, str] = {}
    for m in re.finditer(r'([A-Za-z0-9*_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)', rest):
        params.setdefault(m.group(1).lower(), m.group(2).strip('"'))
    return ctype, params


# ---------------------------------------------------------------------------------------------------------------------
# Envelope
# ---------------------------------------------------------------------------------------------------------------------

SNIPPET_CHARS = 200
_SNIPPET_PARSE_CAP = 256 * 1024


def parse_envelope(raw: bytes, size: int | None = None) -> Envelope:
    """What the message list needs, from a header-only block or a full message. Never raises; fast."""
    size_value = size if size is not None else len(raw)
    try:
        return _parse_envelope(raw, size_value)
    except Exception:
        try:
            return _parse_envelope_robust(raw, size_value)
        except Exception:
            return Envelope(size=size_value)


# Envelope headers with their (folded) values, found in "\n" + the lowercased header block; names are compared
# like _header_fields() does (stripped, any case).
_ENV_FIELD = re.compile(
    rb"\n[\r\x0b\x0c]*(from|to|cc|subject|date|message-id|in-reply-to|references|content-type"
    rb"|content-transfer-encoding|content-disposition|content-id)[ \t\r\x0b\x0c]*:([^\n]*(?:\n[ \t][^\n]*)*)"
)


def _field_spans(block: bytes) -> dict[bytes, tuple[int, int]]:
    """First occurrence of each envelope header in a header block: (value start, value end), the end excluding
    the line break that ends the (possibly folded) header."""
    spans: dict[bytes, tuple[int, int]] = {}
    for m in _ENV_FIELD.finditer(b"\n" + block.lower()):
        key = m.group(1)
        if key not in spans:
            start, end = m.span(2)
            spans[key] = (start - 1, end - 1)  # offsets in block (the lowered copy has one leading byte more)
    return spans


def _unfolded(block: bytes, span: tuple[int, int] | None) -> str:
    """A header value as _header_fields() gives it: unfolded, stripped, 8-bit bytes decoded."""
    if span is None:
        return ""
    data = block[span[0] : span[1]]
    if b"\n" in data:
        data = data.replace(b"\r\n", b"").replace(b"\n", b"")
    data = data.strip()
    return data.decode("ascii") if data.isascii() else _decode_guess(data)


def _parse_envelope(raw: bytes, size: int) -> Envelope:
    block_end, body_start = _split_offsets(raw)
    block = raw[:block_end]
    spans = _field_spans(block)
    if len(block) > _HEADER_VALUE_CAP and any(end - start > _HEADER_VALUE_CAP for start, end in spans.values()):
        return _parse_envelope_robust(raw, size)  # a huge header: let the capping splitter handle it
    from_name, from_addr = _from_field(block, spans.get(b"from"))
    has_attachments = False
    snippet = ""
    if body_start < 0 or body_start >= len(raw):
        has_attachments = _top_ctype(block, spans) == "multipart/mixed"
    else:
        try:
            summary = _fast_body_summary(raw, block, spans, body_start)
            if summary is None:
                has_attachments, snippet = _body_summary(raw, raw[body_start:], _top_ctype(block, spans))
            else:
                has_attachments, snippet = summary
                if (
                    not has_attachments
                    and len(raw) > _SNIPPET_PARSE_CAP
                    and _top_ctype(block, spans).startswith("multipart/")
                ):
                    has_attachments = _LATE_ATTACHMENT.search(raw, _SNIPPET_PARSE_CAP) is not None
        except Exception:
            has_attachments, snippet = _top_ctype(block, spans) == "multipart/mixed", ""
    return Envelope(
        message_id=normalize_msgid(_unfolded(block, spans.get(b"message-id"))),
        in_reply_to=normalize_msgid(_unfolded(block, spans.get(b"in-reply-to"))),
        references=normalize_references(_unfolded(block, spans.get(b"references"))),
        date=parse_date(_unfolded(block, spans.get(b"date"))),
        from_name=from_name,
        from_addr=from_addr,
        to=_addresses_field(block, spans.get(b"to")),
        cc=_addresses_field(block, spans.get(b"cc")),
        subject=_subject_field(block, spans.get(b"subject")),
        size=size,
        has_attachments=has_attachments,
        snippet=snippet,
    )


def _top_ctype(block: bytes, spans: dict[bytes, tuple[int, int]]) -> str:
    """_content_type_of(...)[0] of the message's Content-Type."""
    return _unfolded(block, spans.get(b"content-type")).partition(";")[0].strip().lower()


# Senders, recipient lists and thread subjects repeat a lot in a mailbox: short raw values are parsed once.
_CACHED_VALUE_LEN = 512


def _first_address(value: str) -> tuple[str, str]:
    pairs = parse_addresses(value)
    return pairs[0] if pairs else ("", "")


def _display_addresses(value: str) -> str:
    return format_addresses(parse_addresses(value)) if value else ""


def _subject(value: str) -> str:
    return sanitize_line(decode_header_text(value))[:1000]


def _cached_field(parse: Callable[[str], _T]) -> Callable[[bytes, tuple[int, int] | None], _T]:
    """parse(_unfolded(block, span)), remembered by the raw header bytes for short values."""

    @functools.lru_cache(maxsize=2048)
    def cached(data: bytes) -> _T:
        return parse(_unfolded(data, (0, len(data))))

    def field(block: bytes, span: tuple[int, int] | None) -> _T:
        if span is not None and span[1] - span[0] <= _CACHED_VALUE_LEN:
            return cached(block[span[0] : span[1]])
        return parse(_unfolded(block, span))

    return field


_from_field = _cached_field(_first_address)
_addresses_field = _cached_field(_display_addresses)
_subject_field = _cached_field(_subject)


def _parse_envelope_robust(raw: bytes, size: int) -> Envelope:
    """The reference implementation of _parse_envelope: full email parser for the body, RFC parsers for fields."""
    block, body = _split_message(raw)
    h = _header_fields(block)
    from_pairs = _parse_addresses_robust(h.get("from", ""))
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    subject = sanitize_line(decode_header_text(h.get("subject", "")))[:1000]
    ctype, _params = _content_type_of(h.get("content-type", ""))
    has_attachments = False
    snippet = ""
    if body is None:
        has_attachments = ctype == "multipart/mixed"
    else:
        try:
            has_attachments, snippet = _body_summary(raw, body, ctype)
        except Exception:
            has_attachments, snippet = ctype == "multipart/mixed", ""
    return Envelope(
        message_id=normalize_msgid(h.get("message-id", "")),
        in_reply_to=normalize_msgid(h.get("in-reply-to", "")),
        references=normalize_references(h.get("references", "")),
        date=_parse_date_robust(h.get("date", "")),
        from_name=from_name,
        from_addr=from_addr,
        to=format_addresses(_parse_addresses_robust(h.get("to", ""))),
        cc=format_addresses(_parse_addresses_robust(h.get("cc", ""))),
        subject=subject,
        size=size,
        has_attachments=has_attachments,
        snippet=snippet,
    )


_LATE_ATTACHMENT = re.compile(
    rb"(?im)^content-disposition:[ \t]*attachment|^content-type:[ \t]*(?:application|image|audio|video)/"
)


def _body_summary(raw: bytes, body: bytes, ctype: str) -> tuple[bool, str]:
    """(has_attachments, snippet) from the body structure, parsing at most the first 256 KiB."""
    msg = _parse_bytes(raw[:_SNIPPET_PARSE_CAP])
    walk = _Walk()
    walk.run(msg)
    has_attachments = any(not a.is_signature for a in walk.attachments)
    if not has_attachments and len(raw) > _SNIPPET_PARSE_CAP and ctype.startswith("multipart/"):
        has_attachments = _LATE_ATTACHMENT.search(raw, _SNIPPET_PARSE_CAP) is not None
    snippet = ""
    for part in walk.bodies:
        text = _part_text(part, walk, for_snippet=True)
        snippet = sanitize_line(_strip_quoted(text[:_SNIPPET_TEXT_CAP]))[:SNIPPET_CHARS]
        if snippet:
            break
    return has_attachments, snippet


_SNIPPET_TEXT_CAP = SNIPPET_CHARS * 40
_SNIPPET_PREFIXES = (400, 2400)


def _snippet(text: str) -> str:
    """The list snippet of a body text: unquoted lines, whitespace collapsed, sanitised, at most 200 characters.

    Same result as sanitize_line(_strip_quoted(text[:8000]))[:200], usually from just the first few lines: they are
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
            words = _plain_words(head)  # no quoted line and nothing to neutralise: the lines are the words
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
        words = _plain_words(text)
        if words is not None:
            return words[:SNIPPET_CHARS]
    kept, unquoted = _strip_quoted_lines(text)
    return sanitize_line(kept if unquoted else text)[:SNIPPET_CHARS]


def _strip_quoted(text: str) -> str:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    return "\n".join(lines) if any(ln.strip() for ln in lines) else text


def _strip_quoted_lines(text: str) -> tuple[str, bool]:
    """(the lines not starting with '>' joined by \\n, whether any of them is not blank)."""
    lines = text.splitlines()
    if ">" in text:
        lines = [ln for ln in lines if not ln.lstrip().startswith(">")]
    kept = "\n".join(lines)
    return kept, bool(kept.strip())  # some kept line is not blank


# ---------------------------------------------------------------------------------------------------------------------
# Fast body summary for envelopes: walks the MIME structure on the raw bytes like compat32 + _Walk would, decoding
# only the first body part; anything it cannot reproduce exactly makes it give up (None) and the email parser runs.
# ---------------------------------------------------------------------------------------------------------------------


class _Unsupported(Exception):
    """The fast walk met something only the email parser handles exactly."""


class _Done(Exception):
    """The fast walk knows all it needs (an attachment and a snippet)."""


_FAST_MAX_DEPTH = 8
_FAST_MAX_PARTS = 64
_FAST_MAX_FALSE_BOUNDARIES = 256  # boundary-like text that is not a boundary line
# A header block the email parser reads the same way: every line "name:" (printable name) or a continuation.
_HEADER_LINE_START = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_NON_HEADER_LINE = re.compile(rb"\n(?![ \t]|[\x21-\x39\x3b-\x7e]+:)")
_CLEAN_VALUE = re.compile(rb"[\t\r\n\x20-\x7e]*")  # content header values: ASCII without controls
_PARAMS = re.compile(r'(?:\s*;\s*[A-Za-z0-9_.*-]+\s*=\s*(?:"[^"\\]*"|[^\s;"\\]+))*\s*;?\s*')
_PARAM = re.compile(r'([A-Za-z0-9_.*-]+)\s*=\s*("[^"\\]*"|[^\s;"\\]+)')
_BOUNDARY_TAIL = re.compile(rb"(?:--)?[ \t]*(\r\n|\n|\r)?")
_BLANK_BYTES = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.strip() removes from an ASCII-decoded payload
_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


class _PartHeaders:
    """The content headers of one part, read the way compat32's Message methods read them."""

    __slots__ = ("_ctype_params", "_ctype_value", "_disposition_value", "content_id", "cte", "ctype", "disposition")
    ctype: str  # get_content_type()
    cte: str  # what get_payload(decode=True) compares
    disposition: str  # get_content_disposition() or ""
    content_id: bool
    _ctype_value: str | None
    _disposition_value: str | None
    _ctype_params: dict[str, str] | None  # parsed on first use

    def __init__(self, values: dict[bytes, bytes]) -> None:
        for value in values.values():
            if _CLEAN_VALUE.fullmatch(value) is None:
                raise _Unsupported
        ctype = values.get(b"content-type")
        self._ctype_value = ctype.decode("ascii") if ctype is not None else None
        if self._ctype_value is None:
            self.ctype = "text/plain"
        else:
            self.ctype = self._ctype_value.partition(";")[0].strip().lower()
            if self.ctype.count("/") != 1:
                self.ctype = "text/plain"
        cte = values.get(b"content-transfer-encoding")
        self.cte = cte.decode("ascii").lower() if cte is not None else ""
        disposition = values.get(b"content-disposition")
        self._disposition_value = disposition.decode("ascii") if disposition is not None else None
        self.disposition = ""
        if self._disposition_value is not None:
            self.disposition = self._disposition_value.partition(";")[0].strip().lower()
        self.content_id = bool(values.get(b"content-id"))
        self._ctype_params = None

    def param(self, name: str, disposition: bool = False) -> str | None:
        """get_param(name) of the Content-Type (or Content-Disposition) header, None when it is not there."""
        value = self._disposition_value if disposition else self._ctype_value
        if value is None:
            return None
        if disposition:
            params = _params_of(value)
        elif self._ctype_params is not None:
            params = self._ctype_params
        else:
            params = self._ctype_params = _params_of(value)
        found = params.get(name)
        if found is None and f"{name}*" in params:  # RFC 2231 form only: leave it to the email package
            raise _Unsupported
        return found

    def filename(self) -> str:
        """_part_filename() of the part."""
        name = self.param("filename", disposition=True)
        if name is None:
            name = self.param("name")
        if not name or not name.strip():
            return ""
        return sanitize_line(decode_header_text(name.strip()[:4096]))


def _params_of(value: str) -> dict[str, str]:
    """The parameters of a header value as compat32 get_param() returns them (first one wins), for the plain
    `; name=token` / `; name="quoted"` forms; anything else raises _Unsupported."""
    main, _, rest = value.partition(";")
    if "=" in main or '"' in main or _PARAMS.fullmatch(";" + rest) is None:
        raise _Unsupported
    params: dict[str, str] = {}
    for m in _PARAM.finditer(rest):
        name = m.group(1).lower()
        if "*" in name:  # RFC 2231: only remember that it is there
            name = name.split("*", 1)[0] + "*"
        found = m.group(2)
        if found[:1] == '"':
            found = found[1:-1]
        if found[:1] == "<" and found[-1:] == ">":  # email.utils.unquote() would strip these too
            raise _Unsupported
        params.setdefault(name, found)
    return params


def _compat_values(block: bytes, spans: dict[bytes, tuple[int, int]]) -> dict[bytes, bytes]:
    """Content header values as compat32 keeps them: first line lstripped, folds kept, trailing CR/LF removed."""
    out: dict[bytes, bytes] = {}
    for key in (b"content-type", b"content-transfer-encoding", b"content-disposition", b"content-id"):
        span = spans.get(key)
        if span is not None:
            out[key] = block[span[0] : span[1]].lstrip(b" \t").rstrip(b"\r\n")
    return out


def _part_block_headers(block: bytes) -> _PartHeaders | None:
    """The content headers of a part's header block, None when the fast path cannot read it exactly."""
    if not block:
        return _PartHeaders({})
    if not _clean_block(block):
        return None
    try:
        return _PartHeaders(_compat_values(block, _field_spans(block)))
    except _Unsupported:
        return None


_part_block_headers_cached = functools.lru_cache(maxsize=1024)(_part_block_headers)


@functools.lru_cache(maxsize=1024)
def _top_headers_cached(items: tuple[tuple[bytes, bytes], ...]) -> _PartHeaders:
    return _PartHeaders(dict(items))


def _clean_block(block: bytes) -> bool:
    """True when the email parser splits this header block exactly like the fast path does."""
    return (
        _HEADER_LINE_START.match(block) is not None
        and _NON_HEADER_LINE.search(block) is None
        and block.count(b"\r") == block.count(b"\r\n")
    )


class _FastWalk:
    """_Walk over raw bytes for the envelope: has_attachments and the first non-empty body snippet."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.cap = min(len(raw), _SNIPPET_PARSE_CAP)
        self.has_attachments = False
        self.snippet = ""
        self.parts = 0
        self.false_boundaries = 0

    # -- boundaries ----------------------------------------------------------------------------------------------

    def next_boundary(self, pos: int, stack: list[bytes]) -> tuple[int, int, bool, int] | None:
        """The first line at or after pos that the email parser takes for a boundary of `stack`:
        (index in stack, line start, is the close delimiter, start of the next line); None at the end."""
        raw, cap = self.raw, self.cap
        best: tuple[int, int, bool, int] | None = None
        for index, sep in enumerate(stack):
            i = pos
            limit = cap if best is None else min(cap, best[1] + len(sep))
            while True:
                i = raw.find(sep, i, limit)
                if i < 0:
                    break
                before = raw[i - 1] if i > 0 else 10
                if before == 13:
                    raise _Unsupported  # a bare CR starts a line for the email parser
                if before == 10:
                    m = _BOUNDARY_TAIL.match(raw, i + len(sep), cap)
                    assert m is not None
                    eol = m.group(1)
                    if eol == b"\r":
                        raise _Unsupported
                    if eol is not None or m.end() == cap:
                        close = raw.startswith(b"--", i + len(sep), cap)
                        best = (index, i, close, m.end())
                        break
                self.false_boundaries += 1
                if self.false_boundaries > _FAST_MAX_FALSE_BOUNDARIES:
                    raise _Unsupported  # pathological input: not worth a Python loop per occurrence
                i += 1
        return best

    def part_end(self, body_start: int, stack: list[bytes]) -> tuple[int, tuple[int, int, bool, int] | None]:
        """(end of the part's payload, the boundary line that ends it or None at the end of the input)."""
        nxt = self.next_boundary(body_start, stack)
        return (self.cap if nxt is None else nxt[1]), nxt

    # -- parts ---------------------------------------------------------------------------------------------------

    def part_headers(self, pos: int, stack: list[bytes]) -> tuple[_PartHeaders, int]:
        """Content headers of the part starting at pos, and where its body starts."""
        raw = self.raw
        block_end, body_start = _split_offsets(raw, pos, self.cap)
        if body_start < 0:
            raise _Unsupported  # headers running into the next boundary or the end
        block = raw[pos:block_end]
        for sep in stack:
            if block.startswith(sep) or b"\n" + sep in block:
                raise _Unsupported
        h = _part_block_headers_cached(block) if len(block) <= _CACHED_VALUE_LEN else _part_block_headers(block)
        if h is None:
            raise _Unsupported
        return h, body_start

    def visit(self, h: _PartHeaders, body_start: int, stack: list[bytes], depth: int, in_related: bool) -> int | None:
        """Visit a part whose headers are parsed; returns where the enclosing multipart resumes (None: the end)."""
        self.parts += 1
        if self.parts > _FAST_MAX_PARTS or depth > _FAST_MAX_DEPTH:
            raise _Unsupported
        ctype = h.ctype
        maintype, _, subtype = ctype.partition("/")
        if maintype == "message":
            self.attachment()
            return self.skip(body_start, stack)
        if maintype == "multipart":
            boundary = h.param("boundary")
            if boundary is None or subtype == "digest":
                raise _Unsupported
            boundary = boundary.rstrip()
            if not boundary:
                raise _Unsupported
            sep = b"--" + boundary.encode("ascii")
            if any(s.startswith(sep) or sep.startswith(s) for s in stack):
                raise _Unsupported
            return self.multipart(body_start, [*stack, sep], depth, subtype)
        disposition = h.disposition
        if disposition == "attachment":
            if ctype not in _SIGNATURE_TYPES:
                self.attachment()
        elif ctype in _BODY_TYPES or (ctype in _EXTRA_TEXT_TYPES and not h.filename()):
            end, nxt = self.part_end(body_start, stack)
            self.body(h, body_start, end, bool(stack))
            return None if nxt is None else nxt[1]
        elif in_related and h.content_id and not h.filename():
            pass
        elif ctype not in _SIGNATURE_TYPES:
            self.attachment()
        return self.skip(body_start, stack)

    def skip(self, pos: int, stack: list[bytes]) -> int | None:
        if not stack:
            return None
        nxt = self.next_boundary(pos, stack)
        return None if nxt is None else nxt[1]

    def attachment(self) -> None:
        self.has_attachments = True
        if self.snippet:
            raise _Done

    def body(self, h: _PartHeaders, start: int, end: int, in_multipart: bool) -> None:
        if self.snippet:
            return
        raw = self.raw
        if in_multipart:  # the line break before a boundary belongs to the boundary
            if raw.startswith(b"\r\n", end - 2, end) and end - 2 >= start:
                end -= 2
            elif end > start and raw[end - 1] in (10, 13):
                end -= 1
        cte = h.cte
        if cte == "quoted-printable":
            data = binascii.a2b_qp(raw[start:end])
        elif cte == "base64":
            encoded = b"".join(raw[start:end].splitlines())
            pad = len(encoded) % 4
            try:
                data = binascii.a2b_base64(encoded + b"==="[: 4 - pad] if pad else encoded, strict_mode=True)
            except binascii.Error:
                raise _Unsupported from None
        elif cte in _UUENCODE:
            raise _Unsupported
        else:
            data = raw[start : min(end, start + 64 * 1024)]
        charset = h.param("charset")
        text = decode_bytes(data[: 64 * 1024], charset.lower() if charset is not None else None)[0]
        if h.ctype == "text/html":
            text = html_snippet_text(text)
        self.snippet = _snippet(text)
        if self.snippet and self.has_attachments:
            raise _Done

    def multipart(self, body_start: int, stack: list[bytes], depth: int, subtype: str) -> int | None:
        """Walk the children of a multipart whose boundary is stack[-1]; returns where the parent resumes."""
        own = len(stack) - 1
        first = self.next_boundary(body_start, stack)
        if first is None or first[0] != own or first[2]:
            raise _Unsupported  # no start boundary (the parser salvages), or an outer boundary comes first
        nxt: tuple[int, int, bool, int] | None = first
        children: list[tuple[_PartHeaders, int]] = []
        while nxt is not None and nxt[0] == own and not nxt[2]:
            pos = nxt[3]
            h, child_body = self.part_headers(pos, stack)
            if subtype == "alternative":
                end, after = self.part_end(child_body, stack)
                if end == pos:
                    raise _Unsupported  # consecutive boundary lines
                children.append((h, child_body))
                if h.ctype == "text/plain" and h.disposition != "attachment":
                    payload = self.raw[child_body:end]
                    if payload.strip(_BLANK_BYTES):  # _choose_alternative takes the first non-blank text/plain
                        self.parts += 1
                        self.body(h, child_body, end, True)
                        return self.skip(end, stack[:-1])
                nxt = after
            else:
                resume = self.visit(h, child_body, stack, depth + 1, subtype == "related")
                if resume == pos:
                    raise _Unsupported
                nxt = None if resume is None else self.next_boundary(resume, stack)
        if subtype == "alternative" and children:
            chosen = children[-1]
            for child in reversed(children):
                if child[0].ctype == "text/html" or child[0].ctype.startswith("multipart/"):
                    chosen = child
                    break
            self.visit(chosen[0], chosen[1], stack, depth + 1, False)
        if nxt is None:
            return None
        if nxt[0] != own:
            return nxt[1]  # an enclosing boundary ends this multipart
        return self.skip(nxt[3], stack[:-1])  # after the close delimiter: epilogue up to the parent's boundary


def _fast_body_summary(
    raw: bytes, block: bytes, spans: dict[bytes, tuple[int, int]], body_start: int
) -> tuple[bool, str] | None:
    """(has_attachments, snippet) as _body_summary() computes them, or None when only the email parser can tell."""
    if body_start > _SNIPPET_PARSE_CAP or not block or not _clean_block(block):
        return None
    walk = _FastWalk(raw)
    try:
        values = _compat_values(block, spans)
        if sum(map(len, values.values())) <= _CACHED_VALUE_LEN:
            h = _top_headers_cached(tuple(sorted(values.items())))
        else:
            h = _PartHeaders(values)
        walk.visit(h, body_start, [], 0, False)
    except _Done:
        pass
    except Exception:  # _Unsupported, or anything unforeseen: the email parser decides
        return None
    return walk.has_attachments, walk.snippet


# ---------------------------------------------------------------------------------------------------------------------
# MIME tree walking (shared by envelope, reader, attachment saving, forwarding)
# ---------------------------------------------------------------------------------------------------------------------

MAX_DEPTH = 50
_MAX_PARTS = 1000
NOTE_DAMAGED = "The message's MIME structure is damaged; showing what could be read."
NOTE_TOO_DEEP = f"The message is nested more than {MAX_DEPTH} levels deep; deeper parts are not shown."
NOTE_TOO_MANY = f"The message has more than {_MAX_PARTS} parts; the rest are not shown."
NOTE_BAD_ENCODING = "Part of the message was badly encoded; showing what could be decoded."
NOTE_ENCRYPTED = "This message is encrypted; tui-mail cannot decrypt it."
NOTE_UNPARSEABLE = "The message could not be parsed; showing its raw text."
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
_BODY_TYPES = frozenset({"text/plain", "text/html"})
# Other text parts shown inline when unnamed (bounces, rich text); the rest (calendar, vcard, csv ...) are attachments.
_EXTRA_TEXT_TYPES = frozenset({"text/rfc822-headers", "text/enriched", "text/markdown", "text/x-markdown"})
_SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
_BOUNDARY_GUESS = re.compile(r"(?m)^--([^\s]{1,200}?)(?:--)?[ \t]*\r?$")


def _parse_bytes(raw: bytes) -> Message:
    """compat32 parse (tolerant, lazy, no header objects); salvages a multipart whose boundary is missing/wrong."""
    msg = BytesParser(policy=compat32).parsebytes(raw)
    if msg.get_content_maintype() == "multipart" and not msg.is_multipart():
        fixed = _salvage_multipart(raw, msg)
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
    block, body = _split_message(raw)
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
    fixed = BytesParser(policy=compat32).parsebytes(header + (body or b""))
    if not fixed.is_multipart():
        return None
    fixed.defects.append(errors.StartBoundaryNotFoundDefect())
    return fixed


@dataclass(slots=True)
class _Att:
    part: Message
    filename: str  # decoded, not yet made safe
    content_type: str
    is_signature: bool = False


class _Walk:
    """One pass over a parsed message: body parts in display order, attachments, and notes."""

    def __init__(self) -> None:
        self.bodies: list[Message] = []
        self.attachments: list[_Att] = []
        self.notes: list[str] = []
        self._count = 0

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def run(self, msg: Message) -> None:
        self._visit(msg, 0, False)

    def _visit(self, part: Message, depth: int, in_related: bool) -> None:
        self._count += 1
        if self._count > _MAX_PARTS:
            self.note(NOTE_TOO_MANY)
            return
        if any(isinstance(d, _STRUCTURE_DEFECTS) for d in part.defects):
            self.note(NOTE_DAMAGED)
        ctype = _safe_content_type(part)
        maintype, _, subtype = ctype.partition("/")
        if maintype == "message":
            name = _part_filename(part) or _embedded_subject(part)
            self.attachments.append(_Att(part, name, ctype))
            return
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            if depth >= MAX_DEPTH:
                self.note(NOTE_TOO_DEEP)
                return
            if subtype == "encrypted":
                self.note(NOTE_ENCRYPTED)
            children = [c for c in payload if isinstance(c, Message)]
            if subtype == "alternative":
                chosen = _choose_alternative(children)
                children = [chosen] if chosen is not None else []
            for child in children:
                self._visit(child, depth + 1, subtype == "related")
            return
        if maintype == "multipart":  # boundary never found: show the body as text
            self.note(NOTE_DAMAGED)
            self.bodies.append(part)
            return
        disposition = _safe_disposition(part)
        filename = _part_filename(part)
        if disposition == "attachment":
            self.attachments.append(_Att(part, filename, ctype, ctype in _SIGNATURE_TYPES))
        elif ctype in _BODY_TYPES or (ctype in _EXTRA_TEXT_TYPES and not filename):
            self.bodies.append(part)
        elif in_related and part.get("content-id") and not filename:
            pass  # an inline resource of an HTML body (logo, spacer): not something the user attached
        else:
            self.attachments.append(_Att(part, filename, ctype, ctype in _SIGNATURE_TYPES))


def _safe_content_type(part: Message) -> str:
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


def _part_filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not isinstance(name, str) or not name:
        return ""
    return sanitize_line(decode_header_text(name[:4096]))


def _embedded_subject(part: Message) -> str:
    try:
        inner = part.get_payload(0) if part.is_multipart() else None
        subject = str(inner.get("subject", "")) if isinstance(inner, Message) else ""
    except Exception:
        subject = ""
    subject = sanitize_line(decode_header_text(subject))[:80]
    return f"{subject}.eml" if subject else ""


def _payload_is_blank(part: Message) -> bool:
    payload = part.get_payload()
    return isinstance(payload, str) and not payload.strip()


def _choose_alternative(children: list[Message]) -> Message | None:
    """text/plain preferred (when not empty), else the richest (last) HTML or multipart alternative."""
    for c in children:
        if _safe_content_type(c) == "text/plain" and _safe_disposition(c) != "attachment" and not _payload_is_blank(c):
            return c
    for c in reversed(children):
        ctype = _safe_content_type(c)
        if ctype == "text/html" or ctype.startswith("multipart/"):
            return c
    return children[-1] if children else None


def _decoded_payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _part_text(part: Message, walk: _Walk, *, for_snippet: bool = False) -> str:
    """Decoded, charset-converted text of a body part (HTML converted to text). Not sanitised."""
    data = _decoded_payload(part)
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
    if _safe_content_type(part) == "text/html":
        text = html_snippet_text(text) if for_snippet else html_to_text(text)
    return text


# ---------------------------------------------------------------------------------------------------------------------
# HTML -> text (inscriptis; nothing remote is ever fetched: images are never loaded, links only listed)
# ---------------------------------------------------------------------------------------------------------------------

_HTML_CAP = 4 * 1024 * 1024
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SHOWN_SCHEMES = ("http://", "https://", "mailto:", "ftp://", "tel:")


def _html_tree(html: str) -> Any:
    import lxml.html

    html = _SURROGATE_RE.sub("\ufffd", _XML_DECL.sub("", html[:_HTML_CAP]))
    if not html.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, no_network=True)
    try:
        return lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except Exception:
        return None


def _strip_tags(html: str) -> str:
    return unescape(_TAG_RE.sub(" ", html))


def html_to_text(html: str) -> str:
    """Readable text for an HTML body; links become numbered footnotes `[1] https://...`, images their alt text."""
    try:
        return _html_to_text(html)
    except Exception:
        return _strip_tags(html[:_HTML_CAP])


def _html_to_text(html: str) -> str:
    from inscriptis import Inscriptis
    from inscriptis.model.config import ParserConfig

    tree = _html_tree(html)
    if tree is None:
        return ""
    for bad in tree.xpath("//script|//style|//head|//title|//noscript|//template"):
        bad.drop_tree()
    links: list[str] = []
    numbers: dict[str, int] = {}
    for a in tree.iter("a"):
        href = " ".join((a.get("href") or "").split())
        if not href.lower().startswith(_SHOWN_SCHEMES) or len(href) > 2048:
            continue
        if href not in numbers:
            links.append(href)
            numbers[href] = len(links)
        label = a.text_content().strip()
        marker = f"[{numbers[href]}]"
        if label and label != href:
            a.tail = f" {marker}" + (a.tail or "")
        else:  # a bare URL as its own label: the footnote says it all
            for child in list(a):
                a.remove(child)
            a.text = marker
    for img in tree.iter("img"):
        alt = " ".join((img.get("alt") or "").split())
        img.tail = (f"[image: {alt}]" if alt else "") + (img.tail or "")
    text = Inscriptis(tree, ParserConfig(display_images=False, display_links=False)).get_text()
    if not text.strip():  # e.g. nesting deeper than the HTML parser accepts: keep the words at least
        text = " ".join(_strip_tags(html[:_HTML_CAP]).split())
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    if links:
        text += "\n\n" + "\n".join(f"[{i}] {url}" for i, url in enumerate(links, 1))
    return text


_BLOCK_TAGS = frozenset(
    "p div br li tr td th h1 h2 h3 h4 h5 h6 table ul ol blockquote pre section article header footer".split()
)


def html_snippet_text(html: str) -> str:
    """Cheap HTML -> text for list snippets (no layout work)."""
    tree = _html_tree(html[: 64 * 1024])
    if tree is None:
        return ""
    try:
        for bad in tree.xpath("//script|//style|//head|//title|//noscript|//template"):
            bad.drop_tree()
        for el in tree.iter(*_BLOCK_TAGS):
            el.tail = " " + (el.tail or "")
        text = str(tree.text_content())
        return text if text.strip() else _strip_tags(html[: 64 * 1024])
    except Exception:
        return _strip_tags(html[: 64 * 1024])


# ---------------------------------------------------------------------------------------------------------------------
# Filenames
# ---------------------------------------------------------------------------------------------------------------------

_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)
_FILENAME_BAD = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_MAX_FILENAME_BYTES = 200


def safe_filename(name: str) -> str:
    """A sender-supplied filename -> a plain basename that cannot escape a directory or spoof its extension."""
    try:
        name = sanitize_line(_fix_surrogates(str(name)))
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
        name = _FILENAME_BAD.sub("_", name).strip(" .")
        name = name.lstrip(".- ")  # no hidden files, no option-looking names
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        if stem.split(".")[0].strip().lower() in _RESERVED_NAMES:
            name = "_" + name
        if len(name.encode("utf-8")) > _MAX_FILENAME_BYTES:
            ext = ("." + ext)[:16] if dot and len(ext) <= 15 else ""
            budget = _MAX_FILENAME_BYTES - len(ext.encode("utf-8"))
            stem_bytes = (stem if ext else name).encode("utf-8")[:budget]
            name = stem_bytes.decode("utf-8", "ignore").rstrip(" .") + ext
    except Exception:
        name = ""
    return name or "attachment"


def _fallback_name(index: int, content_type: str) -> str:
    ext = ".eml" if content_type in ("message/rfc822", "message/global") else ""
    if not ext:
        ext = {"text/plain": ".txt", "application/octet-stream": ".bin"}.get(content_type) or (
            mimetypes.guess_extension(content_type) or ".bin"
        )
    return f"attachment-{index + 1}{ext}"


# ---------------------------------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------------------------------

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


def format_local_date(ts: int) -> str:
    """Unix seconds -> readable local time ("Mon, 23 Nov 2026 10:05"), "" for 0."""
    if not ts:
        return ""
    try:
        return datetime.fromtimestamp(ts).astimezone().strftime("%a, %d %b %Y %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def _display_headers(raw: bytes) -> dict[str, str]:
    h = _header_fields(_split_message(raw)[0])
    return {
        "From": format_addresses(parse_addresses(h.get("from", ""))),
        "To": format_addresses(parse_addresses(h.get("to", ""))),
        "Cc": format_addresses(parse_addresses(h.get("cc", ""))),
        "Date": format_local_date(parse_date(h.get("date", ""))) or sanitize_line(h.get("date", ""))[:100],
        "Subject": sanitize_line(decode_header_text(h.get("subject", "")))[:2000],
    }


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


def _walk_message(raw: bytes) -> tuple[Message, _Walk]:
    msg = _parse_bytes(raw)
    walk = _Walk()
    walk.run(msg)
    return msg, walk


def _attachments_of(walk: _Walk) -> list[Attachment]:
    out: list[Attachment] = []
    for i, att in enumerate(walk.attachments):
        name = safe_filename(att.filename) if att.filename else _fallback_name(i, att.content_type)
        out.append(Attachment(i, name, sanitize_line(att.content_type), _estimated_size(att.part)))
    return out


def _body_text(walk: _Walk) -> str:
    texts = [t.strip("\n") for t in (_part_text(p, walk) for p in walk.bodies)]
    text = "\n\n".join(t for t in texts if t.strip())
    if len(text) > _TEXT_CAP:
        text = text[:_TEXT_CAP]
        walk.note("The message text is very long; only its beginning is shown.")
    return sanitize_text(text)


def render_message(raw: bytes) -> RenderedMessage:
    """Parse a full message for the reader. Never raises: falls back to the raw text with a note."""
    try:
        headers = _display_headers(raw)
    except Exception:
        headers = dict.fromkeys(("From", "To", "Cc", "Date", "Subject"), "")
    try:
        _msg, walk = _walk_message(raw)
        text = _body_text(walk)
        return RenderedMessage(headers, text, _attachments_of(walk), list(walk.notes))
    except Exception:  # RecursionError, parser bugs on pathological input: show what is there
        text = sanitize_text(_decode_guess(raw[:_RAW_FALLBACK_CAP]))
        return RenderedMessage(headers, text, [], [NOTE_UNPARSEABLE])


def _attachment_payload(att: _Att) -> bytes:
    if att.content_type.startswith("message/"):
        payload = att.part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            inner = payload[0]
            try:
                return inner.as_bytes()
            except Exception:
                return inner.as_string().encode("utf-8", "surrogateescape")
    return _decoded_payload(att.part)


def attachment_bytes(raw: bytes, index: int) -> bytes:
    """Decoded payload of attachment `index` as listed by render_message(); IndexError if there is no such one."""
    _msg, walk = _walk_message(raw)
    if not 0 <= index < len(walk.attachments):
        raise IndexError(f"The message has no attachment number {index + 1}.")
    return _attachment_payload(walk.attachments[index])


_QUOTE_PREFIX = re.compile(r"[ \t]{0,3}(?:>[ \t]?)+")


def quote_depth(line: str) -> int:
    """How many '>' quote markers a line starts with ("> > x" and ">> x" are both 2)."""
    m = _QUOTE_PREFIX.match(line)
    return m.group().count(">") if m else 0


# ---------------------------------------------------------------------------------------------------------------------
# Composing
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Draft:
    """A message being composed (what reply/forward prefill and the composer edits)."""

    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    in_reply_to: str = ""
    references: str = ""
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)  # (filename, content_type, data)


def _addr_domain(addr: str) -> str:
    domain = parseaddr(addr)[1].rpartition("@")[2].strip().strip("[]")
    return domain if re.fullmatch(r"[A-Za-z0-9.-]{1,253}", domain or "") else ""


def _addresses(entry: str, field_name: str) -> list[Address]:
    """One recipient entry ("Name <a@b>", "a@b, c@d") -> Address objects; IDN domains punycoded.

    Raises ValueError (one sentence) for something that is not an address or needs SMTPUTF8 (non-ASCII local part).
    """
    entry = sanitize_line(entry)
    if not entry:
        return []
    out: list[Address] = []
    for name, addr in getaddresses([entry]):
        local, at, domain = addr.rpartition("@")
        if not at or not local or not domain or " " in addr:
            raise ValueError(f"{entry!r} in {field_name} is not an email address.")
        if not local.isascii():
            raise ValueError(f"{addr!r} in {field_name} has non-ASCII characters before the @, which cannot be sent.")
        try:
            domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
            out.append(Address(display_name=name, username=local, domain=domain))
        except (UnicodeError, ValueError, IndexError, errors.HeaderDefect) as e:
            raise ValueError(f"{addr!r} in {field_name} is not a valid email address.") from e
    return out


def build_message(
    *,
    from_addr: str,
    from_name: str = "",
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    in_reply_to: str = "",
    references: str = "",
    domain: str | None = None,
) -> EmailMessage:
    """An SMTP-ready message (UTF-8 where needed). Bcc is NOT written into the headers: pass it to recipients().

    Raises ValueError (one sentence fit for the user) when an address is not one.
    """
    del bcc  # envelope-only; see recipients()
    msg = EmailMessage(policy=SMTP)
    sender = _addresses(from_addr, "From")
    if len(sender) != 1:
        raise ValueError("The sender address must be exactly one email address.")
    msg["From"] = Address(sanitize_line(from_name) or sender[0].display_name, sender[0].username, sender[0].domain)
    to_list = [a for x in to for a in _addresses(x, "To")]
    cc_list = [a for x in cc for a in _addresses(x, "Cc")]
    if to_list:
        msg["To"] = to_list
    if cc_list:
        msg["Cc"] = cc_list
    msg["Subject"] = sanitize_line(subject)
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=domain or _addr_domain(from_addr) or "tui-mail.invalid")
    if in_reply_to.strip():
        msg["In-Reply-To"] = sanitize_line(in_reply_to)
    if references.strip():
        msg["References"] = sanitize_line(references)
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    msg.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "quoted-printable")
    for filename, content_type, data in attachments:
        name = safe_filename(filename)
        ctype = (content_type or "").strip().lower()
        if "/" not in ctype:
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        if maintype in ("message", "multipart"):  # attach as opaque bytes; generator rules for message/* differ
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(bytes(data), maintype=maintype, subtype=subtype, filename=name)
    return msg


def recipients(msg: EmailMessage | Message, bcc: Sequence[str] = ()) -> list[str]:
    """All envelope recipients (To, Cc and the given Bcc) as bare addresses, without duplicates."""
    values = [str(v) for key in ("To", "Cc") for v in (msg.get_all(key) or [])]
    values.extend(bcc)
    out: list[str] = []
    seen: set[str] = set()
    for _name, addr in getaddresses(values):
        addr = addr.strip()
        if addr and "@" in addr and addr.lower() not in seen:
            seen.add(addr.lower())
            out.append(addr)
    return out


_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_RE_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw)(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE)
_FWD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|wg|tr)\s*:\s*)+", re.IGNORECASE)


def compose_addr(name: str, addr: str) -> str:
    """(name, addr) -> an editable "Name <addr>" string, quoting the name when it needs it (no RFC 2047)."""
    if not name:
        return addr
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>" if addr else name


def _quote(text: str) -> str:
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    return "".join((">" + ln if ln.startswith(">") else "> " + ln if ln else ">") + "\n" for ln in lines)


def reply_draft(raw: bytes, self_addrs: Sequence[str], reply_all: bool = False) -> Draft:
    """A reply to `raw`: recipients, "Re:" subject, threading headers and the quoted original."""
    h = _header_fields(_split_message(raw)[0])
    mine = {a.strip().lower() for a in self_addrs if a.strip()}
    sender = parse_addresses(h.get("from", ""))
    targets = parse_addresses(h.get("reply-to", "")) or sender
    orig_to = parse_addresses(h.get("to", ""))
    orig_cc = parse_addresses(h.get("cc", ""))
    if targets and orig_to and all(a.lower() in mine for _n, a in targets):
        targets = orig_to  # replying to one's own sent message goes to its recipients again
    seen: set[str] = set()
    to_list: list[str] = []
    for name, addr in targets:
        if addr and addr.lower() not in seen:
            seen.add(addr.lower())
            to_list.append(compose_addr(name, addr))
    cc_list: list[str] = []
    if reply_all:
        for name, addr in orig_to + orig_cc:
            key = addr.lower()
            if addr and key not in seen and key not in mine:
                seen.add(key)
                cc_list.append(compose_addr(name, addr))
    subject = "Re: " + _RE_PREFIX.sub("", sanitize_line(decode_header_text(h.get("subject", ""))))
    message_id = normalize_msgid(h.get("message-id", ""))
    refs = normalize_references(h.get("references", "")) or normalize_msgid(h.get("in-reply-to", ""))
    if message_id:
        refs = normalize_references(f"{refs} {message_id}")
    when = format_local_date(parse_date(h.get("date", ""))) or "an unknown date"
    who = _display_addr(*sender[0]) if sender else "someone"
    return Draft(
        to=to_list,
        cc=cc_list,
        subject=subject.rstrip(),
        body=f"On {when}, {who} wrote:\n" + _quote(render_message(raw).text),
        in_reply_to=message_id,
        references=refs,
    )


def forward_draft(raw: bytes) -> Draft:
    """A forward of `raw`: "Fwd:" subject, a header block, the original text and the original attachments."""
    rendered = render_message(raw)
    h = rendered.headers
    subject = "Fwd: " + _FWD_PREFIX.sub("", h.get("Subject", ""))
    block = ["---------- Forwarded message ----------"]
    block.extend(f"{key}: {h[key]}" for key in ("From", "Date", "Subject", "To", "Cc") if h.get(key))
    attachments: list[tuple[str, str, bytes]] = []
    try:
        _msg, walk = _walk_message(raw)
        for att, listed in zip(walk.attachments, _attachments_of(walk), strict=True):
            attachments.append((listed.filename, listed.content_type, _attachment_payload(att)))
    except Exception:
        attachments = []
    return Draft(
        subject=subject.rstrip(),
        body="\n".join(block) + "\n\n" + rendered.text.rstrip("\n") + "\n",
        attachments=attachments,
    )
