"""Sync state in the cache: complete UID ranges per folder, bodies still to download, server flags applied in bulk."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from ..models import SEEN


class SyncState:
    """Mixed into Cache: the parts of the cache API only the sync engine uses."""

    if TYPE_CHECKING:

        @property
        def conn(self) -> sqlite3.Connection: ...

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    @staticmethod
    def _ranges(c: sqlite3.Connection, folder_id: int) -> list[tuple[int, int]]:
        return [
            (int(lo), int(hi))
            for lo, hi in c.execute("SELECT lo, hi FROM sync_ranges WHERE folder_id=? ORDER BY lo", (folder_id,))
        ]

    def _add_range(self, c: sqlite3.Connection, folder_id: int, lo: int, hi: int) -> None:
        """Merge [lo, hi] into the folder's complete ranges (adjacent and overlapping ones join)."""
        if hi < lo:
            return
        merged: list[tuple[int, int]] = []
        for a, b in sorted([*self._ranges(c, folder_id), (lo, hi)]):
            if merged and a <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        c.execute("DELETE FROM sync_ranges WHERE folder_id=?", (folder_id,))
        c.executemany(
            "INSERT INTO sync_ranges(folder_id, lo, hi) VALUES (?, ?, ?)", [(folder_id, a, b) for a, b in merged]
        )

    def server_row_count(self, folder_id: int) -> int:
        """How many of the folder's rows are server messages under its current UIDVALIDITY (what uid_map would
        hold), counted without loading them: the no-op check of a big folder stays cheap."""
        row = self.conn.execute(
            # (folder_id, uidvalidity, uid) is the UNIQUE index: the count reads only that index's range. A row
            # with a UID always has a UIDVALIDITY, so "=" matches what uid_map's "IS" does.
            "SELECT COUNT(*) FROM messages WHERE folder_id=? AND uid IS NOT NULL "
            "AND uidvalidity = (SELECT uidvalidity FROM folders WHERE id=?)",
            (folder_id, folder_id),
        ).fetchone()
        return int(row[0])

    def synced_folder_names(self) -> set[str]:
        """Names of the server folders synced before (UIDVALIDITY known), without counting their messages."""
        return {
            str(r[0])
            for r in self.conn.execute("SELECT name FROM folders WHERE local_only = 0 AND uidvalidity IS NOT NULL")
        }

    def complete_ranges(self, folder_id: int) -> list[tuple[int, int]]:
        """The folder's UID ranges whose every server message is cached (or was expunged), ascending."""
        return self._ranges(self.conn, folder_id)

    def mark_complete(self, folder_id: int, lo: int, hi: int) -> None:
        """Record a UID range as complete with no rows to store (e.g. nothing on the server there)."""
        with self.transaction() as c:
            self._add_range(c, folder_id, lo, hi)

    def bodies_missing(
        self, folder_id: int, limit: int = -1, before: tuple[int, int] | None = None
    ) -> list[tuple[int, int, int, int]]:
        """(row id, uid, size, date) of the folder's server messages (current UIDVALIDITY) without a body, newest
        first (date, then row id, descending); at most limit of them, older than before = (date, row id)."""
        date, row = before if before is not None else (1 << 62, 0)
        return [
            (int(r[0]), int(r[1]), int(r[2]), int(r[3]))
            for r in self.conn.execute(
                "SELECT m.id, m.uid, m.size, m.date FROM messages m JOIN folders f ON f.id = m.folder_id "
                "WHERE m.folder_id=? AND m.body_hash IS NULL AND m.uid IS NOT NULL AND m.uidvalidity IS f.uidvalidity "
                "AND (m.date < ? OR (m.date = ? AND m.id < ?)) "
                "ORDER BY m.date DESC, m.id DESC LIMIT ?",
                (folder_id, date, date, row if before is not None else 1 << 62, limit),
            )
        ]

    def count_bodies_missing(self, folder_id: int) -> int:
        """How many bodies bodies_missing would list."""
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM messages m JOIN folders f ON f.id = m.folder_id "
                "WHERE m.folder_id=? AND m.body_hash IS NULL AND m.uid IS NOT NULL AND m.uidvalidity IS f.uidvalidity",
                (folder_id,),
            ).fetchone()[0]
        )

    def apply_server_flags(
        self, folder_id: int, flags: dict[int, frozenset[str]], highestmodseq: int | None = None
    ) -> int:
        """Set flags from the server for the given UIDs, except where a local change is still pending.
        Returns the number of rows changed."""
        from .cache import flags_to_text  # cache.py builds on this module

        with self.transaction() as c:
            pending = {
                r[0]
                for r in c.execute(
                    "SELECT uid FROM pending_actions WHERE folder_id=? AND kind='flags' AND uid IS NOT NULL "
                    "AND state<>'failed'",  # a refused change no longer hides the server's flags
                    (folder_id,),
                )
            }
            # Compared in bulk: one pass over the folder's current flags, UPDATEs only for what differs.
            current = dict(
                c.execute("SELECT uid, flags FROM messages WHERE folder_id=? AND uid IS NOT NULL", (folder_id,))
            )
            updates = []
            for uid, fl in flags.items():
                text = flags_to_text(fl)
                if uid in pending or current.get(uid, text) == text:
                    continue
                updates.append((text, int(SEEN in fl), folder_id, uid))
            c.executemany("UPDATE messages SET flags=?, seen=? WHERE folder_id=? AND uid=?", updates)
            if highestmodseq is not None:
                c.execute("UPDATE folders SET highestmodseq=? WHERE id=?", (highestmodseq, folder_id))
        return len(updates)
