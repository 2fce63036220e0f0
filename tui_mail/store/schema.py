"""Cache DDL and ordered migrations keyed by PRAGMA user_version; never drops user data."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _thread_everything(conn: sqlite3.Connection) -> None:
    from .threads import rebuild_all

    rebuild_all(conn)


def _fix_head(row: str) -> str:
    """Trigger SQL: in the (thread, folder) of row ("old" or "new"), thread_head = 1 on its newest message only."""
    return f"""        UPDATE messages SET thread_head = 1 - thread_head
        WHERE thread_id = {row}.thread_id AND +folder_id = {row}.folder_id
        AND thread_head <> (id = (SELECT MAX(h.id) FROM messages h WHERE h.thread_id = {row}.thread_id
            AND +h.folder_id = {row}.folder_id AND h.date = (SELECT MAX(d.date) FROM messages d
            WHERE d.thread_id = {row}.thread_id AND +d.folder_id = {row}.folder_id)));
"""


def _fix_thread_date(row: str) -> str:
    """Trigger SQL: the (thread, folder) of row ("old" or "new") sorts by its newest message's date there."""
    return f"""        UPDATE messages SET thread_date = (SELECT MAX(h.date) FROM messages h WHERE h.thread_id = {row}.thread_id
            AND +h.folder_id = {row}.folder_id)
        WHERE thread_id = {row}.thread_id AND +folder_id = {row}.folder_id
        AND thread_date <> (SELECT MAX(h.date) FROM messages h WHERE h.thread_id = {row}.thread_id
            AND +h.folder_id = {row}.folder_id);
"""


