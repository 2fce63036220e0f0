"""Local changes written first and replayed later: the pending-actions queue, its atomic claims, refusals, undo, notes.

A change (flags, move, delete) updates the cache and queues an action in one transaction. A replay claims queued
actions atomically (``state`` queued -> claimed, with its owner and time) and acts only on what it claimed, so two
replays that meet never send one action twice. A claim whose owner died returns to the queue. An action the server
refuses for good is marked ``failed``, the cache is put back as the server has it (a refused move returns the row to
its source folder) and a note tells the user why; the user can list and cancel actions, and undo the last one.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import SEEN, PendingAction

STALE_CLAIM_SECONDS = 300  # a claim this old whose owner process is gone returns to the queue
MAX_ATTEMPTS = 5  # transient failures (dropped connection, NO without a code) before an action fails for good

_HOST = socket.gethostname()
_active_owners: set[str] = set()  # replays running in this process (their claims are never stale)
_active_guard = threading.Lock()

_ACTION_COLUMNS = "id, kind, folder_id, uid, message_id, args, attempts, last_error, state"


def flags_to_text(flags: Iterable[str]) -> str:
    """Canonical text form of a flag set (sorted, space separated)."""
    return " ".join(sorted({f for f in flags if f}))


def text_to_flags(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A queued or failed action as the user sees it: one sentence, its state and why it failed."""

    id: int
    kind: str
    state: str  # "queued" | "claimed" | "failed"
    sentence: str
    error: str = ""
    created: int = 0


@dataclass(frozen=True, slots=True)
class Note:
    """Something the user must be told (e.g. an action the server refused), shown once."""

    id: int
    created: int
    kind: str
    text: str
    seen: bool


def _action(r: tuple[object, ...]) -> PendingAction:
    return PendingAction(
        id=r[0],  # type: ignore[arg-type]
        kind=r[1],  # type: ignore[arg-type]
        folder_id=r[2],  # type: ignore[arg-type]
        uid=r[3],  # type: ignore[arg-type]
        message_id=r[4],  # type: ignore[arg-type]
        args=json.loads(r[5]),  # type: ignore[arg-type]
        attempts=r[6],  # type: ignore[arg-type]
        last_error=r[7],  # type: ignore[arg-type]
        state=r[8],  # type: ignore[arg-type]
    )


def new_claim_owner() -> str:
    """A claim owner for one replay: host, process id and a random part (one process may run several replays)."""
    return f"{_HOST}:{os.getpid()}:{os.urandom(6).hex()}"


@contextmanager
def replay_owner() -> Iterator[str]:
    """A claim owner for the duration of one replay; while it runs its claims are never taken as stale."""
    owner = new_claim_owner()
    with _active_guard:
        _active_owners.add(owner)
    try:
        yield owner
    finally:
        with _active_guard:
            _active_owners.discard(owner)


