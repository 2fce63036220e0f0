"""The pending-actions queue: atomic claims, refusals that put the cache back, cancel/undo, notes (no server)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tui_mail.models import FLAGGED, SEEN, Envelope, Role
from tui_mail.store.cache import Cache, NewMessage
from tui_mail.store.local_changes import replay_owner


def env(n: int) -> Envelope:
    return Envelope(message_id=f"<m{n}@x>", date=1_700_000_000 + n * 60, from_addr=f"s{n}@x", subject=f"subject {n}")


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "a.sqlite3")


def setup(cache: Cache) -> tuple[int, int, list[int]]:
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    archive = cache.ensure_folder("Archive", role=Role.ARCHIVE)
    ids = cache.store_messages(inbox, [NewMessage(env(i), uid=i) for i in (1, 2, 3)], uidvalidity=7, last_uid=3)
    return inbox, archive, ids


def test_two_claimers_never_get_the_same_action(tmp_path: Path) -> None:
    one = Cache(tmp_path / "a.sqlite3")
    _inbox, archive, ids = setup(one)
    one.set_flags(ids, add=[SEEN])
    one.move([ids[0]], archive)
    got: dict[str, list[int]] = {}
    all_claimed = threading.Barrier(4)

    def claim(name: str) -> None:
        c = Cache(tmp_path / "a.sqlite3")  # its own connection, like another process
        with replay_owner() as owner:
            got[name] = [a.id for a in c.claim_actions(owner)]
            all_claimed.wait()  # every replay is still running while the others claim

    threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for ids_ in got.values() for i in ids_]
    assert sorted(claimed) == sorted(a.id for a in one.pending_actions())  # every action exactly once
    assert len(claimed) == len(set(claimed)) == 4


def test_a_claim_of_an_ended_replay_returns_to_the_queue(cache: Cache) -> None:
    _inbox, _archive, ids = setup(cache)
    cache.set_flags([ids[0]], add=[FLAGGED])
    with replay_owner() as owner:
        assert len(cache.claim_actions(owner)) == 1
        with replay_owner() as other:
            assert cache.claim_actions(other) == []  # held by a running replay
    with replay_owner() as later:  # the first replay ended without finishing: its claim is stale
        assert [a.kind for a in cache.claim_actions(later)] == ["flags"]


def test_refused_move_returns_the_row_to_its_source_with_its_uid(cache: Cache) -> None:
    inbox, archive, ids = setup(cache)
    cache.move([ids[1]], archive)
    [action] = cache.pending_actions()
    cache.refuse_action(action.id, "the folder Archive does not exist on the server any more [TRYCREATE]")
    row = cache.message(ids[1])
    assert row is not None and row.folder_id == inbox and row.uid == 2
    assert cache.message_location(ids[1]) == (inbox, 2, 7)
    assert cache.pending_actions() == []
    [item] = cache.pending_list()
    assert item.state == "failed"
    assert item.sentence == "Move “subject 2” from INBOX to Archive"
    assert "TRYCREATE" in item.error
    [note] = cache.notes(unseen_only=True)
    assert "subject 2" in note.text and "TRYCREATE" in note.text
    cache.mark_notes_seen([note.id])
    assert cache.notes(unseen_only=True) == []


def test_cancelled_flag_change_restores_only_what_it_changed(cache: Cache) -> None:
    _inbox, _archive, ids = setup(cache)
    cache.set_flags([ids[0]], add=[FLAGGED])
    cache.set_flags([ids[0]], add=[SEEN, FLAGGED])  # FLAGGED was already there: only SEEN is new
    second = cache.pending_actions()[1]
    assert "Flag and mark as read “subject 1” in INBOX" in cache.cancel_action(second.id)
    row = cache.message(ids[0])
    assert row is not None and row.flagged and not row.seen


def test_cancelled_delete_makes_the_next_sync_fetch_it_again(cache: Cache) -> None:
    inbox, _archive, ids = setup(cache)
    cache.mark_complete(inbox, 1, 3)  # the sync had every UID from 1 to 3
    cache.delete([ids[0]])
    [action] = cache.pending_actions()
    assert "next sync" in cache.cancel_action(action.id)
    assert cache.folder(inbox).last_uid == 0  # UID 1 is above the cursor again
    assert cache.complete_ranges(inbox) == [(2, 3)]  # and no longer counted as done


def test_undo_last_cancels_the_newest_move_or_delete(cache: Cache) -> None:
    inbox, archive, ids = setup(cache)
    cache.move([ids[0]], archive)
    cache.set_flags([ids[1]], add=[SEEN])
    cache.move([ids[2]], archive)
    assert cache.undo_last() == "Cancelled: Move “subject 3” from INBOX to Archive."
    assert cache.message_location(ids[2]) == (inbox, 3, 7)
    assert cache.undo_last() == "Cancelled: Move “subject 1” from INBOX to Archive."
    assert cache.undo_last() is None
    assert [a.kind for a in cache.pending_actions()] == ["flags"]


def test_an_action_being_sent_cannot_be_cancelled(cache: Cache) -> None:
    _inbox, archive, ids = setup(cache)
    cache.move([ids[0]], archive)
    with replay_owner() as owner:
        [action] = cache.claim_actions(owner)
        with pytest.raises(ValueError, match="being sent"):
            cache.cancel_action(action.id)
        assert cache.undo_last() is None


def test_placeholder_check_and_drop_is_one_step(cache: Cache) -> None:
    """The race that turned a move into a delete: a placeholder that got its UID meanwhile is left alone and no
    delete is queued for it."""
    _inbox, archive, ids = setup(cache)
    cache.move([ids[0]], archive)
    [action] = cache.pending_actions()
    cache.settle_move(action.id, 40, 9)  # one replay learned the UID in Archive
    cache.settle_move(action.id, None, None)  # the other, late, learned nothing
    assert cache.message_location(ids[0]) == (archive, 40, 9)
    assert [a.kind for a in cache.pending_actions()] == ["move"]  # (the original, not completed here)


def test_moved_on_while_the_move_was_being_sent_queues_the_rest(cache: Cache) -> None:
    _inbox, archive, ids = setup(cache)
    other = cache.ensure_folder("Other")
    cache.move([ids[0]], archive)
    with replay_owner() as owner:
        [action] = cache.claim_actions(owner)
        cache.move([ids[0]], other)  # the user moves it on while the first move is on the wire
        cache.settle_move(action.id, 40, 9)
        cache.complete_action(action.id)
    [follow] = cache.pending_actions()
    assert (follow.kind, follow.folder_id, follow.uid, follow.args["dest_id"]) == ("move", archive, 40, other)


def test_deleted_while_the_move_was_being_sent_deletes_the_copy(cache: Cache) -> None:
    _inbox, archive, ids = setup(cache)
    cache.move([ids[0]], archive)
    with replay_owner() as owner:
        [action] = cache.claim_actions(owner)
        cache.delete([ids[0]])
        cache.settle_move(action.id, 40, 9)
        cache.complete_action(action.id)
    [follow] = cache.pending_actions()
    assert (follow.kind, follow.folder_id, follow.uid) == ("delete", archive, 40)


def test_uidvalidity_reset_drops_the_placeholders_of_its_moves(cache: Cache) -> None:
    inbox, archive, ids = setup(cache)
    cache.move(ids[:2], archive)
    assert cache.reset_folder(inbox, 8) == 2
    assert cache.count(archive) == 0  # no ghosts
    assert cache.pending_list() == []


def test_source_folder_deleted_on_the_server_leaves_no_ghosts_of_its_moves(cache: Cache) -> None:
    inbox, archive, _ids = setup(cache)
    lists = cache.ensure_folder("Lists")
    [mid] = cache.store_messages(lists, [NewMessage(env(9), uid=1)], uidvalidity=3, last_uid=1)
    cache.move([mid], archive)
    cache.delete_folder(lists)  # gone on the server, and the message with it
    assert cache.count(archive) == 0
    assert cache.pending_list() == []
    assert cache.count(inbox) == 3


def test_a_claim_of_a_dead_process_returns_to_the_queue_and_a_live_ones_does_not(cache: Cache) -> None:
    import os
    import socket
    import subprocess
    import sys

    _inbox, _archive, ids = setup(cache)
    cache.set_flags([ids[0]], add=[FLAGGED])
    cache.set_flags([ids[1]], add=[FLAGGED])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = socket.gethostname()
    first, second = (a.id for a in cache.pending_actions())
    with cache.transaction() as c:
        c.execute(
            "UPDATE pending_actions SET state='claimed', claimed_by=?, claimed_at=strftime('%s','now') WHERE id=?",
            (f"{host}:{dead_pid}:killed", first),
        )
        c.execute(
            "UPDATE pending_actions SET state='claimed', claimed_by=?, claimed_at=strftime('%s','now') WHERE id=?",
            (f"{host}:{os.getppid()}:alive", second),
        )
    with replay_owner() as owner:
        got = cache.claim_actions(owner)
    assert [a.id for a in got] == [first]
    assert got[0].attempts == 1  # it may have reached the server before the process died


def test_undo_takes_back_a_whole_multi_message_move(cache: Cache) -> None:
    inbox, archive, ids = setup(cache)
    cache.move([ids[0]], archive)
    cache.move(ids[1:], archive)  # one action on two (tagged) messages
    said = cache.undo_last()
    assert said is not None and said.startswith("Cancelled 2 changes")
    assert [cache.message_location(i)[0] for i in ids] == [archive, inbox, inbox]
    assert cache.undo_last() == "Cancelled: Move “subject 1” from INBOX to Archive."