# Each entry upgrades from version i to i+1: SQL, or (SQL, a Python step run after it in the same transaction).
# Append only; never edit a released step.
MIGRATIONS: list[str | tuple[str, Callable[[sqlite3.Connection], None]]] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        delimiter TEXT NOT NULL DEFAULT '/',
        role TEXT NOT NULL DEFAULT '',
        uidvalidity INTEGER,
        uidnext INTEGER,
        highestmodseq INTEGER,
        last_uid INTEGER NOT NULL DEFAULT 0,
        local_only INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE bodies (
        hash TEXT PRIMARY KEY,
        raw BLOB NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        uid INTEGER,
        uidvalidity INTEGER,
        pop_uidl TEXT,
        message_id TEXT NOT NULL DEFAULT '',
        in_reply_to TEXT NOT NULL DEFAULT '',
        refs TEXT NOT NULL DEFAULT '',
        date INTEGER NOT NULL DEFAULT 0,
        from_name TEXT NOT NULL DEFAULT '',
        from_addr TEXT NOT NULL DEFAULT '',
        to_addrs TEXT NOT NULL DEFAULT '',
        cc_addrs TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        flags TEXT NOT NULL DEFAULT '',
        seen INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL DEFAULT 0,
        has_attachments INTEGER NOT NULL DEFAULT 0,
        snippet TEXT NOT NULL DEFAULT '',
        body_hash TEXT REFERENCES bodies(hash),
        thread_id INTEGER,
        thread_depth INTEGER NOT NULL DEFAULT 0,
        thread_date INTEGER NOT NULL DEFAULT 0,
        UNIQUE (folder_id, uidvalidity, uid)
    );
    CREATE INDEX messages_by_date ON messages(folder_id, date DESC, id DESC);
    CREATE INDEX messages_by_thread ON messages(folder_id, thread_date DESC, thread_id DESC, date, id);
    CREATE INDEX messages_unseen ON messages(folder_id, seen);
    CREATE INDEX messages_msgid ON messages(folder_id, message_id);
    CREATE INDEX messages_body ON messages(body_hash);
    CREATE UNIQUE INDEX messages_pop ON messages(pop_uidl) WHERE pop_uidl IS NOT NULL;
    CREATE TABLE pop_uidls (
        uidl TEXT PRIMARY KEY,
        downloaded INTEGER NOT NULL,
        deleted_on_server INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE pending_actions (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        folder_id INTEGER,
        uid INTEGER,
        message_id INTEGER,
        args TEXT NOT NULL DEFAULT '{}',
        created INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        raw BLOB NOT NULL,
        recipients TEXT NOT NULL,
        created INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: a new reply updates its thread's sort date; without this index that UPDATE scans the whole folder.
    """
    CREATE INDEX messages_thread_members ON messages(folder_id, thread_id);
    """,
    # 2 -> 3: no lost or doubled mail. Queued actions are claimed atomically (state queued -> claimed -> gone, or
    # failed with a reason the user sees); outbox items are marked `sending` before SMTP DATA and carry their
    # Message-ID, which may be queued once only; per-UID lookups get an index (no folder scan per message);
    # notes keep what the user must be told (a refused action, a message sent twice could not be ruled out).
    """
    ALTER TABLE pending_actions ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
    ALTER TABLE pending_actions ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE pending_actions ADD COLUMN claimed_at INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX pending_by_message ON pending_actions(message_id);
    CREATE INDEX pending_by_folder ON pending_actions(folder_id, uid);
    ALTER TABLE outbox ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
    ALTER TABLE outbox ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN send_after INTEGER NOT NULL DEFAULT 0;
    CREATE UNIQUE INDEX outbox_by_message_id ON outbox(message_id) WHERE message_id <> '';
    CREATE INDEX messages_by_uid ON messages(folder_id, uid);
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        created INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        seen INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 3 -> 4: full-text search. A contentless FTS5 index whose rows are found through messages.search_doc: a
    # message that is moved keeps its document, a deleted one takes it out of every result (the join finds no row),
    # and a re-indexed one gets a new document number (numbers are never reused, so a stale document can never
    # match another message). search_state 0 = to index (new rows, a body that arrived later), 1 = indexed.
    """
    ALTER TABLE messages ADD COLUMN search_doc INTEGER;
    ALTER TABLE messages ADD COLUMN search_state INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_by_search_doc ON messages(search_doc);
    CREATE INDEX messages_search_todo ON messages(id) WHERE search_state = 0;
    CREATE INDEX messages_all_by_date ON messages(date DESC, id DESC);
    CREATE VIRTUAL TABLE search USING fts5(
        subject, sender, rcpt_to, rcpt_cc, body, filenames,
        content='', tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    );
    CREATE TRIGGER messages_body_changed AFTER UPDATE OF body_hash ON messages
    WHEN new.body_hash IS NOT old.body_hash
    BEGIN
        UPDATE messages SET search_state = 0 WHERE id = new.id;
    END;
    INSERT OR IGNORE INTO meta(key, value) VALUES ('search_doc_seq', '0');
    """,
    # 4 -> 5: conversations across the account's folders (tui_mail/store/threads.py): thread_id is now an
    # account-wide conversation, thread_pos the message's place in its JWZ tree; every message is threaded again.
    (
        """
        CREATE TABLE thread_ids (msgid TEXT PRIMARY KEY, conv INTEGER NOT NULL);
        CREATE INDEX thread_ids_by_conv ON thread_ids(conv);
        ALTER TABLE messages ADD COLUMN thread_pos INTEGER NOT NULL DEFAULT 0;
        DROP INDEX messages_by_thread;
        DROP INDEX messages_thread_members;
        CREATE INDEX messages_by_conversation ON messages(folder_id, thread_date DESC, thread_id DESC, thread_pos, id);
        CREATE INDEX messages_all_by_conversation ON messages(thread_date DESC, thread_id DESC, thread_pos, id);
        CREATE INDEX messages_by_thread_id ON messages(thread_id);
        """,
        _thread_everything,
    ),
    # 5 -> 6: progressive sync (newest first). A folder's sync state says which UID ranges are complete (every
    # server UID inside is cached or was expunged), written in the same transaction as the rows it covers, so a
    # sync interrupted anywhere resumes without loss, duplicates or refetching; the old high-water mark becomes
    # the range 1..last_uid. Bodies still to download (download = "full") are found newest first by index.
    """
    CREATE TABLE sync_ranges (
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        lo INTEGER NOT NULL,
        hi INTEGER NOT NULL,
        PRIMARY KEY (folder_id, lo)
    );
    INSERT INTO sync_ranges(folder_id, lo, hi) SELECT id, 1, last_uid FROM folders WHERE last_uid > 0;
    CREATE INDEX messages_without_body ON messages(folder_id, date DESC) WHERE body_hash IS NULL AND uid IS NOT NULL;
    """,
    # 6 -> 7: collapsed threads (tui_mail/store/list_order.py). thread_head = 1 on the newest message of each
    # conversation in each folder (the row a collapsed thread shows), kept by triggers whatever changes a row's
    # thread, folder or date (threading new mail, merges, moves, deletes, expunges). There is no INSERT trigger (it
    # doubled the cost of storing mail): a row that joins a conversation does so by an UPDATE. A partial index makes a
    # collapsed 100k folder count and page as fast as a flat one (without it, counting one took ~90 ms of correlated
    # lookups). The same triggers keep a folder's thread_date (the thread's sort date there) right when a message
    # leaves or joins it by a move or a delete, so a moved reply does not split its thread in the destination.
    """
    ALTER TABLE messages ADD COLUMN thread_head INTEGER NOT NULL DEFAULT 1;
    UPDATE messages SET thread_head = 0 WHERE thread_id IS NOT NULL AND EXISTS (SELECT 1 FROM messages h
        WHERE h.thread_id = messages.thread_id AND +h.folder_id = messages.folder_id
        AND (h.date > messages.date OR (h.date = messages.date AND h.id > messages.id)));
    CREATE INDEX messages_thread_heads ON messages(folder_id, thread_date DESC, thread_id DESC, thread_pos, id)
        WHERE thread_head = 1;
    CREATE TRIGGER messages_head_delete AFTER DELETE ON messages WHEN old.thread_id IS NOT NULL BEGIN
"""
    + _fix_head("old")
    + _fix_thread_date("old")
    + """    END;
    -- A row leaving its thread or folder (threading, a merge, a move).
    CREATE TRIGGER messages_head_left AFTER UPDATE OF thread_id, folder_id, date ON messages
    WHEN old.thread_id IS NOT NULL BEGIN
"""
    + _fix_head("old")
    + _fix_thread_date("old")
    + """    END;
    -- A row joining a thread or folder; threading itself (link) lays out the thread's dates after this.
    CREATE TRIGGER messages_head_joined AFTER UPDATE OF thread_id, folder_id, date ON messages
    WHEN new.thread_id IS NOT NULL BEGIN
"""
    + _fix_head("new")
    + """    END;
    CREATE TRIGGER messages_date_joined AFTER UPDATE OF folder_id, date ON messages
    WHEN new.thread_id IS NOT NULL BEGIN
"""
    + _fix_thread_date("new")
    + """    END;
    CREATE TRIGGER messages_head_unthreaded AFTER UPDATE OF thread_id ON messages WHEN new.thread_id IS NULL BEGIN
        UPDATE messages SET thread_head = 1 WHERE id = new.id;
    END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION, each step in its own transaction; returns the version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        from ..errors import MailError

        raise MailError(
            f"The cache was written by a newer tui-mail (schema {version}, this one knows {SCHEMA_VERSION})."
        )
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            entry = MIGRATIONS[step]
            step_sql, python_step = (entry, None) if isinstance(entry, str) else entry
            for statement in _split(step_sql):
                conn.execute(statement)
            if python_step is not None:
                python_step(conn)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            from .disk import rollback

            rollback(conn)
            raise
    return SCHEMA_VERSION


def _split(script: str) -> list[str]:
    """The script's statements (a trigger body's inner semicolons do not end its CREATE TRIGGER)."""
    out: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                out.append(current.strip())
            current = ""
    if current.strip(" \n;"):
        out.append(current.strip())
    return out
