"""Translate a parsed search query into IMAP SEARCH criteria (RFC 3501 6.4.4), for searching on the server.

What IMAP cannot express (file names, has:attachment, in:/account: which choose folders rather than filter them)
is left out of the criteria and named in `local_only`, so the caller can say "searched locally only". Leaving a
term out of an AND only widens the server's answer; under OR or NOT it would change the meaning, so there the
whole query is declared untranslatable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .query import And, DateRange, Flag, HasAttachment, InAccount, InFolder, Node, Not, Or, SizeRange, Text

_TEXT_KEYS = {None: "TEXT", "from": "FROM", "to": "TO", "cc": "CC", "subject": "SUBJECT", "body": "BODY"}
_FLAG_KEYS = {
    "unread": ["UNSEEN"],
    "read": ["SEEN"],
    "flagged": ["FLAGGED"],
    "unflagged": ["UNFLAGGED"],
    "answered": ["ANSWERED"],
    "draft": ["DRAFT"],
}


class Untranslatable(Exception):
    """The query cannot be run on an IMAP server without changing its meaning."""


@dataclass
class Criteria:
    items: list[str | bytes | list[object]] = field(default_factory=list)
    local_only: list[str] = field(default_factory=list)  # what was left out, for a note to the user


def _imap_date(ts: int) -> str:
    t = time.localtime(ts)
    return time.strftime("%d-%b-%Y", t) if t.tm_year > 1900 else "01-Jan-1970"


def _one(node: Node, out: Criteria, *, top: bool) -> list[object]:
    """Criteria for one node as a flat list (IMAP ANDs adjacent keys)."""
    if isinstance(node, Text):
        if node.field == "filename":
            if not top:
                raise Untranslatable("filename:")
            out.local_only.append("filename:")
            return []
        return [_TEXT_KEYS[node.field], node.value]
    if isinstance(node, Flag):
        return list(_FLAG_KEYS[node.name])
    if isinstance(node, HasAttachment):
        if not top:
            raise Untranslatable("has:attachment")
        out.local_only.append("has:attachment")
        return []
    if isinstance(node, InFolder | InAccount):
        if not top:
            raise Untranslatable("in: or account: inside OR/NOT")
        return []  # they choose the folders searched
    if isinstance(node, DateRange):
        crit: list[object] = []
        if node.start is not None:
            crit += ["SINCE", _imap_date(node.start)]
        if node.end is not None:
            crit += ["BEFORE", _imap_date(node.end)]
        return crit
    if isinstance(node, SizeRange):
        crit = []
        if node.above is not None:
            crit += ["LARGER", str(node.above)]
        if node.below is not None:
            crit += ["SMALLER", str(node.below)]
        return crit
    if isinstance(node, Not):
        inner = _one(node.item, out, top=False)
        return ["NOT", inner] if inner else []
    if isinstance(node, And):
        flat: list[object] = []
        for item in node.items:
            flat += _one(item, out, top=top)
        return flat
    if isinstance(node, Or):
        parts = [_one(i, out, top=False) for i in node.items]
        if any(not p for p in parts):
            raise Untranslatable("an empty OR branch")
        expr: list[object] = parts[-1]
        for p in reversed(parts[:-1]):
            expr = ["OR", p, expr]
        return expr
    raise Untranslatable(repr(node))  # pragma: no cover


def to_criteria(node: Node) -> Criteria:
    """IMAP SEARCH criteria for the query (raises Untranslatable). An empty item list means ALL."""
    out = Criteria()
    out.items = _one(node, out, top=True) or ["ALL"]  # type: ignore[assignment]
    return out
