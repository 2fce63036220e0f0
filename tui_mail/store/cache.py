"""The cache API: folders, envelopes, bodies, windows for the list, POP3 state, pending actions and outbox.

Every write happens inside one transaction together with the cursor it advances, so a crash at any point leaves
a cache that opens and a sync that resumes. One SQLite connection per thread (SQLite connections are not for
sharing across threads); WAL lets the UI read while a worker writes.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..faults import fault_point
from ..models import SEEN, Envelope, Folder, MessageRow, Role
from . import threads
from .disk import full_disk_reported, rollback
from .list_order import FLAT, ListOrder, before_terms, count_terms, fold_filter, order_by, sort_value
from .local_changes import LocalChanges, flags_to_text, text_to_flags
from .outbox import OutboxTable
from .schema import migrate
from .sync_state import SyncState

log = logging.getLogger(__name__)

_ROW_COLUMNS = (
    "id, folder_id, uid, date, from_name, from_addr, to_addrs, cc_addrs, subject, message_id, in_reply_to, refs, "
    "flags, size, has_attachments, snippet, body_hash IS NOT NULL, thread_depth, thread_id"
)
FEW_HITS = 5_000  # a search with at most this many text hits is answered from the index of hits, not the folder
_FOLDER_COLUMNS = "id, name, delimiter, role, uidvalidity, uidnext, highestmodseq, last_uid, local_only"


def _row(r: Sequence[object]) -> MessageRow:
    return MessageRow(
        id=r[0],  # type: ignore[arg-type]
        folder_id=r[1],  # type: ignore[arg-type]
        uid=r[2],  # type: ignore[arg-type]
        date=r[3],  # type: ignore[arg-type]
        from_name=r[4],  # type: ignore[arg-type]
        from_addr=r[5],  # type: ignore[arg-type]
        to=r[6],  # type: ignore[arg-type]
        cc=r[7],  # type: ignore[arg-type]
        subject=r[8],  # type: ignore[arg-type]
        message_id=r[9],  # type: ignore[arg-type]
        in_reply_to=r[10],  # type: ignore[arg-type]
        references=r[11],  # type: ignore[arg-type]
        flags=text_to_flags(r[12]),  # type: ignore[arg-type]
        size=r[13],  # type: ignore[arg-type]
        has_attachments=bool(r[14]),
        snippet=r[15],  # type: ignore[arg-type]
        has_body=bool(r[16]),
        thread_depth=r[17],  # type: ignore[arg-type]
        thread_id=r[18],  # type: ignore[arg-type]
    )


def _folder(r: Sequence[object], total: int = 0, unread: int = 0) -> Folder:
    try:
        role = Role(str(r[3]))
    except ValueError:
        role = Role.NONE
    return Folder(
        id=r[0],  # type: ignore[arg-type]
        name=r[1],  # type: ignore[arg-type]
        delimiter=r[2],  # type: ignore[arg-type]
        role=role,
        uidvalidity=r[4],  # type: ignore[arg-type]
        uidnext=r[5],  # type: ignore[arg-type]
        highestmodseq=r[6],  # type: ignore[arg-type]
        last_uid=r[7],  # type: ignore[arg-type]
        total=total,
        unread=unread,
        local_only=bool(r[8]),
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An envelope plus where it lives on the server (uid/uidvalidity for IMAP, uidl for POP3)."""

    envelope: Envelope
    uid: int | None = None
    flags: frozenset[str] = frozenset()
    raw: bytes | None = None  # the full message, when downloaded together with the envelope
    pop_uidl: str | None = None


