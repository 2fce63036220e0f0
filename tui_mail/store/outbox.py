"""The cache's outbox table (queued -> claimed -> sending -> sent, or held) and the notes kept for the user."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from ..models import OutboxItem


class OutboxTable:
    """Mixed into Cache: messages waiting to be sent, each Message-ID at most once, claimed atomically."""

    if TYPE_CHECKING:  # provided by Cache

        @property
        def conn(self) -> sqlite3.Connection: ...
        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    # -- outbox ------------------------------------------------------------------------------------------------------
    # An item is `queued`; a sender claims it (`claimed`), marks it `sending` just before SMTP DATA and `sent` once
    # the server accepted it, then removes it. One found claimed/sending/sent by a later run was left by a crash:
    # claimed is queued again, sent is finished, sending is looked up in Sent or `held` for the user to decide.

    _OUTBOX_COLUMNS = "id, raw, recipients, created, attempts, last_error, state, message_id, send_after"

    @staticmethod
    def _outbox_item(r: Sequence[object]) -> OutboxItem:
        return OutboxItem(
            id=r[0],  # type: ignore[arg-type]
            raw=bytes(r[1]),  # type: ignore[call-overload]
            recipients=tuple(json.loads(r[2])),  # type: ignore[arg-type]
            created=r[3],  # type: ignore[arg-type]
            attempts=r[4],  # type: ignore[arg-type]
            last_error=r[5],  # type: ignore[arg-type]
            state=r[6],  # type: ignore[arg-type]
            message_id=r[7],  # type: ignore[arg-type]
            send_after=r[8],  # type: ignore[arg-type]
        )

    def add_outbox(self, raw: bytes, recipients: Sequence[str], message_id: str = "", send_after: int = 0) -> int:
        """Queue a message; a Message-ID already queued returns that item's id and adds nothing."""
        with self.transaction() as c:
            if message_id:
                row = c.execute("SELECT id FROM outbox WHERE message_id=?", (message_id,)).fetchone()
                if row:
                    return int(row[0])
            cur = c.execute(
                "INSERT INTO outbox(raw, recipients, created, message_id, send_after) VALUES (?, ?, ?, ?, ?)",
                (raw, json.dumps(list(recipients)), int(time.time()), message_id, send_after),
            )
            return int(cur.lastrowid or 0)

    def outbox(self) -> list[OutboxItem]:
        """Every item, oldest first (whatever its state)."""
        return [
            self._outbox_item(r) for r in self.conn.execute(f"SELECT {self._OUTBOX_COLUMNS} FROM outbox ORDER BY id")
        ]

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        r = self.conn.execute(f"SELECT {self._OUTBOX_COLUMNS} FROM outbox WHERE id=?", (item_id,)).fetchone()
        return self._outbox_item(r) if r else None

    def outbox_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def claim_outbox(self, item_id: int) -> bool:
        """queued -> claimed, atomically; False when the item is gone or someone else has taken it."""
        with self.transaction() as c:
            cur = c.execute("UPDATE outbox SET state='claimed' WHERE id=? AND state='queued'", (item_id,))
            return cur.rowcount == 1

    def set_outbox_state(self, item_id: int, state: str, error: str | None = None) -> None:
        with self.transaction() as c:
            if error is None:
                c.execute("UPDATE outbox SET state=? WHERE id=?", (state, item_id))
            else:
                c.execute("UPDATE outbox SET state=?, last_error=? WHERE id=?", (state, error, item_id))

    def remove_outbox(self, item_id: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM outbox WHERE id=?", (item_id,))

    def fail_outbox(self, item_id: int, error: str, state: str = "queued") -> None:
        """A failed attempt: count it, keep the reason, and leave the item in state (queued: retried later)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, state=? WHERE id=?", (error, state, item_id)
            )

    def take_outbox(self, item_id: int) -> OutboxItem | None:
        """Remove a queued or held item and return it (to edit or cancel it); None when it is being sent or gone."""
        with self.transaction() as c:
            r = c.execute(
                f"SELECT {self._OUTBOX_COLUMNS} FROM outbox WHERE id=? AND state IN ('queued', 'held')", (item_id,)
            ).fetchone()
            if r is None:
                return None
            c.execute("DELETE FROM outbox WHERE id=?", (item_id,))
            return self._outbox_item(r)

    # -- notes for the user -------------------------------------------------------------------------------------------

    def unseen_notes(self, mark_seen: bool = False) -> list[tuple[str, str]]:
        """(kind, text) of the notes not shown yet, oldest first; mark_seen marks them shown."""
        with self.transaction() as c:
            rows = c.execute("SELECT id, kind, text FROM notes WHERE seen=0 ORDER BY id").fetchall()
            if mark_seen and rows:
                c.executemany("UPDATE notes SET seen=1 WHERE id=?", [(r[0],) for r in rows])
        return [(str(r[1]), str(r[2])) for r in rows]
