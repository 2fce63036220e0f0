"""Several accounts' caches read as one list, newest first (the unified inbox), without loading every row.

Each account keeps its own cache file; this reads them side by side. The list order is (date DESC, account order,
id DESC). A page is a k-way merge of per-cache keyset pages; where each page starts in every cache is remembered
("marks"), so scrolling costs one small indexed query per cache and page whatever the depth. A jump far from any
mark first narrows by date with counts, then merges the short rest. Row ids are made unique across accounts by
encoding them (local id * STRIDE + the account's place); `locate` decodes one.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..models import MessageRow, Role
from .cache import _ROW_COLUMNS, Cache, _row

log = logging.getLogger(__name__)

STRIDE = 1024  # encoded id = local id * STRIDE + member index: unique across up to 1024 accounts
MERGE_GAP = 3000  # a jump at most this far past a mark is merged row by row; farther, it is narrowed by date first
INBOXES = -1  # the folder id the unified list is shown with (None: every folder of every account, for search)


@dataclass(frozen=True, slots=True)
class Member:
    """One account in the unified list: its cache and the folder shown (its Inbox)."""

    account: str
    cache: Cache
    folder_id: int


# A member's place in its ordered stream: how many of its rows come before, and the last of them (date, id).
_Cursor = tuple[int, int | None, int]


def members_for(accounts: Sequence[tuple[str, Cache]]) -> list[Member]:
    """The members for these accounts: each one's Inbox (an account without one yet is left out)."""
    out: list[Member] = []
    for name, cache in accounts:
        try:  # as Cache.folder_by_role, without counting the folder's messages
            inbox = cache.conn.execute(
                "SELECT id FROM folders WHERE role=? ORDER BY local_only, id LIMIT 1", (Role.INBOX.value,)
            ).fetchone()
        except sqlite3.Error:
            log.warning("unified inbox: the cache of %s cannot be read", name, exc_info=True)
            continue
        if inbox is not None:
            out.append(Member(name, cache, int(inbox[0])))
    return out


