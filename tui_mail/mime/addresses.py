"""Address headers -> (display name, address) pairs by our own rules (never the stdlib's version-dependent ones).

The address is what stands in `<...>`; everything else is only a name, however much it looks like an address.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from .charsets import decode_header_text
from .sanitize import sanitize_line

# One address the fast path reads exactly like split_addresses(): "phrase of atoms" <dot-atom@dot-atom>,
# "quoted" <...> or a bare one.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_SIMPLE_ADDRESS = re.compile(
    rf' ?(?:(?:"([^"\\]*)"|({_ATOM}(?: {_ATOM})*)) ?<({_DOT_ATOM}@{_DOT_ATOM})>|({_DOT_ATOM}@{_DOT_ATOM})) ?'
)
CACHED_VALUE_LEN = 512  # short raw values repeat a lot in a mailbox: they are parsed once


def parse_addresses(value: str, hint: str | None = None) -> list[tuple[str, str]]:
    """Address header -> [(display name, address)], names RFC 2047-decoded and sanitised. Never raises."""
    line = sanitize_line(value[:16384])
    if line and line.isascii():
        out: list[tuple[str, str]] = []
        for chunk in line.split(","):
            pair = _simple_address(chunk) if len(chunk) <= CACHED_VALUE_LEN else _simple_address.__wrapped__(chunk)
            if pair is None:
                break
            out.append(pair)
        else:
            return out
    return parse_addresses_robust(value, hint)


@functools.lru_cache(maxsize=4096)
def _simple_address(chunk: str) -> tuple[str, str] | None:
    """One address of a sanitised ASCII header as split_addresses() reads it, or None when it is not a simple one."""
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


def parse_addresses_robust(value: str, hint: str | None = None) -> list[tuple[str, str]]:
    """parse_addresses() for any input: split_addresses(), then names and addresses decoded and sanitised."""
    value = sanitize_line(value[:16384])
    if not value:
        return []
    out: list[tuple[str, str]] = []
    for name, addr in split_addresses(value):
        name = sanitize_line(decode_header_text(name, hint))
        addr = sanitize_line(decode_header_text(addr, hint))
        if not name and not addr:
            continue
        if name == addr:
            name = ""
        out.append((name, addr))
    if not out and value.strip(" ,;"):
        out.append((sanitize_line(decode_header_text(value, hint)), ""))
    return out


def _chunks(value: str) -> list[str]:
    """The address list split at commas (and group ends) outside quotes, comments and angle brackets; a group's
    name (`Team:`) is dropped."""
    chunks: list[str] = []
    buf: list[str] = []
    quote = angle = False
    comment = 0
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if quote or comment:
            if c == "\\" and i + 1 < n:
                buf.append(c + value[i + 1])
                i += 2
                continue
            if quote and c == '"':
                quote = False
            elif comment and c == "(":
                comment += 1
            elif comment and c == ")":
                comment -= 1
            buf.append(c)
        elif angle:
            buf.append(c)
            angle = c != ">"
        elif c in ",;":
            chunks.append("".join(buf))
            buf = []
        elif c == ":" and "@" not in "".join(buf):
            buf = []  # a group's display name
        else:
            quote, comment, angle = c == '"', 1 if c == "(" else 0, c == "<"
            buf.append(c)
        i += 1
    chunks.append("".join(buf))
    return [c.strip() for c in chunks if c.strip()]


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"?')
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)?")


def _unquote(text: str) -> str:
    text = _QUOTED.sub(lambda m: re.sub(r"\\(.)", r"\1", m.group(1)), text)
    return " ".join(text.split())


def split_addresses(value: str) -> list[tuple[str, str]]:
    """[(name, address)] of an address list, undecoded. `Name <addr>` is (Name, addr) even when Name looks like
    an address; without brackets the last word with an @ is the address and the words before it the name."""
    out: list[tuple[str, str]] = []
    for chunk in _chunks(value):
        start = chunk.rfind("<")
        if start >= 0:
            stop = chunk.find(">", start)
            addr = chunk[start + 1 : stop if stop >= 0 else len(chunk)].strip()
            if ":" in addr:  # obsolete route: <@relay:user@host>
                addr = addr.rpartition(":")[2].strip()
            rest = chunk[:start] + (chunk[stop + 1 :] if stop >= 0 else "")
            out.append((_unquote(rest), addr.replace(" ", "")))
            continue
        comments = [m.group()[1:].rstrip(")") for m in _COMMENT.finditer(chunk)]
        words = _COMMENT.sub(" ", chunk).split()
        if words and "@" in words[-1] and '"' not in words[-1]:
            name = _unquote(" ".join(words[:-1])) or _unquote(" ".join(comments))
            out.append((name, words[-1]))
        else:
            out.append((_unquote(chunk), ""))
    return out


def format_addresses(pairs: Iterable[tuple[str, str]]) -> str:
    """[(name, addr)] -> display string "Name <addr>, addr" (for humans, not for headers)."""
    return ", ".join(display_addr(n, a) for n, a in pairs)


def display_addr(name: str, addr: str) -> str:
    """One address for humans: "Name <addr>", or whichever of the two there is."""
    if name and addr:
        return f"{name} <{addr}>"
    return name or addr


_ADDRESS_LIKE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@(?:\w(?:[\w-]*\w)?\.)+[^\W\d_]{2,}")


def lookalike_address(name: str, addr: str) -> str:
    """The address a display name pretends to be, when it names one that is not the real address; else ""."""
    if "@" not in name:
        return ""
    for token in _ADDRESS_LIKE.findall(name):
        if token.strip(".").lower() != addr.strip().lower():
            return token.strip(".")
    return ""


def sender_warning(name: str, addr: str) -> str:
    """One sentence for the reader when the sender's name looks like another address (a spoofing trick); else ""."""
    fake = lookalike_address(name, addr)
    if not fake:
        return ""
    real = addr or "no address at all"
    return f"Careful: the sender's name shows {fake}, but this message comes from {real}."


_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def compose_addr(name: str, addr: str) -> str:
    """(name, addr) -> an editable "Name <addr>" string, quoting the name when it needs it (no RFC 2047)."""
    if not name:
        return addr
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>" if addr else name
