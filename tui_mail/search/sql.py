"""Compile a parsed search query into an SQL condition over the cache's `messages` table and its FTS5 index.

Every user string reaches SQLite as a bound parameter; text terms become FTS5 strings quoted the FTS5 way
("..." with inner quotes doubled), so FTS5 operators typed by a user (NEAR, AND, ^, :) are only words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..models import ANSWERED, DRAFT, FLAGGED, Folder, Role
from .query import (
    And,
    DateRange,
    Flag,
    HasAttachment,
    InAccount,
    InFolder,
    Node,
    Not,
    Or,
    SizeRange,
    Text,
    walk,
)

# FTS5 column for each text field; None (no field) searches every column.
FTS_COLUMNS = {"from": "sender", "to": "rcpt_to", "cc": "rcpt_cc", "subject": "subject", "body": "body"}
FTS_COLUMNS["filename"] = "filenames"
_WORDISH = re.compile(r"\w", re.UNICODE)
_ROLE_ALIASES = {"spam": "junk"}


@dataclass(frozen=True, slots=True)
class Scope:
    """What the query runs against: this account's name and (read only when the query has in:) its folders."""

    account: str
    folders: Callable[[], Sequence[Folder]]


def fts_string(t: Text) -> str | None:
    """The FTS5 expression for one text term, or None when it holds nothing searchable (only punctuation)."""
    if not _WORDISH.search(t.value):
        return None
    quoted = '"' + t.value.replace('"', '""') + '"' + ("*" if t.prefix else "")
    column = FTS_COLUMNS.get(t.field) if t.field else None
    return f"{column} : {quoted}" if column else quoted


def scopes_itself(node: Node) -> bool:
    """True when the query names its own folders or account (in:, account:), so the caller searches the whole
    account rather than only the folder on screen."""
    return any(isinstance(n, InFolder | InAccount) for n in walk(node))


def folder_ids(name: str, folders: Sequence[Folder]) -> list[int]:
    """Folders matching in:NAME — a role name (inbox, sent, drafts, trash, junk/spam, archive) on any account, else
    the folder's name (case-insensitive; with or without the server's personal prefix such as "INBOX.")."""
    low = name.casefold()
    role = _ROLE_ALIASES.get(low, low)
    by_role = [f.id for f in folders if f.role is not Role.NONE and f.role.value == role]
    if by_role:
        return by_role
    out = []
    for f in folders:
        full = f.name.casefold()
        if full == low:
            out.append(f.id)
            continue
        delim = f.delimiter or "/"
        if full.endswith(delim.casefold() + low) and full.split(delim.casefold(), 1)[0] == "inbox":
            out.append(f.id)
    return out


def text_match(node: Node) -> str | None:
    """The FTS5 expression every hit must match (the query's text terms ANDed at its top), or None."""
    items = node.items if isinstance(node, And) else (node,)
    texts = [fts_string(i) for i in items if isinstance(i, Text)]
    if not texts or any(t is None for t in texts):
        return None
    return " AND ".join(t for t in texts if t)


def compile_where(node: Node, scope: Scope) -> tuple[str, list[object]]:
    """SQL condition (over messages' columns) and its parameters."""
    params: list[object] = []
    sql = _compile(node, scope, params)
    return sql, params


def _match(expr: str, params: list[object]) -> str:
    params.append(expr)
    return "search_doc IN (SELECT rowid FROM search WHERE search MATCH ?)"


def _compile(node: Node, scope: Scope, params: list[object]) -> str:
    if isinstance(node, And):
        # Text terms of one AND share one MATCH (one index walk instead of one per word).
        texts = [fts_string(i) for i in node.items if isinstance(i, Text)]
        parts: list[str] = []
        if any(t is None for t in texts):
            return "0"
        if texts:
            parts.append(_match(" AND ".join(t for t in texts if t), params))
        parts.extend(_compile(i, scope, params) for i in node.items if not isinstance(i, Text))
        return "(" + " AND ".join(parts) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_compile(i, scope, params) for i in node.items) + ")"
    if isinstance(node, Not):
        # COALESCE: a message not indexed yet (search_doc NULL) does not contain the word, so "-word" keeps it.
        return f"NOT COALESCE({_compile(node.item, scope, params)}, 0)"
    if isinstance(node, Text):
        expr = fts_string(node)
        return "0" if expr is None else _match(expr, params)
    if isinstance(node, Flag):
        return _flag(node.name, params)
    if isinstance(node, HasAttachment):
        return "has_attachments=1"
    if isinstance(node, InFolder):
        ids = folder_ids(node.name, scope.folders())
        if not ids:
            return "0"
        params.extend(ids)
        return f"folder_id IN ({','.join('?' * len(ids))})"
    if isinstance(node, InAccount):
        return "1" if node.name.casefold() == scope.account.casefold() else "0"
    if isinstance(node, DateRange):
        conds = []
        if node.start is not None:
            conds.append("date >= ?")
            params.append(node.start)
        if node.end is not None:
            conds.append("date < ?")
            params.append(node.end)
        return "(" + " AND ".join(conds) + ")" if conds else "1"
    if isinstance(node, SizeRange):
        conds = []
        if node.above is not None:
            conds.append("size > ?")
            params.append(node.above)
        if node.below is not None:
            conds.append("size < ?")
            params.append(node.below)
        return "(" + " AND ".join(conds) + ")" if conds else "1"
    raise TypeError(f"unknown query node {node!r}")  # pragma: no cover


def _flag(name: str, params: list[object]) -> str:
    if name == "unread":
        return "seen=0"
    if name == "read":
        return "seen=1"
    flag = {"flagged": FLAGGED, "unflagged": FLAGGED, "answered": ANSWERED, "draft": DRAFT}[name]
    params.append(f" {flag} ")
    cond = "instr(' ' || flags || ' ', ?) > 0"
    return f"NOT {cond}" if name == "unflagged" else cond
