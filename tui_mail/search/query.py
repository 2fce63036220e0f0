"""The search query language: text typed by the user -> a syntax tree that the cache and IMAP search both compile.

    words "quoted phrases" prefix*  (AND by default)   a OR b   -word   ( ... )
    from: to: cc: subject: body: filename:   has:attachment   is:unread|read|flagged|answered|draft
    in:FOLDER (in:inbox, in:sent, in:drafts, in:trash, in:junk, in:archive work on every account)   account:NAME
    after:2024-01-31 before:2024-02-01 date:2024-03 newer_than:7d older_than:2w   larger:1M smaller:50k

A malformed query raises QueryError with one sentence saying what is wrong and where (1-based column).
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field

from ..errors import MailError

TEXT_FIELDS = ("from", "to", "cc", "subject", "body", "filename")
FLAG_NAMES = ("unread", "read", "flagged", "unflagged", "answered", "draft")
ROLE_NAMES = ("inbox", "sent", "drafts", "trash", "junk", "spam", "archive")
MAX_QUERY = 10_000  # characters; longer queries are refused, not truncated
MAX_TERMS = 200


class QueryError(MailError):
    """A search query that cannot be understood; the message says what and where."""


# -- the tree ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """Words to find. field None = anywhere (subject, people, body, file names)."""

    value: str
    field: str | None = None
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Flag:
    name: str  # one of FLAG_NAMES


@dataclass(frozen=True, slots=True)
class HasAttachment:
    pass


@dataclass(frozen=True, slots=True)
class InFolder:
    name: str  # a folder name, or a role name from ROLE_NAMES (matched case-insensitively)


@dataclass(frozen=True, slots=True)
class InAccount:
    name: str


@dataclass(frozen=True, slots=True)
class DateRange:
    """start <= date < end (unix seconds; None = open)."""

    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class SizeRange:
    """Message size in bytes: larger than `above`, smaller than `below` (None = open)."""

    above: int | None = None
    below: int | None = None


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...] = field(default_factory=tuple)


Node = Text | Flag | HasAttachment | InFolder | InAccount | DateRange | SizeRange | Not | And | Or


def walk(node: Node) -> list[Node]:
    """Every node of the tree, depth first."""
    out: list[Node] = [node]
    if isinstance(node, And | Or):
        for item in node.items:
            out.extend(walk(item))
    elif isinstance(node, Not):
        out.extend(walk(node.item))
    return out


# -- tokens --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "word", "phrase", "(", ")", "-", "OR"
    value: str
    col: int  # 1-based column of the token's first character
    field: str | None = None  # "from" in from:alice, lower case
    field_col: int = 0


_SPACE = re.compile(r"\s+")
_FIELD = re.compile(r"([A-Za-z_]+):")


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
            continue
        if c in "()":
            out.append(_Tok(c, c, i + 1))
            i += 1
            continue
        if c == "-" and i + 1 < n and not text[i + 1].isspace() and (not out or _boundary(text, i)):
            out.append(_Tok("-", "-", i + 1))
            i += 1
            continue
        fld: str | None = None
        field_col = 0
        m = _FIELD.match(text, i)
        if m and m.group(1).lower() in _FIELDS and m.end() < n and not text[m.end()].isspace():
            fld, field_col = m.group(1).lower(), i + 1
            i = m.end()
        if i < n and text[i] == '"':
            start = i
            j = text.find('"', i + 1)
            if j < 0:
                raise QueryError(f"Unclosed quote at column {start + 1}.")
            value = text[i + 1 : j]
            i = j + 1
            prefix = i < n and text[i] == "*"
            if prefix:
                i += 1
            out.append(_Tok("phrase*" if prefix else "phrase", value, start + 1, fld, field_col))
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text[i] == '"':
                raise QueryError(f"Unexpected quote at column {i + 1}: put a space before a quoted phrase.")
            i += 1
        word = text[start:i]
        if fld is None and word == "OR":
            out.append(_Tok("OR", word, start + 1))
        else:
            out.append(_Tok("word", word, start + 1, fld, field_col))
    return out


def _boundary(text: str, i: int) -> bool:
    return i == 0 or text[i - 1].isspace() or text[i - 1] == "("


_FIELDS = {
    *TEXT_FIELDS,
    "has",
    "is",
    "in",
    "account",
    "after",
    "before",
    "date",
    "newer_than",
    "older_than",
    "larger",
    "smaller",
}


# -- parsing -------------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, toks: list[_Tok], text: str, now: float) -> None:
        self.toks, self.pos, self.text, self.now = toks, 0, text, now

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("OR", ")"):
                raise QueryError(f"OR at column {tok.col} needs something on both sides.")
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            items.append(self.parse_unary())
        if not items:
            tok = self.peek()
            if tok is not None and tok.kind == "OR":
                raise QueryError(f"OR at column {tok.col} needs something on both sides.")
            where = f"column {tok.col}" if tok is not None else "the end"
            raise QueryError(f"Expected a search term at {where}.")
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        tok = self.take()
        if tok.kind == "-":
            nxt = self.peek()
            if nxt is None or nxt.kind in ("OR", ")"):
                raise QueryError(f"'-' at column {tok.col} must stand right before a term.")
            return Not(self.parse_unary())
        if tok.kind == "(":
            if (nxt := self.peek()) is None:
                raise QueryError(f"Unclosed parenthesis at column {tok.col}.")
            if nxt.kind == ")":
                raise QueryError(f"Empty parentheses at column {tok.col}.")
            inner = self.parse_or()
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError(f"Unclosed parenthesis at column {tok.col}.")
            self.take()
            return inner
        if tok.kind == ")":
            raise QueryError(f"Unmatched ')' at column {tok.col}.")
        return self.term(tok)

    def term(self, tok: _Tok) -> Node:
        phrase = tok.kind.startswith("phrase")
        prefix = tok.kind == "phrase*"
        value = tok.value
        if not phrase and value.endswith("*") and len(value) > 1:
            prefix, value = True, value.rstrip("*")
        fld = tok.field
        if fld is None or fld in TEXT_FIELDS:
            if not value.strip():
                raise QueryError(f"Empty search text at column {tok.col}.")
            return Text(value, fld, phrase, prefix)
        where = f"column {tok.field_col}"
        low = value.lower()
        if fld == "has":
            if low in ("attachment", "attachments"):
                return HasAttachment()
            raise QueryError(f"has:{value} at {where}: only has:attachment is known.")
        if fld == "is":
            if low == "new":
                low = "unread"
            if low == "starred":
                low = "flagged"
            if low not in FLAG_NAMES:
                raise QueryError(f"is:{value} at {where}: use one of {', '.join('is:' + f for f in FLAG_NAMES)}.")
            return Flag(low)
        if fld == "in":
            return InFolder(value)
        if fld == "account":
            return InAccount(value)
        if fld in ("after", "before", "date"):
            start, end = _date_span(value, where, fld)
            if fld == "after":
                return DateRange(start=start)
            if fld == "before":
                return DateRange(end=start)
            return DateRange(start, end)
        if fld in ("newer_than", "older_than"):
            seconds = _age(value, where, fld)
            edge = int(self.now - seconds)
            return DateRange(start=edge) if fld == "newer_than" else DateRange(end=edge)
        if fld in ("larger", "smaller"):
            size = _size(value, where, fld)
            return SizeRange(above=size) if fld == "larger" else SizeRange(below=size)
        raise QueryError(f"Unknown field {fld}: at {where}.")  # pragma: no cover - _FIELDS guards this


_DATE = re.compile(r"^(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?$")
_AGE = re.compile(r"^(\d+)([hdwmy])$", re.IGNORECASE)
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kmg]?)b?$", re.IGNORECASE)
_AGE_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400, "y": 365 * 86400}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _local_midnight(year: int, month: int, day: int) -> int:
    return int(time.mktime((year, month, day, 0, 0, 0, 0, 0, -1)))


def _date_span(value: str, where: str, fld: str) -> tuple[int, int]:
    """YYYY, YYYY-MM or YYYY-MM-DD (local time) -> [start, end) in unix seconds."""
    m = _DATE.match(value)
    if not m:
        raise QueryError(f"{fld}:{value} at {where}: write the date as YYYY-MM-DD, YYYY-MM or YYYY.")
    year = int(m.group(1))
    month = int(m.group(2) or 0)
    day = int(m.group(3) or 0)
    if not 1970 <= year <= 9999 or (m.group(2) and not 1 <= month <= 12):
        raise QueryError(f"{fld}:{value} at {where} is not a real date.")
    if m.group(3) and not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise QueryError(f"{fld}:{value} at {where} is not a real date.")
    if not m.group(2):
        return _local_midnight(year, 1, 1), _local_midnight(year + 1, 1, 1)
    if not m.group(3):
        ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
        return _local_midnight(year, month, 1), _local_midnight(ny, nm, 1)
    start = _local_midnight(year, month, day)
    nxt = time.localtime(start + 36 * 3600)  # the next calendar day, DST-proof
    return start, _local_midnight(nxt.tm_year, nxt.tm_mon, nxt.tm_mday)


def _age(value: str, where: str, fld: str) -> int:
    m = _AGE.match(value)
    if not m:
        raise QueryError(f"{fld}:{value} at {where}: write an age like 7d, 2w, 3m or 1y.")
    return int(m.group(1)) * _AGE_UNITS[m.group(2).lower()]


def _size(value: str, where: str, fld: str) -> int:
    m = _SIZE.match(value)
    if not m:
        raise QueryError(f"{fld}:{value} at {where}: write a size like 50k, 1M or 2000.")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse(text: str, now: float | None = None) -> Node:
    """Parse a query; raises QueryError (one sentence, with the column) when it is malformed."""
    if len(text) > MAX_QUERY:
        raise QueryError(f"The query is too long ({len(text):,} characters; at most {MAX_QUERY:,}).")
    toks = _tokens(text)
    if not toks:
        raise QueryError("The query is empty.")
    if sum(1 for t in toks if t.kind in ("word", "phrase", "phrase*")) > MAX_TERMS:
        raise QueryError(f"The query has too many terms (at most {MAX_TERMS}).")
    p = _Parser(toks, text, time.time() if now is None else now)
    node = p.parse_or()
    rest = p.peek()
    if rest is not None:
        raise QueryError(f"Unmatched ')' at column {rest.col}.")
    return node
