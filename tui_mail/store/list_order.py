"""The message list's shape in SQL: sort key and direction, threads, and collapsed threads (for window/count/position).

A collapsed thread shows one row: its newest message in the folder (the row whose date the threaded list sorts the
thread by, so a collapsed list still reads in date order, and the message most likely to need reading). Which
threads are collapsed is per view: a flag for "all" plus the thread ids toggled against it, compiled into the WHERE
clause, so the list stays one ordered index walk and never loads a folder into Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SORTS = ("date", "sender", "subject", "size")

# The newest message of its thread in its folder (ties broken by row id), kept by triggers (schema migration 7).
HEAD = "thread_head = 1"

_SENDER = "(CASE WHEN {p}from_name <> '' THEN {p}from_name ELSE {p}from_addr END) COLLATE NOCASE"
# "Re: x", "Fwd: x" and "Fw: x" sort with "x" (one prefix; a second one is rare enough to sort under R).
_SUBJECT = (
    "(CASE WHEN {p}subject LIKE 're:%' THEN ltrim(substr({p}subject, 4)) "
    "WHEN {p}subject LIKE 'fw:%' THEN ltrim(substr({p}subject, 4)) "
    "WHEN {p}subject LIKE 'fwd:%' THEN ltrim(substr({p}subject, 5)) ELSE ltrim({p}subject) END) COLLATE NOCASE"
)
_KEYS = {"sender": _SENDER, "subject": _SUBJECT, "size": "{p}size"}
# Natural direction of each key: newest and largest first, names A to Z.
_DESCENDING = {"date": True, "sender": False, "subject": False, "size": True}


@dataclass(frozen=True, slots=True)
class ListOrder:
    """How a list is ordered and folded: flat or threaded, by which key, reversed or not, which threads collapsed."""

    threaded: bool = False
    sort: str = "date"
    reverse: bool = False
    collapsed: bool = False  # every thread collapsed, except those in `flipped`
    flipped: frozenset[int] = frozenset()  # thread ids toggled against `collapsed`

    def is_collapsed(self, thread_id: int | None) -> bool:
        """Whether this thread shows as one row."""
        return self.threaded and thread_id is not None and self.collapsed != (thread_id in self.flipped)

    @property
    def folding(self) -> bool:
        """Some thread may be collapsed (the list needs the fold filter)."""
        return self.threaded and (self.collapsed or bool(self.flipped))

    def toggled(self, thread_id: int) -> ListOrder:
        """The same order with one thread collapsed or expanded."""
        flipped = self.flipped ^ {thread_id}
        return ListOrder(self.threaded, self.sort, self.reverse, self.collapsed, frozenset(flipped))

    def all_folded(self, collapsed: bool) -> ListOrder:
        return ListOrder(self.threaded, self.sort, self.reverse, collapsed, frozenset())


FLAT = ListOrder()


def fold_filter(order: ListOrder, folder_id: int | None, query: str) -> tuple[str, tuple[object, ...]]:
    """The extra WHERE term that hides the non-newest rows of collapsed threads ("" when nothing is collapsed).
    Only a folder's own list folds; search results always show every hit."""
    if not order.folding or folder_id is None or query:
        return "", ()
    ids = tuple(sorted(order.flipped))
    marks = ",".join("?" * len(ids))
    if order.collapsed:
        return (f" AND (thread_id IN ({marks}) OR {HEAD})", ids) if ids else (f" AND {HEAD}", ())
    return f" AND (thread_id NOT IN ({marks}) OR {HEAD})", ids


def count_terms(order: ListOrder, folder_id: int | None, query: str) -> list[tuple[int, str, tuple[object, ...]]]:
    """How to count a folded list with index range scans: (sign, extra WHERE, params) counts to add up. (An OR of
    "head or listed thread" would scan the folder: 90 ms at 100k; heads and listed threads apart take ~5 ms.)"""
    if not order.folding or folder_id is None or query:
        return [(1, "", ())]
    ids = tuple(sorted(order.flipped))
    marks = ",".join("?" * len(ids))
    if order.collapsed:
        terms: list[tuple[int, str, tuple[object, ...]]] = [(1, f" AND {HEAD}", ())]
        return [*terms, (1, f" AND thread_head = 0 AND thread_id IN ({marks})", ids)] if ids else terms
    return [(1, "", ()), (-1, f" AND thread_head = 0 AND thread_id IN ({marks})", ids)]