class Cache(SyncState, OutboxTable, LocalChanges):
    """One account's cache database."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.account = self.path.stem  # the account's name (the cache file is named after it)
        self._hit_estimates: dict[str, int] = {}  # FTS expression -> documents matching (to pick a query plan)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._committed: threading.Event | None = None  # set at each COMMIT while background_checkpoints runs
        with full_disk_reported(self.path.parent):
            migrate(self.conn)

    # -- connections -------------------------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (nested use joins the outer one)."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        with self._write_lock, full_disk_reported(self.path.parent):
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
                if self._committed is not None:
                    self._committed.set()
            except BaseException:
                rollback(conn)  # a failed COMMIT leaves the transaction open; a full disk may have ended it already
                raise

    @contextmanager
    def background_checkpoints(self, interval: float = 0.25) -> Iterator[None]:
        """For a bulk download: this thread's commits stop checkpointing the WAL themselves and a helper thread
        checkpoints (PASSIVE, its own connection) right after each commit (at most every `interval` seconds while
        none comes), so the disk writes overlap with network waits; caught up before the next commit, the WAL
        starts over instead of growing to the size of the download, and little is left to checkpoint at the end.
        Durability is unchanged: committed data is in the WAL either way."""
        stop = threading.Event()
        committed = threading.Event()

        def checkpointer() -> None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
                try:
                    while not stop.is_set():
                        committed.wait(interval)
                        committed.clear()
                        if stop.is_set():
                            break
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    conn.close()
            except sqlite3.Error as e:  # e.g. a full disk: the WAL keeps the data; the writer reports the cause
                log.warning("background checkpoint of %s stopped: %s", self.path.name, e)

        worker = threading.Thread(target=checkpointer, name="cache-checkpoint", daemon=True)
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self._committed = committed
        worker.start()
        try:
            yield
        finally:
            self._committed = None
            stop.set()
            committed.set()
            worker.join()
            self.conn.execute("PRAGMA wal_autocheckpoint=1000")

    # -- meta --------------------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # -- folders -----------------------------------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        """All folders with total and unread counts, role folders first then by name."""
        counts = {
            fid: (total, unread)
            for fid, total, unread in self.conn.execute(
                "SELECT folder_id, COUNT(*), COUNT(*) - SUM(seen) FROM messages GROUP BY folder_id"
            )
        }
        out = [
            _folder(r, *counts.get(r[0], (0, 0))) for r in self.conn.execute(f"SELECT {_FOLDER_COLUMNS} FROM folders")
        ]
        from ..models import ROLE_ORDER

        out.sort(key=lambda f: (ROLE_ORDER.get(f.role, 9), f.name.lower()))
        return out

    def folder(self, folder_id: int) -> Folder:
        r = self.conn.execute(f"SELECT {_FOLDER_COLUMNS} FROM folders WHERE id=?", (folder_id,)).fetchone()
        if r is None:
            raise KeyError(folder_id)
        total, unread = self.conn.execute(
            "SELECT COUNT(*), COUNT(*) - COALESCE(SUM(seen), 0) FROM messages WHERE folder_id=?", (folder_id,)
        ).fetchone()
        return _folder(r, total, unread)

    def folder_by_name(self, name: str) -> Folder | None:
        r = self.conn.execute("SELECT id FROM folders WHERE name=?", (name,)).fetchone()
        return self.folder(r[0]) if r else None

    def folder_by_role(self, role: Role) -> Folder | None:
        # A server folder wins over a local-only one of the same role (e.g. "Local/Sent" waiting for upload).
        r = self.conn.execute(
            "SELECT id FROM folders WHERE role=? ORDER BY local_only, id LIMIT 1", (role.value,)
        ).fetchone()
        return self.folder(r[0]) if r else None

    def ensure_folder(self, name: str, delimiter: str = "/", role: Role = Role.NONE, local_only: bool = False) -> int:
        """Create the folder if missing (updating delimiter and role if present); returns its id."""
        with self.transaction() as c:
            row = c.execute("SELECT id FROM folders WHERE name=?", (name,)).fetchone()
            if row:
                c.execute(
                    "UPDATE folders SET delimiter=?, role=?, local_only=? WHERE id=?",
                    (delimiter, role.value, int(local_only), row[0]),
                )
                return int(row[0])
            cur = c.execute(
                "INSERT INTO folders(name, delimiter, role, local_only) VALUES (?, ?, ?, ?)",
                (name, delimiter, role.value, int(local_only)),
            )
            return int(cur.lastrowid or 0)

    def delete_folder(self, folder_id: int) -> tuple[str, int] | None:
        """Remove a folder that no longer exists on the server, with its messages and orphaned bodies; rows moved
        into it locally and not yet on the server go back to their source folders (never lost), other messages
        without a server UID (kept only here) move to a local folder first. Returns (that folder, how many)."""
        from .local_copies import rescue_rows

        with self.transaction() as c:
            name = c.execute("SELECT name FROM folders WHERE id=?", (folder_id,)).fetchone()
            self.return_moves_into(c, folder_id, f"the folder {name[0] if name else ''} was deleted on the server")
            self.drop_actions_of_folder(c, folder_id)  # and the placeholders of moves out of it
            kept = rescue_rows(c, folder_id)
            self._clear_messages(c, folder_id, keep_local=False)
            c.execute("DELETE FROM pending_actions WHERE folder_id=?", (folder_id,))
            c.execute("DELETE FROM folders WHERE id=?", (folder_id,))
        return kept

    def _clear_messages(self, c: sqlite3.Connection, folder_id: int, *, keep_local: bool) -> None:
        """Delete a folder's cached messages (keep_local: not those with no server UID yet, such as a local
        draft or a move still waiting to be replayed) and the bodies no other row uses."""
        where = "folder_id=? AND uid IS NOT NULL" if keep_local else "folder_id=?"
        hashes = [
            r[0]
            for r in c.execute(
                f"SELECT DISTINCT body_hash FROM messages WHERE {where} AND body_hash IS NOT NULL", (folder_id,)
            )
        ]
        c.execute(f"DELETE FROM messages WHERE {where}", (folder_id,))
        self._drop_orphan_bodies(c, hashes)

    def rename_folder(self, folder_id: int, new_name: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE folders SET name=? WHERE id=?", (new_name, folder_id))

    def set_folder_state(self, folder_id: int, *, uidnext: int | None = None, highestmodseq: int | None = None) -> None:
        """Record server counters that are not tied to stored data (UIDNEXT, a HIGHESTMODSEQ already applied)."""
        with self.transaction() as c:
            if uidnext is not None:
                c.execute("UPDATE folders SET uidnext=? WHERE id=?", (uidnext, folder_id))
            if highestmodseq is not None:
                c.execute("UPDATE folders SET highestmodseq=? WHERE id=?", (highestmodseq, folder_id))

    def reset_folder(self, folder_id: int, uidvalidity: int) -> int:
        """UIDVALIDITY changed: drop the folder's cached messages and cursors; returns how many pending actions
        referred to old UIDs (they are dropped, and the caller reports them)."""
        with self.transaction() as c:
            self._clear_messages(c, folder_id, keep_local=True)
            dropped = self.drop_actions_of_folder(c, folder_id)
            c.execute(
                "UPDATE folders SET uidvalidity=?, uidnext=NULL, highestmodseq=NULL, last_uid=0 WHERE id=?",
                (uidvalidity, folder_id),
            )
            c.execute("DELETE FROM sync_ranges WHERE folder_id=?", (folder_id,))
            return int(dropped)

    # -- storing mail ------------------------------------------------------------------------------------------

    def store_messages(
        self,
        folder_id: int,
        messages: Sequence[NewMessage],
        *,
        uidvalidity: int | None = None,
        last_uid: int | None = None,
        highestmodseq: int | None = None,
        complete: tuple[int, int] | None = None,
    ) -> list[int]:
        """Insert a chunk of messages and advance the folder's cursors, all in one transaction.

        complete: a UID range (lo, hi) this chunk finishes (every server UID inside is now cached or gone).
        Messages already present (same folder/uidvalidity/uid, or same POP3 UIDL) are left alone.
        Returns the new rows' ids (an existing row's id for duplicates).
        """
        ids: list[int] = []
        with self.transaction() as c:
            fresh: list[tuple[int, int, Envelope]] = []
            # Rows get explicit ids, each its own conversation until the threading pass below moves the few that
            # join one: most mail is never updated after its INSERT. The ids are the next rowids, and never a
            # conversation's id still in use (a conversation keeps the id of a first message that was deleted).
            next_id = 1 + int(
                c.execute(
                    "SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0), "
                    "COALESCE((SELECT MAX(conv) FROM thread_ids), 0))"
                ).fetchone()[0]
            )
            have = self._rows_by_uid(c, folder_id, uidvalidity, [m.uid for m in messages if m.uid is not None])
            for m in sorted(messages, key=lambda m: m.envelope.date):
                row = have.get(m.uid) if m.uid is not None else None
                if row is None:
                    row = self._insert(c, folder_id, m, uidvalidity, next_id)
                    if row == next_id:
                        next_id += 1
                        fresh.append((row, folder_id, m.envelope))
                        if m.uid is not None:
                            have[m.uid] = row
                ids.append(row)
                fault_point("cache.mid_transaction")
            threads.link_batch(c, fresh)  # the chunk's conversations in one pass
            if uidvalidity is not None:
                c.execute("UPDATE folders SET uidvalidity=? WHERE id=?", (uidvalidity, folder_id))
            if last_uid is not None:
                c.execute("UPDATE folders SET last_uid=MAX(last_uid, ?) WHERE id=?", (last_uid, folder_id))
            if highestmodseq is not None:
                c.execute("UPDATE folders SET highestmodseq=? WHERE id=?", (highestmodseq, folder_id))
            if complete is not None:
                self._add_range(c, folder_id, *complete)
        return ids

    @staticmethod
    def _rows_by_uid(
        c: sqlite3.Connection, folder_id: int, uidvalidity: int | None, uids: Sequence[int]
    ) -> dict[int, int]:
        """The cached rows (uid -> id) among these UIDs of the folder."""
        out: dict[int, int] = {}
        for i in range(0, len(uids), 500):
            part = uids[i : i + 500]
            out.update(
                c.execute(
                    f"SELECT uid, id FROM messages WHERE folder_id=? AND uidvalidity IS ? "
                    f"AND uid IN ({','.join('?' * len(part))})",
                    (folder_id, uidvalidity, *part),
                ).fetchall()
            )
        return out

    def _insert(self, c: sqlite3.Connection, folder_id: int, m: NewMessage, uidvalidity: int | None, row: int) -> int:
        """Insert the message as row `row`, in a conversation of its own; a POP3 message already cached keeps its
        row (whose id is returned instead)."""
        env = m.envelope
        if m.pop_uidl is not None:
            found = c.execute("SELECT id FROM messages WHERE pop_uidl=?", (m.pop_uidl,)).fetchone()
            if found:
                return int(found[0])
        body_hash = self._put_body(c, m.raw) if m.raw is not None else None
        c.execute(
            "INSERT INTO messages(id, folder_id, uid, uidvalidity, pop_uidl, message_id, in_reply_to, refs, date, "
            "from_name, from_addr, to_addrs, cc_addrs, subject, flags, seen, size, has_attachments, snippet, "
            "body_hash, thread_depth, thread_date, thread_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row,
                folder_id,
                m.uid,
                uidvalidity if m.uid is not None else None,
                m.pop_uidl,
                env.message_id,
                env.in_reply_to,
                env.references,
                env.date,
                env.from_name,
                env.from_addr,
                env.to,
                env.cc,
                env.subject,
                flags_to_text(m.flags),
                int(SEEN in m.flags),
                env.size,
                int(env.has_attachments),
                env.snippet,
                body_hash,
                0,
                env.date,
                row,
            ),
        )
        if m.pop_uidl is not None:
            c.execute(
                "INSERT OR IGNORE INTO pop_uidls(uidl, downloaded) VALUES (?, ?)",
                (m.pop_uidl, int(time.time())),
            )
        return row

    @staticmethod
    def _put_body(c: sqlite3.Connection, raw: bytes) -> str:
        digest = hashlib.sha256(raw).hexdigest()
        c.execute("INSERT OR IGNORE INTO bodies(hash, raw) VALUES (?, ?)", (digest, raw))
        return digest

    @staticmethod
    def _drop_orphan_bodies(c: sqlite3.Connection, hashes: Iterable[str]) -> None:
        for h in hashes:
            c.execute(
                "DELETE FROM bodies WHERE hash=? AND NOT EXISTS (SELECT 1 FROM messages WHERE body_hash=?)",
                (h, h),
            )

    def store_bodies(self, bodies: Sequence[tuple[int, bytes, Envelope | None]]) -> None:
        """Attach downloaded bodies to rows (id, raw, optional refined envelope) in one transaction."""
        with self.transaction() as c:
            for msg_id, raw, env in bodies:
                fault_point("cache.mid_transaction")
                h = self._put_body(c, raw)
                if env is not None:
                    c.execute(
                        "UPDATE messages SET body_hash=?, has_attachments=?, snippet=? WHERE id=?",
                        (h, int(env.has_attachments), env.snippet, msg_id),
                    )
                else:
                    c.execute("UPDATE messages SET body_hash=? WHERE id=?", (h, msg_id))

    def body(self, message_id: int) -> bytes | None:
        """The raw message, or None when only the envelope is cached."""
        row = self.conn.execute(
            "SELECT b.raw FROM messages m JOIN bodies b ON b.hash = m.body_hash WHERE m.id=?", (message_id,)
        ).fetchone()
        return bytes(row[0]) if row else None

    def ids_without_body(self, folder_id: int, limit: int = 1000) -> list[tuple[int, int]]:
        """(row id, uid) of messages in the folder whose body is not downloaded yet, newest first."""
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT id, uid FROM messages WHERE folder_id=? AND body_hash IS NULL AND uid IS NOT NULL "
                "ORDER BY date DESC LIMIT ?",
                (folder_id, limit),
            )
        ]

    # -- server-side changes -------------------------------------------------------------------------------------

    def uid_map(self, folder_id: int) -> dict[int, int]:
        """uid -> row id for the folder's messages under its current UIDVALIDITY."""
        return {
            uid: mid
            for uid, mid in self.conn.execute(
                "SELECT m.uid, m.id FROM messages m JOIN folders f ON f.id = m.folder_id "
                "WHERE m.folder_id=? AND m.uid IS NOT NULL AND m.uidvalidity IS f.uidvalidity",
                (folder_id,),
            )
        }

    def uid_flags(self, folder_id: int) -> dict[int, frozenset[str]]:
        return {
            uid: text_to_flags(fl)
            for uid, fl in self.conn.execute(
                "SELECT uid, flags FROM messages WHERE folder_id=? AND uid IS NOT NULL", (folder_id,)
            )
        }

    def assign_uid(self, message_id: int, uid: int, uidvalidity: int) -> None:
        """A moved row learned its UID in the destination (COPYUID); if that UID is cached already, the
        placeholder row goes instead (no duplicate)."""
        with self.transaction() as c:
            row = c.execute("SELECT folder_id, body_hash FROM messages WHERE id=?", (message_id,)).fetchone()
            if row is None:
                return
            taken = c.execute(
                "SELECT 1 FROM messages WHERE folder_id=? AND uidvalidity=? AND uid=? AND id<>?",
                (row[0], uidvalidity, uid, message_id),
            ).fetchone()
            if taken:
                c.execute("DELETE FROM messages WHERE id=?", (message_id,))
                if row[1]:
                    self._drop_orphan_bodies(c, [row[1]])
                return
            c.execute("UPDATE messages SET uid=?, uidvalidity=? WHERE id=?", (uid, uidvalidity, message_id))

    def remove_uids(self, folder_id: int, uids: Iterable[int]) -> int:
        """Drop messages expunged on the server; returns how many rows went."""
        removed = 0
        with self.transaction() as c:
            for uid in uids:
                row = c.execute(
                    "SELECT id, body_hash FROM messages WHERE folder_id=? AND uid=?", (folder_id, uid)
                ).fetchone()
                if row is None:
                    continue
                c.execute("DELETE FROM messages WHERE id=?", (row[0],))
                removed += 1
                if row[1]:
                    self._drop_orphan_bodies(c, [row[1]])
        return removed

    # -- reading for the UI ------------------------------------------------------------------------------------

    def count(
        self, folder_id: int | None, query: str = "", include: Sequence[int] = (), *, order: ListOrder | None = None
    ) -> int:
        """Rows in the list (collapsed threads count as one when `order` folds them)."""
        where, params = self._filter(folder_id, query, include)
        total = 0
        for sign, extra, values in count_terms(order or FLAT, folder_id, query):
            sql = f"SELECT COUNT(*) FROM messages WHERE ({where}){extra}"
            total += sign * int(self.conn.execute(sql, (*params, *values)).fetchone()[0])
        return total

    def _list_filter(
        self, folder_id: int | None, query: str, include: Sequence[int], order: ListOrder | None
    ) -> tuple[str, tuple[object, ...]]:
        where, params = self._filter(folder_id, query, include)
        if order is not None:
            fold, values = fold_filter(order, folder_id, query)
            if fold:
                return f"({where}){fold}", (*params, *values)
        return where, params

    def count_upto(self, folder_id: int | None, limit: int) -> int:
        """The folder's row count, or limit when it has at least that many: a cost bounded by limit, whatever the
        folder's size (the exact count of a big folder is for a worker)."""
        where, params = self._filter(folder_id, "")
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE {where} LIMIT ?)"
        return int(self.conn.execute(sql, (*params, limit)).fetchone()[0])

    def _filter(self, folder_id: int | None, query: str, include: Sequence[int] = ()) -> tuple[str, tuple[object, ...]]:
        """WHERE clause of a list: the folder (None = every folder), narrowed by a search query (see
        tui_mail/search/query.py; raises QueryError for a malformed one). A query that names its own folders or
        account (in:, account:) searches the whole account. include: rows that belong to the result whatever the
        local index says (hits of a search on the IMAP server)."""
        where, params = self._search_filter(folder_id, query)
        if include:
            return f"({where} OR id IN ({','.join('?' * len(include))}))", (*params, *include)
        return where, params

    def _search_filter(self, folder_id: int | None, query: str) -> tuple[str, tuple[object, ...]]:
        if not query:
            return ("folder_id=?", (folder_id,)) if folder_id is not None else ("1", ())
        from ..search.query import parse
        from ..search.sql import Scope, compile_where, scopes_itself

        node = parse(query)
        where, params = compile_where(node, Scope(self.account, self.folders))
        if folder_id is not None and not scopes_itself(node):
            # Few text hits: walk them (index on search_doc) rather than the folder ("+" keeps SQLite off the
            # folder index); many: walk the folder newest first, which finds a page of hits at once.
            column = "+folder_id" if self._few_text_hits(node) else "folder_id"
            return f"{column}=? AND {where}", (folder_id, *params)
        return where, tuple(params)

    def _few_text_hits(self, node: object) -> bool:
        from ..search.sql import text_match

        expr = text_match(node)  # type: ignore[arg-type]
        if expr is None:
            return False
        hits = self._hit_estimates.get(expr)
        if hits is None:
            hits = int(self.conn.execute("SELECT count(*) FROM search WHERE search MATCH ?", (expr,)).fetchone()[0])
            if len(self._hit_estimates) > 256:
                self._hit_estimates.clear()
            self._hit_estimates[expr] = hits
        return hits <= FEW_HITS

    def window(
        self,
        folder_id: int | None,
        offset: int,
        limit: int,
        *,
        threaded: bool = False,
        query: str = "",
        include: Sequence[int] = (),
        order: ListOrder | None = None,
    ) -> list[MessageRow]:
        """Rows offset..offset+limit of the folder's list, newest first (threads grouped when threaded; `order`:
        another sort, collapsed threads). Costs the same for a 100-message folder as for a 1,000,000-message one,
        apart from the index walk."""
        order = order or (ListOrder(threaded=True) if threaded else FLAT)
        threaded = order.threaded
        where, params = self._list_filter(folder_id, query, include, order)
        ids = [
            r[0]
            for r in self.conn.execute(
                f"SELECT id FROM messages WHERE {where} ORDER BY {order_by(order)} LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        by_id = {
            r[0]: _row(r) for r in self.conn.execute(f"SELECT {_ROW_COLUMNS} FROM messages WHERE id IN ({marks})", ids)
        }
        rows = [by_id[i] for i in ids if i in by_id]
        if not threaded:
            return [r if r.thread_depth == 0 else _without_depth(r) for r in rows]
        return rows

    def ordered_ids(
        self, folder_id: int | None, query: str = "", include: Sequence[int] = (), *, order: ListOrder | None = None
    ) -> list[int]:
        """Every row id of the list in its order (a folder-size sort, made once in a worker; pages then slice it)."""
        order = order or FLAT
        where, params = self._list_filter(folder_id, query, include, order)
        return [
            r[0] for r in self.conn.execute(f"SELECT id FROM messages WHERE {where} ORDER BY {order_by(order)}", params)
        ]

    def rows(self, ids: Sequence[int], *, threaded: bool = False) -> list[MessageRow | None]:
        """The rows of these ids, in that order (None where a row is gone)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        by_id = {
            r[0]: _row(r)
            for r in self.conn.execute(f"SELECT {_ROW_COLUMNS} FROM messages WHERE id IN ({marks})", tuple(ids))
        }
        rows = [by_id.get(i) for i in ids]
        return rows if threaded else [r if r is None or r.thread_depth == 0 else _without_depth(r) for r in rows]

    def ids(self, folder_id: int | None, query: str = "", include: Sequence[int] = ()) -> list[int]:
        """Ids of every message of the list that matches the filter (to tag them all at once)."""
        where, params = self._filter(folder_id, query, include)
        return [r[0] for r in self.conn.execute(f"SELECT id FROM messages WHERE {where}", params)]

    def position(
        self,
        folder_id: int | None,
        message_id: int,
        *,
        threaded: bool = False,
        query: str = "",
        include: Sequence[int] = (),
        order: ListOrder | None = None,
    ) -> int | None:
        """Index of a message in the folder's list order (to keep the cursor on it after new mail).

        Counted with index range scans (rows before it in the order), so it stays fast in a 100,000-message folder.
        """
        order = order or (ListOrder(threaded=True) if threaded else FLAT)
        where, params = self._list_filter(folder_id, query, include, order)
        me = self.conn.execute(
            f"SELECT date, id, thread_date, thread_id, thread_pos, {sort_value(order)} FROM messages "
            f"WHERE {where} AND id=?",
            (*params, message_id),
        ).fetchone()
        if me is None:
            return None
        before = before_terms(order, me, folder_id)
        if before is None:
            row = self.conn.execute(
                f"SELECT pos FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY {order_by(order)}) - 1 AS pos FROM messages "
                f"WHERE {where}) WHERE id=?",
                (*params, message_id),
            ).fetchone()
            return int(row[0]) if row else None
        total = 0
        for condition, values in before:
            total += int(
                self.conn.execute(
                    f"SELECT COUNT(*) FROM messages WHERE {where} AND {condition}", (*params, *values)
                ).fetchone()[0]
            )
        return total

    def message(self, message_id: int) -> MessageRow | None:
        r = self.conn.execute(f"SELECT {_ROW_COLUMNS} FROM messages WHERE id=?", (message_id,)).fetchone()
        return _row(r) if r else None

    def message_location(self, message_id: int) -> tuple[int, int | None, int | None]:
        """(folder_id, uid, uidvalidity) of a row."""
        r = self.conn.execute("SELECT folder_id, uid, uidvalidity FROM messages WHERE id=?", (message_id,)).fetchone()
        if r is None:
            raise KeyError(message_id)
        return int(r[0]), r[1], r[2]

    def addresses(self, prefix: str, limit: int = 10) -> list[str]:
        """Known addresses starting with prefix (name or address), for compose completion."""
        like = prefix.replace("%", "").replace("_", "") + "%"
        rows = self.conn.execute(
            "SELECT from_name, from_addr, COUNT(*) AS n FROM messages WHERE from_addr LIKE ? OR from_name LIKE ? "
            "GROUP BY from_addr ORDER BY n DESC LIMIT ?",
            (like, like, limit),
        )
        from email.utils import formataddr

        return [formataddr((name, addr)) if name else addr for name, addr, _ in rows]

    # -- local changes: the queue, claims, refusals, undo and notes live in local_changes.LocalChanges ----------

    def pending_count(self) -> int:
        n = self.conn.execute("SELECT (SELECT COUNT(*) FROM pending_actions) + (SELECT COUNT(*) FROM outbox)")
        return int(n.fetchone()[0])

    # -- POP3 state ------------------------------------------------------------------------------------------------

    def known_uidls(self) -> set[str]:
        """UIDLs already downloaded (committed) — never RETR these again."""
        return {r[0] for r in self.conn.execute("SELECT uidl FROM pop_uidls")}

    def uidls_to_delete(self, older_than: int | None) -> set[str]:
        """Downloaded UIDLs still on the server; all of them, or those downloaded before older_than (unix time)."""
        if older_than is None:
            rows = self.conn.execute("SELECT uidl FROM pop_uidls WHERE deleted_on_server=0")
        else:
            rows = self.conn.execute(
                "SELECT uidl FROM pop_uidls WHERE deleted_on_server=0 AND downloaded < ?", (older_than,)
            )
        return {r[0] for r in rows}

    def mark_uidls_deleted(self, uidls: Iterable[str]) -> None:
        with self.transaction() as c:
            c.executemany("UPDATE pop_uidls SET deleted_on_server=1 WHERE uidl=?", [(u,) for u in uidls])

    def forget_uidls_not_on_server(self, on_server: set[str]) -> None:
        """UIDLs gone from the server need no remembering for deletion (the mail itself stays in the cache)."""
        with self.transaction() as c:
            for (u,) in list(c.execute("SELECT uidl FROM pop_uidls WHERE deleted_on_server=0")):
                if u not in on_server:
                    c.execute("UPDATE pop_uidls SET deleted_on_server=1 WHERE uidl=?", (u,))


def _without_depth(r: MessageRow) -> MessageRow:
    from dataclasses import replace

    return replace(r, thread_depth=0)
