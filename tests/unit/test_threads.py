"""Conversations: JWZ threading kept by the cache, on the hard cases (order of arrival, missing parents, cycles,
duplicate Message-IDs, replies in Sent, subject-only replies), and the threaded list order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tui_mail.models import Envelope, Role
from tui_mail.store import threads
from tui_mail.store.cache import Cache, NewMessage

T0 = 1_700_000_000


def env(
    key: str, minute: int, parent: str = "", refs: str = "", subject: str = "", msgid: str | None = None
) -> Envelope:
    return Envelope(
        message_id=f"<{key}@x>" if msgid is None else msgid,
        in_reply_to=f"<{parent}@x>" if parent else "",
        references=refs or (f"<{parent}@x>" if parent else ""),
        date=T0 + minute * 60,
        subject=subject or (f"Re: {key}" if parent else key),
    )


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    c = Cache(tmp_path / "a.sqlite3")
    return c


def listing(cache: Cache, folder: int) -> list[tuple[str, int]]:
    return [
        (r.message_id.strip("<>").split("@")[0], r.thread_depth) for r in cache.window(folder, 0, 100, threaded=True)
    ]


def test_a_parent_arriving_after_its_replies_adopts_them(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(inbox, [NewMessage(env("b", 2, parent="a"), uid=2)])
    cache.store_messages(inbox, [NewMessage(env("c", 3, parent="b", refs="<a@x> <b@x>"), uid=3)])
    cache.store_messages(inbox, [NewMessage(env("z", 9), uid=9)])
    cache.store_messages(inbox, [NewMessage(env("a", 1), uid=1)])  # the root comes last
    assert listing(cache, inbox) == [("z", 0), ("a", 0), ("b", 1), ("c", 2)]


def test_missing_parent_keeps_siblings_together_without_double_indent(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(
        inbox,
        [
            NewMessage(env("b", 2, parent="gone"), uid=2),
            NewMessage(env("c", 3, parent="gone"), uid=3),
            NewMessage(env("other", 1), uid=1),
        ],
    )
    assert listing(cache, inbox) == [("b", 0), ("c", 0), ("other", 0)]
    (b, c, _) = cache.window(inbox, 0, 10, threaded=True)
    assert b.id != c.id and cache.message(b.id) is not None


def test_reference_cycles_and_duplicate_message_ids_do_not_break_it(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(
        inbox,
        [
            NewMessage(env("a", 1, refs="<b@x>"), uid=1),  # a says b is its parent
            NewMessage(env("b", 2, refs="<a@x>"), uid=2),  # and b says a is: a cycle
            NewMessage(env("a", 3, msgid="<a@x>", subject="a again"), uid=3),  # the same Message-ID twice
        ],
    )
    rows = listing(cache, inbox)
    assert sorted(k for k, _ in rows) == ["a", "a", "b"]
    assert len({r["thread_id"] for r in _raw(cache)}) == 1  # one conversation


def _raw(cache: Cache) -> list[sqlite3.Row]:
    cache.conn.row_factory = sqlite3.Row
    try:
        return list(cache.conn.execute("SELECT * FROM messages"))
    finally:
        cache.conn.row_factory = None


def test_my_reply_in_sent_joins_the_conversation(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    sent = cache.ensure_folder("Sent", role=Role.SENT)
    cache.store_messages(inbox, [NewMessage(env("q", 1), uid=1), NewMessage(env("old", 0), uid=2)])
    cache.store_messages(sent, [NewMessage(env("mine", 50, parent="q"), uid=1)])
    cache.store_messages(inbox, [NewMessage(env("back", 60, parent="mine", refs="<q@x> <mine@x>"), uid=3)])
    rows = {r["message_id"]: r for r in _raw(cache)}
    assert rows["<mine@x>"]["thread_id"] == rows["<q@x>"]["thread_id"] == rows["<back@x>"]["thread_id"]
    # In the Inbox the answer to my reply (which is in Sent) hangs one level under the question, not two.
    assert listing(cache, inbox) == [("q", 0), ("back", 1), ("old", 0)]
    assert listing(cache, sent) == [("mine", 0)]


def test_subject_fallback_only_for_replies_without_references(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(inbox, [NewMessage(env("p", 1, subject="Party on Friday"), uid=1)])
    cache.store_messages(inbox, [NewMessage(env("r", 2, subject="RE: [club] Party on Friday"), uid=2)])
    cache.store_messages(inbox, [NewMessage(env("s", 3, subject="Party on Friday"), uid=3)])  # not a reply
    assert listing(cache, inbox) == [("s", 0), ("p", 0), ("r", 1)]


def test_subject_key() -> None:
    assert threads.subject_key("Re: Fwd: [list] AW: Hello  World") == "hello world"
    assert threads.is_reply_subject("Re: x") and not threads.is_reply_subject("[list] x")


def test_upgrade_threads_an_existing_cache(tmp_path: Path) -> None:
    from tui_mail.store.schema import MIGRATIONS, _split

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:4]:
        assert isinstance(step, str)
        for statement in _split(step):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO folders(id, name) VALUES (1, 'INBOX')")
    for i, (mid, irt) in enumerate([("<r@x>", "<p@x>"), ("<p@x>", "")]):
        conn.execute(
            "INSERT INTO messages(folder_id, message_id, in_reply_to, refs, date, subject, thread_id) "
            "VALUES (1, ?, ?, ?, ?, 's', NULL)",
            (mid, irt, irt, T0 + i),
        )
    conn.close()
    cache = Cache(path)
    assert [(r.message_id, r.thread_depth) for r in cache.window(1, 0, 10, threaded=True)] == [
        ("<p@x>", 0),
        ("<r@x>", 1),
    ]


def test_threaded_position_matches_the_window_order(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    msgs = [NewMessage(env(f"t{i}", i), uid=i + 1) for i in range(5)]
    msgs += [NewMessage(env(f"r{i}", 20 + i, parent=f"t{i % 2}"), uid=100 + i) for i in range(6)]
    cache.store_messages(inbox, msgs)
    order = cache.window(inbox, 0, 100, threaded=True)
    for i, row in enumerate(order):
        assert cache.position(inbox, row.id, threaded=True) == i


def test_a_late_reply_to_a_deleted_thread_does_not_join_unrelated_new_mail(cache: Cache) -> None:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    cache.store_messages(inbox, [NewMessage(env("a", 1), uid=1)])
    cache.store_messages(inbox, [NewMessage(env("t", 2), uid=2)])
    cache.remove_uids(inbox, [2])  # the newest message, and its whole conversation, leaves the server
    cache.store_messages(inbox, [NewMessage(env("n", 3, subject="unrelated"), uid=3)])
    cache.store_messages(inbox, [NewMessage(env("late", 4, parent="t"), uid=4)])
    assert listing(cache, inbox) == [("late", 0), ("n", 0), ("a", 0)]
