"""Bytes -> str in whatever charset a message claims: MIME charset names and aliases, guessing, RFC 2047 words."""

from __future__ import annotations

import binascii
import codecs
import re

from .sanitize import SURROGATE_RE

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "x-mac-ce": "mac_latin2",
    "x-mac-centraleurroman": "mac_latin2",
    "x-mac-ukrainian": "mac_cyrillic",
    "tis-620": "cp874",
    "iso-2022-jp-3": "iso2022_jp_3",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_LATIN1_NAMES = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "windows-1252", "cp1252"}
_GUESS_NAMES = {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "x-user-defined"}
_TEXT_CODECS: dict[str, str | None] = {}


def decode_guess(data: bytes, hint: str | None = None) -> str:
    """Bytes of undeclared charset: UTF-8 if valid, else the hint charset (e.g. the body's) when it decodes them
    cleanly, else Windows-1252 (a superset of Latin-1 for printable text)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if hint:
        codec = codec_for(norm_charset(hint))
        if codec is not None and codec not in ("utf-8", "ascii"):
            try:
                return data.decode(codec)
            except (UnicodeDecodeError, LookupError, ValueError):
                pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def codec_for(charset: str) -> str | None:
    """Python codec name for a MIME charset name, or None when unknown / not a text encoding."""
    cached = _TEXT_CODECS.get(charset, "?")
    if cached != "?":
        return cached
    result: str | None = None
    names = [_CHARSET_ALIASES.get(charset, charset)]
    for prefix in ("x-ms-", "x-"):  # x-mac-cyrillic, x-euc-jp, x-cp1251: Python knows them without the prefix
        if charset.startswith(prefix):
            names.append(charset[len(prefix) :])
    for name in names:
        try:
            info = codecs.lookup(name)
        except (LookupError, ValueError, TypeError):
            continue
        result = info.name if getattr(info, "_is_text_encoding", True) else None
        break
    if len(_TEXT_CODECS) < 512:
        _TEXT_CODECS[charset] = result
    return result


def norm_charset(charset: str | None) -> str:
    """A charset parameter as a lookup key: unquoted, lowercased, RFC 2231 language dropped, bounded."""
    cs = (charset or "").strip().strip("\"'").lower()
    if "*" in cs:  # RFC 2231 language suffix: utf-8*en
        cs = cs.split("*", 1)[0]
    return cs[:64]


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode bytes in a (possibly bogus) MIME charset; returns (text, charset_was_known). Never raises."""
    cs = norm_charset(charset)
    if cs in _GUESS_NAMES:
        return decode_guess(data), True
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
    codec = codec_for(cs)
    if codec is None:
        return data.decode("utf-8", "replace"), False
    try:
        return data.decode(codec, "replace"), True
    except Exception:  # some codecs raise despite errors="replace" (e.g. broken stateful input)
        return data.decode("utf-8", "replace"), False


def fix_surrogates(s: str, hint: str | None = None) -> str:
    """A str holding undecodable bytes as surrogate escapes (from email's ASCII decoding) -> best-effort text."""
    if not SURROGATE_RE.search(s):
        return s
    try:
        return decode_guess(s.encode("utf-8", "surrogateescape"), hint)
    except UnicodeEncodeError:
        return SURROGATE_RE.sub("\ufffd", s)


# An empty charset (=??Q?...?=) is a guess, like an unknown one.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{0,80})\?([bBqQ])\?([^?]*)\?=")
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


def decode_header_text(value: str, hint: str | None = None) -> str:
    """Decode RFC 2047 encoded words in a header value (tolerant of broken words, unknown charsets). Not sanitised.

    `hint` is the charset to try for raw 8-bit text and words of unknown charset (the message body's)."""
    if not value.isascii():
        value = fix_surrogates(value, hint)
    if "=?" not in value:
        return value
    out: list[str] = []
    run_cs: str | None = None
    run: list[bytes] = []
    pos = 0

    def flush() -> None:
        nonlocal run_cs
        if run:
            data = b"".join(run)
            out.append(decode_guess(data, hint) if not run_cs else decode_bytes(data, run_cs)[0])
            run.clear()
        run_cs = None

    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        if gap and (not run or gap.strip()):
            flush()
            out.append(gap)
        cs = norm_charset(m.group(1))
        data = _decode_b(m.group(3)) if m.group(2) in "bB" else _decode_q(m.group(3))
        if run and cs != run_cs:
            flush()
        run_cs = cs
        run.append(data)  # adjacent words of one charset are joined as bytes: split multibyte chars survive
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)
