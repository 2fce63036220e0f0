"""The SQLite cache: transactional writes, windowed reads, threads, local-first changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tui_mail.models import FLAGGED, SEEN, Envelope, Role
from tui_mail.store.cache import Cache, NewMessage


def env(n: int, **kw: object) -> Envelope:
    base: dict[str, object] = {
        "message_id": f"<m{n}@x>",
        "date": 1_700_000_000 + n * 60,
        "from_addr": f"s{n}@x",
        "subject": f"subject {n}",
    }
    base.update(kw)
    return Envelope(**base)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "a.sqlite3")


def test_reopen_keeps_data_and_schema(tmp_path: Path) -> None:
    c = Cache(tmp_path / "a.sqlite3")
    f = c.ensure_folder("INBOX", "/", Role.INBOX)
    c.store_messages(f, [NewMessage(env(1), uid=1)], uidvalidity=7, last_uid=1)
    c.close()
    again = Cache(tmp_path / "a.sqlite3")
    assert again.folder(f).total == 1 and again.folder(f).last_uid == 1
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_chunk_leaves_no_partial_data_and_cursor_unmoved(cache: Cache) -> None:
    f = cache.ensure_folder("INBOX")
    cache.store_messages(f, [NewMessage(env(1), uid=1)], uidvalidity=7, last_uid=1)
    bad = [NewMessage(env(2), uid=2), NewMessage(env(3, subject=None), uid=3)]  # NULL subject violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        cache.store_messages(f, bad, uidvalidity=7, last_uid=3)
    assert cache.count(f) == 1
    assert cache.folder(f).last_uid == 1  # the cursor moves only with the data it covers


def test_duplicates_are_ignored(cache: Cache) -> None:
    f = cache.ensure_folder("INBOX")
    cache.store_messages(f, [NewMessage(env(1), uid=1)], uidvalidity=7, last_uid=1)
    cache.store_messages(f, [NewMessage(env(1), uid=1)], uidvalidity=7, last_uid=1)
    cache.store_messages(f, [NewMessage(env(5), pop_uidl="abc", raw=b"x")])
    cache.store_messages(f, [NewMessage(env(5), pop_uidl="abc", raw=b"x")])
    assert cache.count(f) == 2
    assert cache.known_uidls() == {"abc"}


def test_window_newest_first_and_filter(cache: Cache) -> None:
    f = cache.ensure_folder("INBOX")
    cache.store_messages(f, [NewMessage(env(i), uid=i) for i in range(1, 101)], uidvalidity=1, last_uid=100)
    rows = cache.window(f, 0, 10)
    assert [r.subject for r in rows[:2]] == ["subject 100", "subject 99"]
    assert [r.subject for r in cache.window(f, 95, 10)] == [f"subject {i}" for i in range(5, 0, -1)]
    from tui_mail.store.search_index import index_pending

    index_pending(cache)
    assert cache.count(f, "subject 1*") == 12  # 1, 10-19, 100 (a search: words, and a prefix)
    assert cache.count(f, "subject 1") == 1
    assert cache.position(f, rows[3].id) == 3


def test_threads_grouped_under_latest_activity(cache: Cache) -> None:
    f = cache.ensure_folder("INBOX")
    root = env(1, subject="plan")
    other = env(2, subject="unrelated")
    reply = env(3, subject="Re: plan", in_reply_to="<m1@x>", references="<m1@x>")
    cache.store_messages(f, [NewMessage(root, uid=1), NewMessage(other, uid=2), NewMessage(reply, uid=3)])
    threaded = cache.window(f, 0, 10, threaded=True)
    assert [(r.subject, r.thread_depth) for r in threaded] == [("plan", 0), ("Re: plan", 1), ("unrelated", 0)]
    flat = cache.window(f, 0, 10)
    assert [r.subject for r in flat] == ["Re: plan", "unrelated", "plan"]


def test_local_changes_queue_pending_actions(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    trash = cache.ensure_folder("Trash", role=Role.TRASH)
    ids = cache.store_messages(inbox, [NewMessage(env(i), uid=i) for i in (1, 2)], uidvalidity=1)
    cache.set_flags([ids[0]], add=[SEEN, FLAGGED])
    cache.move([ids[1]], trash)
    assert cache.folder(inbox).unread == 0 and cache.folder(trash).total == 1
    kinds = [(a.kind, a.uid) for a in cache.pending_actions()]
    assert kinds == [("flags", 1), ("move", 2)]
    # A server flag update must not overwrite a local change that is still pending.
    cache.apply_server_flags(inbox, {1: frozenset()})
    assert cache.message(ids[0]).seen  # type: ignore[union-attr]


def test_local_only_folders_queue_nothing(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX, local_only=True)
    ids = cache.store_messages(inbox, [NewMessage(env(1), pop_uidl="u1", raw=b"Subject: x\r\n\r\nbody")])
    cache.set_flags(ids, add=[SEEN])
    assert cache.pending_actions() == []


def test_uidvalidity_reset_touches_only_that_folder(cache: Cache) -> None:
    a = cache.ensure_folder("A")
    b = cache.ensure_folder("B")
    cache.store_messages(a, [NewMessage(env(1), uid=1, raw=b"one")], uidvalidity=1, last_uid=1)
    cache.store_messages(b, [NewMessage(env(2), uid=1)], uidvalidity=1, last_uid=1)
    local_draft = cache.store_messages(a, [NewMessage(env(3), raw=b"draft")])  # no server UID yet
    cache.reset_folder(a, 2)
    assert [r.id for r in cache.window(a, 0, 10)] == local_draft  # local-only mail is not thrown away
    cache.delete(local_draft)
    assert cache.count(a) == 0 and cache.folder(a).last_uid == 0 and cache.folder(a).uidvalidity == 2
    assert cache.count(b) == 1
    assert cache.conn.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 0  # orphan body dropped


def test_outbox_survives_reopen(tmp_path: Path) -> None:
    c = Cache(tmp_path / "a.sqlite3")
    c.add_outbox(b"raw message", ["a@b"])
    c.close()
    again = Cache(tmp_path / "a.sqlite3")
    (item,) = again.outbox()
    assert item.raw == b"raw message" and item.recipients == ("a@b",)
    assert again.pending_count() == 1


def test_cache_from_schema_1_is_migrated_without_loss(tmp_path: Path) -> None:
    from tui_mail.store.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (s.strip() for s in MIGRATIONS[0].split(";")):
        if statement:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO folders(name) VALUES ('INBOX')")
    conn.execute("INSERT INTO outbox(raw, recipients, created) VALUES (x'00', '[\"a@b\"]', 1)")
    conn.close()
    cache = Cache(path)
    assert cache.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert cache.folder_by_name("INBOX") is not None and len(cache.outbox()) == 1
    plan = " ".join(
        str(r) for r in cache.conn.execute("EXPLAIN QUERY PLAN UPDATE messages SET thread_date=1 WHERE thread_id=1")
    )
    assert "messages_by_thread_id" in plan


def test_bulk_writes_with_background_checkpoints_are_all_kept(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    f = cache.ensure_folder("INBOX")
    with cache.background_checkpoints(interval=0.01):
        for chunk in range(5):
            msgs = [
                NewMessage(env(chunk * 100 + i), uid=chunk * 100 + i + 1, raw=b"x" * 5000 + bytes([i]))
                for i in range(100)
            ]
            cache.store_messages(f, msgs, uidvalidity=1, last_uid=chunk * 100 + 100)
    assert cache.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    reopened = Cache(tmp_path / "a.sqlite3")
    assert reopened.count(f) == 500 and reopened.folder(f).last_uid == 500


def test_complete_ranges_merge_and_an_old_cursor_becomes_a_range(tmp_path: Path) -> None:
    from tui_mail.backends.imap_folder_sync import gaps
    from tui_mail.store.schema import MIGRATIONS

    path = tmp_path / "v3.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:3]:
        for statement in (s.strip() for s in script.split(";")):
            if statement:
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO folders(name, last_uid) VALUES ('INBOX', 250)")
    conn.execute("INSERT INTO folders(name, last_uid) VALUES ('Empty', 0)")
    conn.close()
    cache = Cache(path)
    inbox, empty = cache.folder_by_name("INBOX"), cache.folder_by_name("Empty")
    assert inbox is not None and empty is not None
    assert cache.complete_ranges(inbox.id) == [(1, 250)]  # a sync after the upgrade refetches nothing
    assert cache.complete_ranges(empty.id) == []
    assert gaps(cache.complete_ranges(empty.id)) == "1:*"

    cache.store_messages(inbox.id, [NewMessage(env(1), uid=400)], uidvalidity=1, complete=(380, 400))
    cache.mark_complete(inbox.id, 300, 320)
    assert cache.complete_ranges(inbox.id) == [(1, 250), (300, 320), (380, 400)]
    assert gaps(cache.complete_ranges(inbox.id)) == "251:299,321:379,401:*"
    cache.mark_complete(inbox.id, 251, 379)
    assert cache.complete_ranges(inbox.id) == [(1, 400)]
    assert gaps([(2, 2), (4, 9)]) == "1,3,10:*"


def test_server_row_count_counts_what_uid_map_holds(cache: Cache) -> None:
    # The no-op check of a folder counts its server rows without loading them: the same rows as uid_map.
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    assert cache.server_row_count(inbox) == 0
    cache.store_messages(
        inbox, [NewMessage(Envelope(subject=f"m{u}", date=u), uid=u) for u in (1, 2, 3)], uidvalidity=7
    )
    cache.store_messages(inbox, [NewMessage(Envelope(subject="local copy", date=9))])  # no UID yet
    assert cache.server_row_count(inbox) == len(cache.uid_map(inbox)) == 3
    cache.reset_folder(inbox, 8)  # the folder was replaced on the server: the old rows are not its messages
    assert cache.server_row_count(inbox) == len(cache.uid_map(inbox)) == 0