def order_by(order: ListOrder) -> str:
    """The ORDER BY expression of the list (threads in tree order inside, ordered by the key of their newest row)."""
    desc = _DESCENDING[order.sort] != order.reverse
    d = "DESC" if desc else "ASC"
    if not order.threaded:
        if order.sort == "date":
            return f"date {d}, id {d}"
        return f"{_KEYS[order.sort].format(p='')} {d}, date DESC, id DESC"
    if order.sort == "date":
        return f"thread_date {d}, thread_id {d}, thread_pos, id"
    return f"{_head_key(order.sort)} {d}, thread_date DESC, thread_id DESC, thread_pos, id"


def sort_value(order: ListOrder) -> str:
    """The row's sort key as a column expression (what before_terms compares with): threaded, its thread's."""
    if order.sort == "date":
        return "0"
    return _head_key(order.sort) if order.threaded else _KEYS[order.sort].format(p="")


def _head_key(sort: str) -> str:
    """A row's thread's sort key: the key of the thread's newest message in the folder (the row a collapsed thread
    shows), the row's own when it has no thread."""
    key = _KEYS[sort]
    return (
        f"COALESCE((SELECT {key.format(p='h.')} FROM messages h WHERE h.thread_id = messages.thread_id "
        f"AND +h.folder_id = messages.folder_id AND h.thread_head = 1), {key.format(p='')})"
    )


def before_terms(
    order: ListOrder, me: Sequence[object], folder_id: int | None
) -> list[tuple[str, tuple[object, ...]]] | None:
    """Conditions whose row counts add up to a row's index (index range scans for the date orders, one folder scan
    for another key: threaded, the threads whose newest message sorts first, found on the heads' index); None: the
    caller numbers the rows instead. me = (date, id, thread_date, thread_id, thread_pos, sort value) of the row."""
    date, mid, thread_date, thread_id, thread_pos, value = me
    if order.sort != "date":
        first = "<" if not (_DESCENDING[order.sort] != order.reverse) else ">"
        if order.threaded:
            if thread_id is None or folder_id is None:
                return None
            hkey = _KEYS[order.sort].format(p="h.")
            before = (
                "thread_id IN (SELECT h.thread_id FROM messages h WHERE h.folder_id = ? AND h.thread_head = 1 AND "
                f"({hkey} {first} ? OR ({hkey} = ? AND (h.thread_date > ? OR (h.thread_date = ? AND h.thread_id > ?)))))"
            )
            return [
                (before, (folder_id, value, value, thread_date, thread_date, thread_id)),
                (
                    "thread_id = ? AND (thread_pos < ? OR (thread_pos = ? AND id < ?))",
                    (thread_id, thread_pos, thread_pos, mid),
                ),
            ]
        key = _KEYS[order.sort].format(p="")
        return [
            (
                f"({key} {first} ? OR ({key} = ? AND (date > ? OR (date = ? AND id > ?))))",
                (value, value, date, date, mid),
            )
        ]
    after = ">" if not order.reverse else "<"
    if not order.threaded:
        return [(f"date {after} ?", (date,)), (f"date = ? AND id {after} ?", (date, mid))]
    if thread_id is None:
        return None
    return [
        (f"thread_date {after} ?", (thread_date,)),
        (f"thread_date = ? AND thread_id {after} ?", (thread_date, thread_id)),
        ("thread_date = ? AND thread_id = ? AND thread_pos < ?", (thread_date, thread_id, thread_pos)),
        ("thread_date = ? AND thread_id = ? AND thread_pos = ? AND id < ?", (thread_date, thread_id, thread_pos, mid)),
    ]


def mark_heads(conn: sqlite3.Connection) -> None:
    """Recompute every thread_head (rows written straight into the table with a thread_id, as benchmarks do)."""
    conn.execute("UPDATE messages SET thread_head = 1 WHERE thread_head = 0")
    conn.execute(
        "UPDATE messages SET thread_head = 0 WHERE thread_id IS NOT NULL AND EXISTS (SELECT 1 FROM messages h "
        "WHERE h.thread_id = messages.thread_id AND +h.folder_id = messages.folder_id "
        "AND (h.date > messages.date OR (h.date = messages.date AND h.id > messages.id)))"
    )


def thread_counts(conn: sqlite3.Connection, folder_id: int, thread_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """thread id -> (messages, unread) in the folder, for the collapsed rows on screen (one query per page)."""
    ids = sorted(set(thread_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT thread_id, COUNT(*), SUM(seen = 0) FROM messages WHERE thread_id IN ({marks}) AND +folder_id = ? "
        "GROUP BY thread_id",
        (*ids, folder_id),
    )
    return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}


def thread_members(conn: sqlite3.Connection, folder_id: int, thread_id: int) -> list[int]:
    """Row ids of the thread's messages in the folder, in tree order (what a thread action acts on)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM messages WHERE thread_id = ? AND +folder_id = ? ORDER BY thread_pos, id",
            (thread_id, folder_id),
        )
    ]