def _claim_is_stale(owner: str, claimed_at: int, now: int, stale_after: int) -> bool:
    """On this machine a claim is stale when its process (or, in this process, its replay) has ended; a claim
    from another machine sharing the cache file only when it is older than stale_after."""
    if owner.partition(":")[0] != _HOST:
        return claimed_at < now - stale_after
    return not _owner_alive(owner)


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != _HOST:
        return True  # another machine's process (a cache on a shared disk): only age can tell
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        with _active_guard:
            return owner in _active_owners
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalChanges:
    """The cache's local-changes API (mixed into Cache)."""

    if TYPE_CHECKING:

        @property
        def conn(self) -> sqlite3.Connection: ...

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        @staticmethod
        def _drop_orphan_bodies(c: sqlite3.Connection, hashes: Iterable[str]) -> None: ...

    # -- queueing ------------------------------------------------------------------------------------------------

    def _queue(
        self,
        c: sqlite3.Connection,
        kind: str,
        folder_id: int,
        uid: int | None,
        message_id: int | None,
        args: dict[str, object],
    ) -> None:
        local = c.execute("SELECT local_only FROM folders WHERE id=?", (folder_id,)).fetchone()
        if local and local[0]:
            return
        if message_id is not None and "subject" not in args:
            row = c.execute("SELECT subject FROM messages WHERE id=?", (message_id,)).fetchone()
            args = {**args, "subject": row[0] if row else ""}  # the sentence for the user, once the row has gone
        c.execute(
            "INSERT INTO pending_actions(kind, folder_id, uid, message_id, args, created) VALUES (?,?,?,?,?,?)",
            (kind, folder_id, uid, message_id, json.dumps(args), int(time.time())),
        )

    def set_flags(self, message_ids: Iterable[int], add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Change flags locally and queue the change for the server, in one transaction."""
        add_s, remove_s = set(add), set(remove)
        with self.transaction() as c:
            for mid in message_ids:
                row = c.execute("SELECT folder_id, uid, flags FROM messages WHERE id=?", (mid,)).fetchone()
                if row is None:
                    continue
                before = text_to_flags(row[2])
                new = (before | add_s) - remove_s
                c.execute(
                    "UPDATE messages SET flags=?, seen=? WHERE id=?",
                    (flags_to_text(new), int(SEEN in new), mid),
                )
                if row[1] is None:
                    # A moved row whose move has not reached the server: its flags follow once the move lands.
                    c.execute(
                        "UPDATE pending_actions SET args=json_set(args, '$.then_flags', 1) "
                        "WHERE message_id=? AND kind='move' AND state<>'failed'",
                        (mid,),
                    )
                else:
                    # Only what actually changes is undone by a cancel.
                    args: dict[str, object] = {
                        "add": sorted(add_s),
                        "remove": sorted(remove_s),
                        "undo_add": sorted(remove_s & before),
                        "undo_remove": sorted(add_s - before),
                    }
                    self._queue(c, "flags", row[0], row[1], mid, args)

    def move(self, message_ids: Iterable[int], dest_folder_id: int) -> None:
        """Move messages locally (the row changes folder, uid unknown until the server says) and queue it."""
        batch = os.urandom(6).hex()  # one user action (U undoes it as a whole, e.g. many tagged messages)
        with self.transaction() as c:
            dest = c.execute("SELECT name FROM folders WHERE id=?", (dest_folder_id,)).fetchone()
            if dest is None:
                raise KeyError(dest_folder_id)
            for mid in message_ids:
                row = c.execute("SELECT folder_id, uid FROM messages WHERE id=?", (mid,)).fetchone()
                if row is None or row[0] == dest_folder_id:
                    continue
                c.execute(
                    "UPDATE messages SET folder_id=?, uid=NULL, uidvalidity=NULL WHERE id=?",
                    (dest_folder_id, mid),
                )
                if row[1] is None:
                    # Moved again before the first move reached the server: re-aim the queued move. A move that a
                    # replay is sending right now is not touched: when it lands, settle_move() queues the rest.
                    c.execute(
                        "UPDATE pending_actions SET args=json_set(args, '$.dest', ?, '$.dest_id', ?) "
                        "WHERE message_id=? AND kind='move' AND state='queued'",
                        (dest[0], dest_folder_id, mid),
                    )
                    continue
                c.execute("UPDATE pending_actions SET message_id=NULL WHERE message_id=?", (mid,))
                args = {"dest": dest[0], "dest_id": dest_folder_id, "batch": batch}
                self._queue(c, "move", row[0], row[1], mid, args)

    def delete(self, message_ids: Iterable[int]) -> None:
        """Delete for good (the caller moves to Trash instead when the message is not in Trash already)."""
        batch = os.urandom(6).hex()
        with self.transaction() as c:
            for mid in message_ids:
                row = c.execute("SELECT folder_id, uid, body_hash, subject FROM messages WHERE id=?", (mid,)).fetchone()
                if row is None:
                    continue
                c.execute("DELETE FROM messages WHERE id=?", (mid,))
                if row[1] is None:
                    # Deleted before its queued move reached the server: delete the original instead. A move being
                    # sent right now is marked so that settle_move() deletes the copy once it has landed.
                    c.execute(
                        "UPDATE pending_actions SET kind='delete', args=json_object('subject', ?, 'batch', ?) "
                        "WHERE message_id=? AND kind='move' AND state='queued'",
                        (row[3], batch, mid),
                    )
                    c.execute(
                        "UPDATE pending_actions SET args=json_set(args, '$.then', 'delete') "
                        "WHERE message_id=? AND kind='move' AND state='claimed'",
                        (mid,),
                    )
                c.execute("UPDATE pending_actions SET message_id=NULL WHERE message_id=?", (mid,))
                if row[2]:
                    self._drop_orphan_bodies(c, [row[2]])
                if row[1] is not None:
                    self._queue(c, "delete", row[0], row[1], None, {"subject": row[3], "batch": batch})

    # -- the queue -----------------------------------------------------------------------------------------------

    def pending_actions(self) -> list[PendingAction]:
        """Actions still waiting for the server (queued or being sent), oldest first; failed ones are not here."""
        return [
            _action(r)
            for r in self.conn.execute(
                f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE state<>'failed' ORDER BY id"
            )
        ]

    def failed_actions(self) -> list[PendingAction]:
        """Actions the server refused for good (kept so the user sees them until dismissed)."""
        return [
            _action(r)
            for r in self.conn.execute(
                f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE state='failed' ORDER BY id"
            )
        ]

    def claim_actions(self, owner: str, stale_after: int = STALE_CLAIM_SECONDS) -> list[PendingAction]:
        """Atomically claim every queued action for owner and return what it got (nothing another replay holds).

        Claims left by a dead owner (see _claim_is_stale) return to the queue first."""
        now = int(time.time())
        with self.transaction() as c:
            for action_id, claimed_by, claimed_at in list(
                c.execute("SELECT id, claimed_by, claimed_at FROM pending_actions WHERE state='claimed'")
            ):
                if _claim_is_stale(claimed_by, claimed_at, now, stale_after):
                    # Counted as an attempt: it may have reached the server before its replay died (a retried
                    # COPY checks what it already copied), and an action that kills its replay is not retried forever.
                    c.execute(
                        "UPDATE pending_actions SET state='queued', claimed_by='', claimed_at=0, attempts=attempts+1 "
                        "WHERE id=?",
                        (action_id,),
                    )
            ids = [r[0] for r in c.execute("SELECT id FROM pending_actions WHERE state='queued' ORDER BY id")]
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                c.execute(
                    "UPDATE pending_actions SET state='claimed', claimed_by=?, claimed_at=? "
                    f"WHERE id IN ({marks}) AND state='queued'",
                    (owner, now, *part),
                )
            rows = c.execute(
                f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE state='claimed' AND claimed_by=? ORDER BY id",
                (owner,),
            ).fetchall()
        return [_action(r) for r in rows]

    def release_claims(self, owner: str) -> None:
        """Whatever owner still holds goes back to the queue (the replay ended early)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE pending_actions SET state='queued', claimed_by='', claimed_at=0 "
                "WHERE state='claimed' AND claimed_by=?",
                (owner,),
            )

    def complete_action(self, action_id: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM pending_actions WHERE id=?", (action_id,))

    def fail_action(self, action_id: int, error: str, max_attempts: int = MAX_ATTEMPTS) -> bool:
        """A transient failure: back to the queue for the next sync, or failed for good after max_attempts
        (then the cache is put back as the server has it and a note is added). True when it failed for good."""
        with self.transaction() as c:
            row = c.execute("SELECT attempts FROM pending_actions WHERE id=?", (action_id,)).fetchone()
            if row is None:
                return False
            if row[0] + 1 < max_attempts:
                c.execute(
                    "UPDATE pending_actions SET attempts=attempts+1, last_error=?, state='queued', claimed_by='', "
                    "claimed_at=0 WHERE id=?",
                    (error, action_id),
                )
                return False
            self.refuse_action(action_id, error)
            return True

    def refuse_action(self, action_id: int, reason: str) -> None:
        """The server refused the action for good: never retried; the cache is put back as the server has it
        (a moved row returns to its source folder, a deleted one is fetched again, flags are re-read) and a note
        says why. The action stays, failed, until the user dismisses it."""
        with self.transaction() as c:
            r = c.execute(f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE id=?", (action_id,)).fetchone()
            if r is None:
                return
            action = _action(r)
            sentence = self._describe(c, action)
            self._restore(c, action)
            c.execute(
                "UPDATE pending_actions SET state='failed', attempts=attempts+1, last_error=?, claimed_by='', "
                "claimed_at=0, message_id=NULL WHERE id=?",
                (reason, action_id),
            )
            self._note(c, "refused", f"{sentence} failed: {reason}")

    def _restore(self, c: sqlite3.Connection, action: PendingAction) -> None:
        """Undo an action's local effect so the cache shows what the server has."""
        if action.kind == "move":
            self._return_to_source(c, action)
        elif action.kind == "delete" and action.uid is not None:
            self._refetch(c, action.folder_id, action.uid)
        elif action.kind == "flags":
            if action.message_id is not None:
                row = c.execute("SELECT flags FROM messages WHERE id=?", (action.message_id,)).fetchone()
                if row is not None:
                    undo_add = {str(f) for f in action.args.get("undo_add", [])}  # type: ignore[attr-defined]
                    undo_remove = {str(f) for f in action.args.get("undo_remove", [])}  # type: ignore[attr-defined]
                    new = (text_to_flags(row[0]) | undo_add) - undo_remove
                    c.execute(
                        "UPDATE messages SET flags=?, seen=? WHERE id=?",
                        (flags_to_text(new), int(SEEN in new), action.message_id),
                    )
            # The next folder sync re-reads every flag from the server (not only those changed since a modseq).
            c.execute("UPDATE folders SET highestmodseq=NULL WHERE id=?", (action.folder_id,))

    def _return_to_source(self, c: sqlite3.Connection, action: PendingAction) -> None:
        """A move that did not happen: its row (still without a UID in the destination) goes back to the source
        folder with its source UID. If the source already has that UID cached again, the row just goes."""
        if action.uid is None:
            return
        folder = c.execute("SELECT uidvalidity FROM folders WHERE id=?", (action.folder_id,)).fetchone()
        row = (
            c.execute("SELECT uid, body_hash FROM messages WHERE id=?", (action.message_id,)).fetchone()
            if action.message_id is not None
            else None
        )
        if folder is None:
            return
        if row is None or row[0] is not None:
            self._refetch(c, action.folder_id, action.uid)  # the row is gone locally: the sync brings it back
            return
        taken = c.execute(
            "SELECT 1 FROM messages WHERE folder_id=? AND uid=? AND uidvalidity IS ?",
            (action.folder_id, action.uid, folder[0]),
        ).fetchone()
        if taken:
            c.execute("DELETE FROM messages WHERE id=?", (action.message_id,))
            if row[1]:
                self._drop_orphan_bodies(c, [row[1]])
            return
        c.execute(
            "UPDATE messages SET folder_id=?, uid=?, uidvalidity=? WHERE id=?",
            (action.folder_id, action.uid, folder[0], action.message_id),
        )

    @staticmethod
    def _refetch(c: sqlite3.Connection, folder_id: int, uid: int) -> None:
        """Make the next folder sync download this UID again (it fetches UIDs above last_uid not in the cache)."""
        c.execute("UPDATE folders SET last_uid=MIN(last_uid, ?), uidnext=NULL WHERE id=?", (max(uid - 1, 0), folder_id))
        if c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='sync_ranges'").fetchone():
            # A sync that records complete UID ranges: this UID is not done any more.
            for lo, hi in list(
                c.execute("SELECT lo, hi FROM sync_ranges WHERE folder_id=? AND lo<=? AND hi>=?", (folder_id, uid, uid))
            ):
                c.execute("DELETE FROM sync_ranges WHERE folder_id=? AND lo=? AND hi=?", (folder_id, lo, hi))
                parts = [(lo, uid - 1), (uid + 1, hi)]
                c.executemany(
                    "INSERT INTO sync_ranges(folder_id, lo, hi) VALUES (?, ?, ?)",
                    [(folder_id, a, b) for a, b in parts if a <= b],
                )

    def settle_move(self, action_id: int, new_uid: int | None, uidvalidity: int | None) -> None:
        """A move reached the server: give the row its UID in the destination (COPYUID), or drop the
        placeholder when the UID is unknown (the folder sync fetches it). What the user did to the row while the
        move was on the wire follows it: moved on -> a move from the destination is queued; deleted -> a delete.
        All checks and writes in one transaction."""
        with self.transaction() as c:
            r = c.execute(f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE id=?", (action_id,)).fetchone()
            if r is None:
                return
            action = _action(r)
            dest_id = action.args.get("dest_id")
            if not isinstance(dest_id, int):
                row_dest = c.execute("SELECT id FROM folders WHERE name=?", (str(action.args.get("dest")),)).fetchone()
                dest_id = int(row_dest[0]) if row_dest else None
            if action.message_id is None:
                if action.args.get("then") == "delete" and new_uid is not None and dest_id is not None:
                    self._queue(c, "delete", dest_id, new_uid, None, {"subject": action.args.get("subject", "")})
                return
            row = c.execute(
                "SELECT folder_id, uid, body_hash FROM messages WHERE id=?", (action.message_id,)
            ).fetchone()
            if row is None or row[1] is not None:
                return  # gone, or not a placeholder any more (a replay after a crash): leave it alone
            if new_uid is None or uidvalidity is None or dest_id is None:
                c.execute("DELETE FROM messages WHERE id=?", (action.message_id,))
                if row[2]:
                    self._drop_orphan_bodies(c, [row[2]])
                return
            if row[0] != dest_id:
                dest = c.execute("SELECT name FROM folders WHERE id=?", (row[0],)).fetchone()
                self._queue(c, "move", dest_id, new_uid, action.message_id, {"dest": dest[0], "dest_id": row[0]})
                return
            taken = c.execute(
                "SELECT 1 FROM messages WHERE folder_id=? AND uidvalidity=? AND uid=? AND id<>?",
                (dest_id, uidvalidity, new_uid, action.message_id),
            ).fetchone()
            if taken:
                c.execute("DELETE FROM messages WHERE id=?", (action.message_id,))
                if row[2]:
                    self._drop_orphan_bodies(c, [row[2]])
                return
            c.execute("UPDATE messages SET uid=?, uidvalidity=? WHERE id=?", (new_uid, uidvalidity, action.message_id))
            if action.args.get("then_flags"):
                # Flags changed while the move was pending: the copy gets the row's flags as they are now.
                flags = c.execute("SELECT flags FROM messages WHERE id=?", (action.message_id,)).fetchone()
                have = text_to_flags(flags[0]) if flags else frozenset()
                args: dict[str, object] = {
                    "add": sorted(have & _SERVER_FLAGS),
                    "remove": sorted(_SERVER_FLAGS - have),
                    "undo_add": [],
                    "undo_remove": [],
                }
                self._queue(c, "flags", dest_id, new_uid, action.message_id, args)

    def drop_actions_of_folder(self, c: sqlite3.Connection, folder_id: int) -> int:
        """The folder's UIDs are meaningless now (UIDVALIDITY changed): drop its actions and the placeholder rows
        its moves created in other folders (the messages come back in the source from the server). Returns how
        many waiting actions went."""
        for (mid,) in list(
            c.execute(
                "SELECT message_id FROM pending_actions WHERE folder_id=? AND uid IS NOT NULL AND kind='move' "
                "AND message_id IS NOT NULL",
                (folder_id,),
            )
        ):
            row = c.execute("SELECT uid, body_hash FROM messages WHERE id=?", (mid,)).fetchone()
            if row is not None and row[0] is None:
                c.execute("DELETE FROM messages WHERE id=?", (mid,))
                if row[1]:
                    self._drop_orphan_bodies(c, [row[1]])
        waiting = c.execute(
            "SELECT COUNT(*) FROM pending_actions WHERE folder_id=? AND uid IS NOT NULL AND state<>'failed'",
            (folder_id,),
        ).fetchone()[0]
        c.execute("DELETE FROM pending_actions WHERE folder_id=? AND uid IS NOT NULL", (folder_id,))
        return int(waiting)

    def return_moves_into(self, c: sqlite3.Connection, folder_id: int, reason: str) -> None:
        """The folder is going away: queued moves into it can never happen; their rows go back to the source."""
        for r in list(
            c.execute(
                f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE kind='move' AND state<>'failed' "
                "AND json_extract(args, '$.dest_id')=?",
                (folder_id,),
            )
        ):
            action = _action(r)
            sentence = self._describe(c, action)
            self._return_to_source(c, action)
            c.execute(
                "UPDATE pending_actions SET state='failed', last_error=?, claimed_by='', claimed_at=0, "
                "message_id=NULL WHERE id=?",
                (reason, action.id),
            )
            self._note(c, "refused", f"{sentence} failed: {reason}")

    # -- what the user sees and can undo -------------------------------------------------------------------------

    def _describe(self, c: sqlite3.Connection, action: PendingAction) -> str:
        """One sentence for an action, e.g. 'Move "Lunch?" from INBOX to Archive'."""
        subject = ""
        if action.message_id is not None:
            row = c.execute("SELECT subject FROM messages WHERE id=?", (action.message_id,)).fetchone()
            subject = row[0] if row else ""
        folder = c.execute("SELECT name FROM folders WHERE id=?", (action.folder_id,)).fetchone()
        return _sentence(action, subject, folder[0] if folder else None)

    def pending_list(self) -> list[PendingItem]:
        """Every waiting and failed action with one sentence each, oldest first (for the pending screen/CLI)."""
        cols = ", ".join(f"p.{name.strip()}" for name in _ACTION_COLUMNS.split(","))
        rows = self.conn.execute(
            f"SELECT {cols}, p.created, m.subject, f.name FROM pending_actions p "
            "LEFT JOIN messages m ON m.id = p.message_id LEFT JOIN folders f ON f.id = p.folder_id ORDER BY p.id"
        ).fetchall()
        out = []
        for r in rows:
            action = _action(r)
            out.append(
                PendingItem(
                    id=action.id,
                    kind=action.kind,
                    state=action.state,
                    sentence=_sentence(action, r[10] or "", r[11]),
                    error=action.last_error,
                    created=int(r[9]),
                )
            )
        return out

    def cancel_action(self, action_id: int) -> str:
        """Undo a waiting action locally (a cancelled move returns the row to its source, a cancelled flag change
        restores the flags, a cancelled delete brings the message back at the next sync) or dismiss a failed one.
        Returns one sentence saying what happened; raises KeyError for an unknown id and ValueError while the
        action is being sent."""
        with self.transaction() as c:
            r = c.execute(f"SELECT {_ACTION_COLUMNS} FROM pending_actions WHERE id=?", (action_id,)).fetchone()
            if r is None:
                raise KeyError(action_id)
            action = _action(r)
            sentence = self._describe(c, action)
            if action.state == "claimed":
                raise ValueError(f"{sentence}: it is being sent to the server right now and cannot be cancelled.")
            c.execute("DELETE FROM pending_actions WHERE id=?", (action_id,))
            if action.state == "failed":
                return f"Dismissed: {sentence}."
            self._restore(c, action)
            if action.kind == "delete":
                return f"Cancelled: {sentence}; the message comes back at the next sync."
            return f"Cancelled: {sentence}."

    def undo_last(self) -> str | None:
        """Cancel the newest move or delete (all the messages it took) while it is still queued; one sentence, or
        None if nothing is left to undo."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT id, json_extract(args, '$.batch') FROM pending_actions WHERE state='queued' "
                "AND kind IN ('move', 'delete') ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            ids = [int(row[0])]
            if row[1] is not None:
                ids = [
                    int(r[0])
                    for r in c.execute(
                        "SELECT id FROM pending_actions WHERE state='queued' AND kind IN ('move', 'delete') "
                        "AND json_extract(args, '$.batch')=? ORDER BY id",
                        (row[1],),
                    )
                ]
            said = [self.cancel_action(i) for i in ids]
        if len(said) == 1:
            return said[0]
        return f"Cancelled {len(said)} changes: {said[-1].removeprefix('Cancelled: ').rstrip('.')} and the others."

    # -- notes ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _note(c: sqlite3.Connection, kind: str, text: str) -> None:
        c.execute("INSERT INTO notes(created, kind, text) VALUES (?, ?, ?)", (int(time.time()), kind, text))

    def add_note(self, kind: str, text: str) -> None:
        with self.transaction() as c:
            self._note(c, kind, text)

    def notes(self, unseen_only: bool = False) -> list[Note]:
        """Things the user must be told, oldest first."""
        where = "WHERE seen=0" if unseen_only else ""
        return [
            Note(id=r[0], created=r[1], kind=r[2], text=r[3], seen=bool(r[4]))
            for r in self.conn.execute(f"SELECT id, created, kind, text, seen FROM notes {where} ORDER BY id")
        ]

    def mark_notes_seen(self, ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("UPDATE notes SET seen=1 WHERE id=?", [(i,) for i in ids])


def _sentence(action: PendingAction, subject: str, source: str | None) -> str:
    """The words for an action, given the subject of its row (if any) and the name of its folder (if it exists)."""
    subject = subject or str(action.args.get("subject", "") or "")
    what = f"“{subject}”" if subject else "a message"
    source = source if source is not None else "a deleted folder"
    if action.kind == "move":
        return f"Move {what} from {source} to {action.args.get('dest', '?')}"
    if action.kind == "delete":
        return f"Delete {what} from {source} for good"
    if action.kind == "flags":
        parts = []
        for flag in action.args.get("add", []):  # type: ignore[attr-defined]
            parts.append(_FLAG_WORDS.get(str(flag), (f"add {flag} to", ""))[0])
        for flag in action.args.get("remove", []):  # type: ignore[attr-defined]
            parts.append(_FLAG_WORDS.get(str(flag), ("", f"remove {flag} from"))[1])
        verb = " and ".join(p for p in parts if p) or "change the flags of"
        return f"{verb[0].upper()}{verb[1:]} {what} in {source}"
    return f"{action.kind.capitalize()} {what}"


_SERVER_FLAGS = frozenset({"\\Seen", "\\Flagged", "\\Answered"})  # what the UI changes; copied as they are

_FLAG_WORDS: dict[str, tuple[str, str]] = {
    "\\Seen": ("mark as read", "mark as unread"),
    "\\Flagged": ("flag", "unflag"),
    "\\Answered": ("mark as answered", "mark as not answered"),
    "\\Deleted": ("mark as deleted", "undelete"),
}