class UnifiedCache:
    """The list API of Cache (count, window, position, ids, message) over several accounts' Inboxes."""

    def __init__(self, members: Sequence[Member]) -> None:
        self.members = tuple(members)
        self.account = ""  # not one account's cache
        self._lock = threading.Lock()
        self._marks: dict[tuple[int | None, str, tuple[int, ...]], dict[int, tuple[_Cursor, ...]]] = {}
        self._totals: dict[
            tuple[int | None, str, tuple[int, ...]], list[int]
        ] = {}  # rows per member, as the last count() saw
        self.queries = 0  # SQL statements run (the bench prints it)

    # -- ids --------------------------------------------------------------------------------------------------

    def encode(self, account: str, local_id: int) -> int | None:
        for i, m in enumerate(self.members):
            if m.account == account:
                return local_id * STRIDE + i
        return None

    def locate(self, gid: int) -> tuple[str, int]:
        """(account, id in that account's cache) of an encoded id."""
        index = gid % STRIDE
        if index >= len(self.members):
            raise KeyError(gid)
        return self.members[index].account, gid // STRIDE

    def member_of(self, gid: int) -> Member:
        return self.members[gid % STRIDE]

    def label(self, row: MessageRow) -> str:
        """The account a row of this list belongs to."""
        index = row.id % STRIDE
        return self.members[index].account if index < len(self.members) else ""

    # -- the Cache list API ---------------------------------------------------------------------------------------

    def _folder(self, member: Member, folder_id: int | None) -> int | None:
        return None if folder_id is None else member.folder_id

    def _where(
        self, member: Member, folder_id: int | None, query: str, include: Sequence[int] = ()
    ) -> tuple[str, tuple[object, ...]]:
        return member.cache._filter(self._folder(member, folder_id), query, self._local(member, include))

    def _local(self, member: Member, include: Sequence[int]) -> tuple[int, ...]:
        """The member's own ids among encoded ids (rows a server search found in that account)."""
        return tuple(
            g // STRIDE for g in include if g % STRIDE < len(self.members) and self.members[g % STRIDE] is member
        )

    def _each(self) -> Iterator[tuple[int, Member]]:
        yield from enumerate(self.members)

    def count(
        self, folder_id: int | None, query: str = "", include: Sequence[int] = (), *, order: object = None
    ) -> int:
        """Rows in the list (a malformed query raises QueryError, as Cache.count does). A new count forgets the
        marks: the caches may have changed."""
        totals: list[int] = []
        include = tuple(include)
        for _, m in self._each():
            try:
                totals.append(m.cache.count(self._folder(m, folder_id), query, self._local(m, include)))
            except sqlite3.Error:
                log.warning("unified inbox: counting %s failed", m.account, exc_info=True)
                totals.append(0)
        with self._lock:
            self._marks.pop((folder_id, query, include), None)
            self._totals[(folder_id, query, include)] = totals
        return sum(totals)

    def ids(self, folder_id: int | None, query: str = "", include: Sequence[int] = ()) -> list[int]:
        out: list[int] = []
        for i, m in self._each():
            try:
                out.extend(
                    local * STRIDE + i
                    for local in m.cache.ids(self._folder(m, folder_id), query, self._local(m, include))
                )
            except sqlite3.Error:
                log.warning("unified inbox: reading %s failed", m.account, exc_info=True)
        return out

    def message(self, gid: int) -> MessageRow | None:
        try:
            member = self.member_of(gid)
        except IndexError:
            return None
        row = member.cache.message(gid // STRIDE)
        return replace(row, id=gid, thread_depth=0) if row is not None else None

    def window(
        self,
        folder_id: int | None,
        offset: int,
        limit: int,
        *,
        threaded: bool = False,
        query: str = "",
        include: Sequence[int] = (),
        order: object = None,
    ) -> list[MessageRow]:
        """Rows offset..offset+limit of the merged list, newest first (threads and sorting are per account: the
        unified list is flat, whatever `threaded` and `order` say)."""
        if limit <= 0 or not self.members:
            return []
        include = tuple(include)
        start, cursors = self._seek(folder_id, query, offset, include)
        keys = self._merge(folder_id, query, cursors, offset - start + limit, include)
        # Remember where the page after this one starts (scrolling on needs no seek).
        skip = offset - start
        page = keys[skip : skip + limit]
        if len(keys) >= skip + limit:
            self._advance_mark(folder_id, query, start, cursors, keys[: skip + limit], offset + limit, include)
        return self._rows(page)

    def position(
        self,
        folder_id: int | None,
        message_id: int,
        *,
        threaded: bool = False,
        query: str = "",
        include: Sequence[int] = (),
        order: object = None,
    ) -> int | None:
        """Index of an encoded id in the merged list: per cache, the rows ordered before it (index range counts)."""
        try:
            me = self.member_of(message_id)
        except IndexError:
            return None
        my_index = message_id % STRIDE
        local = message_id // STRIDE
        where, params = self._where(me, folder_id, query, include)
        found = me.cache.conn.execute(f"SELECT date FROM messages WHERE {where} AND id=?", (*params, local)).fetchone()
        if found is None:
            return None
        date = int(found[0])
        total = 0
        for i, m in self._each():
            w, p = self._where(m, folder_id, query, include)
            values: tuple[int, ...] = (date,)
            if i < my_index:
                cond = "date >= ?"
            elif i == my_index:
                cond, values = "(date > ? OR (date = ? AND id > ?))", (date, date, local)
            else:
                cond = "date > ?"
            total += self._scalar(m, f"SELECT COUNT(*) FROM messages WHERE {w} AND {cond}", (*p, *values))
        return total

    # -- merging ------------------------------------------------------------------------------------------------

    def _scalar(self, m: Member, sql: str, params: tuple[object, ...]) -> int:
        self.queries += 1
        try:
            return int(m.cache.conn.execute(sql, params).fetchone()[0])
        except sqlite3.Error:
            log.warning("unified inbox: reading %s failed", m.account, exc_info=True)
            return 0

    def _keys(
        self, i: int, m: Member, folder_id: int | None, query: str, cursor: _Cursor, n: int, include: tuple[int, ...]
    ) -> list[tuple]:
        """Up to n (-date, member, -id) keys of member i after its cursor, in list order."""
        where, params = self._where(m, folder_id, query, include)
        _, date, last_id = cursor
        if date is not None:
            where += " AND date <= ? AND (date < ? OR id < ?)"
            params = (*params, date, date, last_id)
        self.queries += 1
        try:
            rows = m.cache.conn.execute(
                f"SELECT date, id FROM messages WHERE {where} ORDER BY date DESC, id DESC LIMIT ?", (*params, n)
            ).fetchall()
        except sqlite3.Error:
            log.warning("unified inbox: reading %s failed", m.account, exc_info=True)
            return []
        return [(-d, i, -mid) for d, mid in rows]

    def _merge(
        self, folder_id: int | None, query: str, cursors: tuple[_Cursor, ...], n: int, include: tuple[int, ...]
    ) -> list[tuple]:
        streams = [self._keys(i, m, folder_id, query, cursors[i], n, include) for i, m in self._each()]
        out: list[tuple] = []
        for key in heapq.merge(*streams):
            out.append(key)
            if len(out) >= n:
                break
        return out

    def _advance_mark(
        self,
        folder_id: int | None,
        query: str,
        start: int,
        cursors: tuple[_Cursor, ...],
        consumed: list[tuple],
        at: int,
        include: tuple[int, ...] = (),
    ) -> None:
        new = list(cursors)
        for neg_date, i, neg_id in consumed:
            count = new[i][0]
            new[i] = (count + 1, -neg_date, -neg_id)
        with self._lock:
            marks = self._marks.setdefault((folder_id, query, include), {})
            marks[at] = tuple(new)

    def _seek(
        self, folder_id: int | None, query: str, offset: int, include: tuple[int, ...] = ()
    ) -> tuple[int, tuple[_Cursor, ...]]:
        """The nearest remembered place at or before offset; narrowed by date first when it is far."""
        start_cursors: tuple[_Cursor, ...] = tuple((0, None, 0) for _ in self.members)
        with self._lock:
            marks = self._marks.setdefault((folder_id, query, include), {0: start_cursors})
            places = sorted(marks)
            start = places[bisect.bisect_right(places, offset) - 1]
            cursors = marks[start]
        if offset - start <= MERGE_GAP:
            return start, cursors
        narrowed = self._narrow(folder_id, query, offset, include)
        if narrowed is not None and narrowed[0] > start:
            with self._lock:
                self._marks[(folder_id, query, include)][narrowed[0]] = narrowed[1]
            return narrowed
        return start, cursors

    def _narrow(
        self, folder_id: int | None, query: str, offset: int, include: tuple[int, ...] = ()
    ) -> tuple[int, tuple[_Cursor, ...]] | None:
        """A place at most MERGE_GAP rows before offset that starts at a date boundary (every row dated after
        some moment before it), found by interpolating on dates with per-cache index range counts."""
        totals = self._totals.get((folder_id, query, include))
        bounds: list[tuple[int, int, int]] = []  # per member: oldest date, newest date, rows
        for i, m in self._each():
            w, p = self._where(m, folder_id, query, include)
            try:
                # Two ordered LIMIT 1 reads (one index probe each; MIN and MAX together would scan).
                oldest = m.cache.conn.execute(f"SELECT date FROM messages WHERE {w} ORDER BY date LIMIT 1", p)
                first = oldest.fetchone()
                newest = m.cache.conn.execute(f"SELECT date FROM messages WHERE {w} ORDER BY date DESC LIMIT 1", p)
                last = newest.fetchone()
                if first is None or last is None:
                    bounds.append((0, 0, 0))
                    continue
                found = (first[0], last[0])
                rows = (
                    totals[i]
                    if totals is not None
                    else m.cache.count(self._folder(m, folder_id), query, self._local(m, include))
                )
            except sqlite3.Error:
                bounds.append((0, 0, 0))
                continue
            bounds.append((int(found[0]), int(found[1]), rows))
        if not any(b[2] for b in bounds):
            return None
        lo = min(b[0] for b in bounds if b[2]) - 1  # rows dated after lo: all of them (too many)
        hi = max(b[1] for b in bounds if b[2])  # rows dated after hi: none
        after_lo, after_hi = sum(b[2] for b in bounds), 0
        target = max(0, offset - MERGE_GAP // 2)  # aim at the middle of the acceptable stretch
        best: tuple[int, tuple[_Cursor, ...]] | None = None
        for step in range(64):
            if hi - lo <= 1:
                break
            if step % 3 == 2 or after_lo == after_hi:
                mid = (lo + hi) // 2  # now and then a plain halving, so skewed dates still converge
            else:
                share = (target - after_hi) / (after_lo - after_hi)  # later rows are dated higher
                mid = min(hi - 1, max(lo + 1, round(hi - (hi - lo) * share)))
            counts = [self._after(m, folder_id, query, mid, bounds[i], include) for i, m in self._each()]
            before = sum(counts)
            if before > offset:
                lo, after_lo = mid, before
            else:
                hi, after_hi = mid, before
                best = (before, tuple((c, mid + 1, 0) for c in counts))
                if offset - before <= MERGE_GAP:
                    break
        return best

    def _after(
        self,
        m: Member,
        folder_id: int | None,
        query: str,
        date: int,
        bounds: tuple[int, int, int],
        include: tuple[int, ...] = (),
    ) -> int:
        """Rows dated after date, counting whichever side of it is likely the smaller (an index range count)."""
        oldest, newest, rows = bounds
        if not rows or date >= newest:
            return 0
        if date < oldest:
            return rows
        w, p = self._where(m, folder_id, query, include)
        if date - oldest < newest - date:
            return rows - self._scalar(m, f"SELECT COUNT(*) FROM messages WHERE {w} AND date <= ?", (*p, date))
        return self._scalar(m, f"SELECT COUNT(*) FROM messages WHERE {w} AND date > ?", (*p, date))

    def _rows(self, keys: Sequence[tuple]) -> list[MessageRow]:
        """Full rows for merged keys, one query per cache."""
        wanted: dict[int, list[int]] = {}
        for _, i, neg_id in keys:
            wanted.setdefault(i, []).append(-neg_id)
        found: dict[int, MessageRow] = {}
        for i, local_ids in wanted.items():
            m = self.members[i]
            marks = ",".join("?" * len(local_ids))
            self.queries += 1
            try:
                rows = m.cache.conn.execute(
                    f"SELECT {_ROW_COLUMNS} FROM messages WHERE id IN ({marks})", local_ids
                ).fetchall()
            except sqlite3.Error:
                log.warning("unified inbox: reading %s failed", m.account, exc_info=True)
                continue
            for r in rows:
                row = _row(r)
                gid = row.id * STRIDE + i
                found[gid] = replace(row, id=gid, thread_depth=0)
        return [found[gid] for _, i, neg_id in keys if (gid := -neg_id * STRIDE + i) in found]


__all__ = ["INBOXES", "STRIDE", "Member", "UnifiedCache", "members_for"]
