"""The list's SQL (store/list_order.py): every sort and folding pages and positions consistently, collapsed threads
show their newest message, kept right by the triggers through moves, deletes and new mail, and an old cache upgrades."""

from __future__ import annotations

import sqlite3
from itertools import product
from pathlib import Path

import pytest

from tui_mail.models import Envelope, Role
from tui_mail.store.cache import Cache, NewMessage
from tui_mail.store.list_order import SORTS, ListOrder, thread_counts

T0 = 1_700_000_000


def env(key: str, minute: int, parent: str = "", sender: str = "", size_subject: str = "") -> Envelope:
    return Envelope(
        message_id=f"<{key}@x>",
        in_reply_to=f"<{parent}@x>" if parent else "",
        references=f"<{parent}@x>" if parent else "",
        date=T0 + minute * 60,
        subject=size_subject or (f"Re: {parent}" if parent else key),
        from_name=sender or key.upper(),
        from_addr=f"{key}@x",
    )


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "a.sqlite3")


def keys(cache: Cache, folder: int, order: ListOrder) -> list[str]:
    return [r.message_id.strip("<>").split("@")[0] for r in cache.window(folder, 0, 100, order=order)]


def fill(cache: Cache) -> int:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(
        inbox,
        [
            NewMessage(env("a", 1), uid=1),
            NewMessage(env("b", 2, parent="a"), uid=2),
            NewMessage(env("c", 5, parent="b"), uid=3),
            NewMessage(env("d", 3), uid=4),
            NewMessage(env("e", 0), uid=5),
            NewMessage(env("f", 4, parent="e"), uid=6),
            NewMessage(env("g", 4), uid=7),  # same minute as f: the row id breaks the tie
        ],
    )
    return inbox


def test_collapsed_threads_show_their_newest_message(cache: Cache) -> None:
    inbox = fill(cache)
    expanded = ListOrder(threaded=True)
    assert keys(cache, inbox, expanded) == ["a", "b", "c", "g", "e", "f", "d"]
    collapsed = ListOrder(threaded=True, collapsed=True)
    assert keys(cache, inbox, collapsed) == ["c", "g", "f", "d"]
    assert cache.count(inbox, order=collapsed) == 4
    thread_a = cache.window(inbox, 0, 1, order=collapsed)[0].thread_id
    assert thread_a is not None
    assert keys(cache, inbox, collapsed.toggled(thread_a)) == ["a", "b", "c", "g", "f", "d"]
    assert keys(cache, inbox, expanded.toggled(thread_a)) == ["c", "g", "e", "f", "d"]
    assert thread_counts(cache.conn, inbox, [thread_a]) == {thread_a: (3, 3)}


def test_every_order_pages_and_positions_alike(cache: Cache) -> None:
    inbox = fill(cache)
    thread_a = cache.window(inbox, 0, 1, order=ListOrder(threaded=True))[0].thread_id
    assert thread_a is not None
    for threaded, sort, reverse, collapsed in product((False, True), SORTS, (False, True), (False, True)):
        order = ListOrder(threaded, sort, reverse, collapsed and threaded)
        for o in (order, order.toggled(thread_a) if threaded else order):
            rows = cache.window(inbox, 0, 100, order=o)
            assert len(rows) == cache.count(inbox, order=o)
            assert [cache.position(inbox, r.id, order=o) for r in rows] == list(range(len(rows))), o
            paged = [r.id for k in range(0, len(rows), 2) for r in cache.window(inbox, k, 2, order=o)]
            assert paged == [r.id for r in rows]


def test_sorts(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(
        inbox,
        [
            NewMessage(env("m1", 1, sender="zoe", size_subject="Re: apples"), uid=1),
            NewMessage(env("m2", 2, sender="Adam", size_subject="bananas"), uid=2),
            NewMessage(env("m3", 3, sender="mia", size_subject="Fwd: cherries"), uid=3),
        ],
    )
    assert keys(cache, inbox, ListOrder(sort="sender")) == ["m2", "m3", "m1"]  # case folded
    assert keys(cache, inbox, ListOrder(sort="sender", reverse=True)) == ["m1", "m3", "m2"]
    assert keys(cache, inbox, ListOrder(sort="subject")) == ["m1", "m2", "m3"]  # Re:/Fwd: ignored
    with cache.transaction() as c:
        c.executemany("UPDATE messages SET size=? WHERE message_id=?", [(10, "<m1@x>"), (30, "<m2@x>"), (20, "<m3@x>")])
    assert keys(cache, inbox, ListOrder(sort="size")) == ["m2", "m3", "m1"]  # largest first
    assert keys(cache, inbox, ListOrder(sort="date", reverse=True)) == ["m1", "m2", "m3"]


def test_moves_deletes_and_new_mail_keep_heads_and_thread_dates(cache: Cache) -> None:
    inbox = fill(cache)
    archive = cache.ensure_folder("Archive", role=Role.ARCHIVE)
    collapsed = ListOrder(threaded=True, collapsed=True)
    c_id = cache.window(inbox, 0, 1, order=collapsed)[0].id
    cache.move([c_id], archive)  # the newest of thread a leaves: b shows it, and it sorts by b's date now
    assert keys(cache, inbox, collapsed) == ["g", "f", "d", "b"]
    assert keys(cache, archive, collapsed) == ["c"]
    assert keys(cache, inbox, ListOrder(threaded=True)) == ["g", "e", "f", "d", "a", "b"]
    cache.move([c_id], inbox)
    assert keys(cache, inbox, collapsed) == ["c", "g", "f", "d"]
    f_id = next(r.id for r in cache.window(inbox, 0, 100, order=collapsed) if r.message_id == "<f@x>")
    cache.delete([f_id])
    assert keys(cache, inbox, collapsed) == ["c", "g", "d", "e"]
    cache.store_messages(inbox, [NewMessage(env("h", 9, parent="e"), uid=8)])
    assert keys(cache, inbox, collapsed) == ["h", "c", "g", "d"]
    thread_e = cache.window(inbox, 0, 1, order=collapsed)[0].thread_id
    assert thread_counts(cache.conn, inbox, [thread_e or 0]) == {thread_e: (2, 2)}


def test_upgrade_marks_the_heads_of_an_existing_cache(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    Cache(path).close()  # a current cache, then rolled back to version 6 by hand
    conn = sqlite3.connect(path, isolation_level=None)
    for name in (
        "messages_head_delete",
        "messages_head_left",
        "messages_head_joined",
        "messages_date_joined",
        "messages_head_unthreaded",
    ):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP INDEX messages_thread_heads")
    conn.execute("ALTER TABLE messages DROP COLUMN thread_head")
    conn.execute("PRAGMA user_version = 6")
    conn.execute("INSERT INTO folders(id, name) VALUES (1, 'INBOX')")
    for i, (mid, date) in enumerate([("<p@x>", 1), ("<r@x>", 3), ("<s@x>", 2)]):
        conn.execute(
            "INSERT INTO messages(folder_id, message_id, date, subject, thread_id, thread_pos, thread_date) "
            "VALUES (1, ?, ?, 's', 7, ?, 3)",
            (mid, T0 + date, i),
        )
    conn.close()
    cache = Cache(path)
    rows = cache.window(1, 0, 10, order=ListOrder(threaded=True, collapsed=True))
    assert [r.message_id for r in rows] == ["<r@x>"]
