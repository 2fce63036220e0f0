"""Replaying local changes against the real Dovecot (both server shapes): refused actions put the cache back as the
server has it and are not retried, UIDVALIDITY changes leave no ghost rows, racing replays send each action once."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import imapclient
import pytest

from tui_mail.backends import imap_replay
from tui_mail.backends.base import SyncResult
from tui_mail.backends.imap import ImapBackend
from tui_mail.errors import ConnectError
from tui_mail.models import FLAGGED, SEEN, Role
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

_n = itertools.count(1)


def make_msg(subject: str) -> bytes:
    i = next(_n)
    return (
        f"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <r{i}.{subject.replace(' ', '-')}@example.test>\r\n"
        f"Date: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0000\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
    ).encode()


BackendFactory = Callable[..., ImapBackend]


def deliver(server: Any, user: Any, raw: bytes, folder: str = "INBOX") -> None:
    """APPEND one message (the plain profile has no MULTIAPPEND), creating the folder if missing."""
    client = server.imap_client(user)
    try:
        if folder != "INBOX" and not client.folder_exists(folder):
            client.create_folder(folder)
        client.append(folder, raw)
    finally:
        client.logout()


@pytest.fixture
def user(imap_server: Any) -> Any:
    return imap_server.add_user()


@pytest.fixture
def make_backend(imap_server: Any, user: Any, tmp_path: Path) -> Iterator[BackendFactory]:
    made: list[ImapBackend] = []
    shared = Cache(tmp_path / "cache.db")

    def make(cache: Cache | None = None) -> ImapBackend:
        b = ImapBackend(imap_server.imap_account(user), user.password, cache or shared)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture
def other(imap_server: Any, user: Any) -> Iterator[imapclient.IMAPClient]:
    """Another client of the same mailbox, changing things behind our back."""
    client = imap_server.imap_client(user)
    yield client
    try:
        client.logout()
    except Exception:
        pass


def subjects(cache: Cache, folder: str) -> list[str]:
    f = cache.folder_by_name(folder)
    assert f is not None, f"folder {folder} not in cache"
    return sorted(r.subject for r in cache.window(f.id, 0, 10_000))


def rows(cache: Cache, folder: str) -> dict[str, Any]:
    f = cache.folder_by_name(folder)
    assert f is not None
    return {r.subject: r for r in cache.window(f.id, 0, 10_000)}


def on_server(client: imapclient.IMAPClient, folder: str) -> list[str]:
    """Subjects in a server folder, sorted (duplicates kept)."""
    client.select_folder(folder, readonly=True)
    uids = client.search(["ALL"])
    out = []
    for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values():
        out.append(data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip())
    client.unselect_folder() if client.has_capability("UNSELECT") else client.noop()
    return sorted(out)


def test_move_to_a_folder_deleted_elsewhere_returns_the_message_and_is_not_retried(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    inbox, projects = "INBOX", imap_server.folder_name("Projects")
    deliver(imap_server, user, make_msg("keep me"))
    deliver(imap_server, user, make_msg("bystander"))
    other.create_folder(projects)
    b = make_backend()
    b.sync()
    dest = b.cache.folder_by_name(projects)
    assert dest is not None
    b.cache.move([rows(b.cache, inbox)["keep me"].id], dest.id)
    assert subjects(b.cache, inbox) == ["bystander"]

    other.delete_folder(projects)  # another client deletes the target before our sync
    result = b.sync()

    assert subjects(b.cache, inbox) == ["bystander", "keep me"]  # back where the server has it, exactly once
    assert b.cache.folder_by_name(projects) is None
    assert b.cache.pending_actions() == []
    [failed] = b.cache.failed_actions()
    assert "TRYCREATE" in failed.last_error or "does not exist" in failed.last_error
    [item] = b.cache.pending_list()
    assert item.state == "failed" and "keep me" in item.sentence and projects in item.sentence
    assert any("keep me" in n.text for n in b.cache.notes(unseen_only=True))
    assert len(result.warnings) == 1

    again = b.sync()  # not retried: no new warning, nothing changes on the server
    assert again.warnings == []
    assert again.actions_replayed == 0
    assert b.cache.failed_actions()[0].attempts == failed.attempts
    assert subjects(b.cache, inbox) == ["bystander", "keep me"]
    assert on_server(other, inbox) == ["bystander", "keep me"]
    kept = rows(b.cache, inbox)["keep me"]
    assert kept.uid is not None

    assert "Dismissed" in b.cache.cancel_action(failed.id)
    assert b.cache.pending_list() == []


def test_move_into_a_folder_that_vanished_before_the_replay_returns_the_message(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    """The folder list sync drops a folder gone from the server: a row moved into it locally goes back."""
    projects = imap_server.folder_name("Projects")
    deliver(imap_server, user, make_msg("keep me"))
    other.create_folder(projects)
    b = make_backend()
    b.sync()
    dest = b.cache.folder_by_name(projects)
    assert dest is not None
    b.cache.move([rows(b.cache, "INBOX")["keep me"].id], dest.id)
    other.delete_folder(projects)
    b.cache.delete_folder(dest.id)  # what the folder list sync does when it sees the folder gone
    assert subjects(b.cache, "INBOX") == ["keep me"]
    b.sync()
    assert subjects(b.cache, "INBOX") == ["keep me"]
    assert [a.state for a in b.cache.failed_actions()] == ["failed"]


def test_refused_delete_brings_the_message_back_from_the_server(
    imap_server: Any, user: Any, make_backend: BackendFactory
):
    deliver(imap_server, user, make_msg("older"))
    deliver(imap_server, user, make_msg("not deleted"))
    deliver(imap_server, user, make_msg("newest"))
    b = make_backend()
    b.sync()
    row = rows(b.cache, "INBOX")["not deleted"]
    b.cache.delete([row.id])
    [action] = b.cache.pending_actions()
    b.cache.refuse_action(action.id, "the server said [CANNOT] no")
    b.sync()
    assert subjects(b.cache, "INBOX") == ["newest", "not deleted", "older"]  # fetched again, once


def test_flag_change_on_a_message_expunged_elsewhere_is_dropped_quietly(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    deliver(imap_server, user, make_msg("gone"))
    deliver(imap_server, user, make_msg("stays"))
    b = make_backend()
    b.sync()
    got = rows(b.cache, "INBOX")
    b.cache.set_flags([got["gone"].id], add=[FLAGGED])
    b.cache.set_flags([got["stays"].id], add=[SEEN])
    other.select_folder("INBOX")
    other.delete_messages(other.search(["SUBJECT", "gone"]))
    other.expunge()
    result = b.sync()
    assert result.warnings == []
    assert b.cache.pending_list() == []
    assert subjects(b.cache, "INBOX") == ["stays"]
    assert rows(b.cache, "INBOX")["stays"].seen
    assert b.sync().warnings == []


def test_uidvalidity_change_with_moves_pending_leaves_no_ghost_rows(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    lists, keep = imap_server.folder_name("Lists"), imap_server.folder_name("Keep")
    deliver(imap_server, user, make_msg("list one"), folder=lists)
    deliver(imap_server, user, make_msg("list two"), folder=lists)
    other.create_folder(keep)
    b = make_backend()
    b.sync()
    dest = b.cache.folder_by_name(keep)
    assert dest is not None
    b.cache.move([r.id for r in rows(b.cache, lists).values()], dest.id)
    assert subjects(b.cache, keep) == ["list one", "list two"]

    # The folder is replaced on the server (same mail, new UIDVALIDITY) before our moves reach it.
    imap_server.doveadm("mailbox", "delete", "-u", user.name, lists)
    deliver(imap_server, user, make_msg("list one"), folder=lists)
    deliver(imap_server, user, make_msg("list two"), folder=lists)
    result = b.sync()

    assert subjects(b.cache, keep) == []  # no ghosts
    assert subjects(b.cache, lists) == ["list one", "list two"]
    assert any("2 unsent local change" in w for w in result.warnings)
    b.sync()
    assert subjects(b.cache, keep) == []
    assert subjects(b.cache, lists) == ["list one", "list two"]
    assert on_server(other, keep) == []


def test_two_replays_racing_send_each_action_once(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient, tmp_path: Path
):
    """Two processes on one cache without the account lock: a second replay starts while the first is sending."""
    keep = imap_server.folder_name("Keep")
    names = [f"race {i}" for i in range(4)]
    for s in [*names, "stays"]:
        deliver(imap_server, user, make_msg(s))
    other.create_folder(keep)
    first = make_backend()
    first.sync()
    second = make_backend(cache=Cache(first.cache.path))  # its own connection to the same file, like a process
    dest = first.cache.folder_by_name(keep)
    assert dest is not None
    got = rows(first.cache, "INBOX")
    first.cache.move([got[s].id for s in names], dest.id)
    first.cache.set_flags([got["stays"].id], add=[FLAGGED])

    client = first._c
    raced: list[SyncResult] = []
    for verb in ("move", "copy"):
        real = getattr(client, verb)

        def racing(*args: Any, _real: Any = real, **kw: Any) -> Any:
            out = _real(*args, **kw)
            if not raced:  # the first replay's command reached the server; its bookkeeping has not run yet
                raced.append(SyncResult())
                imap_replay.replay(second, raced[0])  # the other replay runs to its end in between
            return out

        setattr(client, verb, racing)

    first.sync()
    assert raced, "the race hook never ran"
    assert on_server(other, keep) == sorted(names)  # each moved once: no duplicates from a double COPY
    assert on_server(other, "INBOX") == ["stays"]
    second.sync()
    first.sync()
    assert first.cache.pending_list() == []
    assert subjects(first.cache, keep) == sorted(names)
    assert subjects(first.cache, "INBOX") == ["stays"]
    assert on_server(other, keep) == sorted(names)  # and no move became a delete later


def test_claims_of_a_dead_replay_return_to_the_queue(imap_server: Any, user: Any, make_backend: BackendFactory):
    deliver(imap_server, user, make_msg("flag me"))
    b = make_backend()
    b.sync()
    b.cache.set_flags([rows(b.cache, "INBOX")["flag me"].id], add=[FLAGGED])
    with b.cache.transaction() as c:  # a replay of a process that was killed mid-way
        c.execute("UPDATE pending_actions SET state='claimed', claimed_by='nohost-xyz:1:dead', claimed_at=1")
    b.sync()
    assert b.cache.pending_list() == []
    assert rows(b.cache, "INBOX")["flag me"].flagged


def test_move_to_trash_then_undo_before_sync_keeps_the_message_where_it_was(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    deliver(imap_server, user, make_msg("oops"))
    b = make_backend()
    b.sync()
    archive = b.cache.folder_by_role(Role.ARCHIVE) or b.cache.folder_by_name(imap_server.folder_name("Archive"))
    if archive is None:
        other.create_folder(imap_server.folder_name("Archive"))
        b.sync()
        archive = b.cache.folder_by_name(imap_server.folder_name("Archive"))
    assert archive is not None
    row = rows(b.cache, "INBOX")["oops"]
    b.cache.move([row.id], archive.id)
    sentence = b.cache.undo_last()
    assert sentence is not None and "oops" in sentence
    assert rows(b.cache, "INBOX")["oops"].id == row.id
    b.sync()
    assert subjects(b.cache, "INBOX") == ["oops"]
    assert on_server(other, "INBOX") == ["oops"]


def test_connection_dropped_between_copy_and_expunge_does_not_copy_twice(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    """Without MOVE a move is COPY, STORE \\Deleted, EXPUNGE; a drop before the EXPUNGE must not double the mail."""
    keep = imap_server.folder_name("Keep")
    deliver(imap_server, user, make_msg("moved once"))
    other.create_folder(keep)
    b = make_backend()
    b.use_move = False
    b.sync()
    dest = b.cache.folder_by_name(keep)
    assert dest is not None
    b.cache.move([rows(b.cache, "INBOX")["moved once"].id], dest.id)
    client = b._c
    real_expunge, real_uid_expunge = client.expunge, client.uid_expunge

    def drop(*args: Any, **kw: Any) -> Any:
        client.expunge, client.uid_expunge = real_expunge, real_uid_expunge
        client.shutdown()  # the network goes away before the EXPUNGE
        raise imapclient.exceptions.IMAPClientAbortError("connection dropped")

    client.expunge = client.uid_expunge = drop  # type: ignore[method-assign]
    with pytest.raises(ConnectError):
        b.sync()
    assert [a.attempts for a in b.cache.pending_actions()] == [1]
    b.sync()
    assert on_server(other, keep) == ["moved once"]
    assert on_server(other, "INBOX") == []
    assert b.cache.pending_list() == []
    assert subjects(b.cache, keep) == ["moved once"]
    assert subjects(b.cache, "INBOX") == []


@pytest.mark.parametrize(
    ("refusal", "tries"),
    [
        ("NO [b'[EXPUNGEISSUED] Some of the requested messages no longer exist']", 1),  # for good at once
        ("NO [b'Internal error occurred. Refer to server log']", 5),  # no code: retried, then given up
    ],
    ids=["EXPUNGEISSUED", "no-code"],
)
def test_refused_flag_change_is_classified_by_its_response_code(
    imap_server: Any, user: Any, make_backend: BackendFactory, refusal: str, tries: int
):
    deliver(imap_server, user, make_msg("flag me"))
    b = make_backend()
    b.sync()
    row = rows(b.cache, "INBOX")["flag me"]
    b.cache.set_flags([row.id], add=[FLAGGED])
    client = b._c
    calls: list[int] = []

    def refuse(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        raise imapclient.exceptions.IMAPClientError(f"UID command error: {refusal}")

    client.add_flags = refuse  # type: ignore[method-assign]
    for _ in range(7):
        b.sync()
    assert len(calls) == tries  # never more than that
    [failed] = b.cache.failed_actions()
    assert failed.attempts == tries
    assert not rows(b.cache, "INBOX")["flag me"].flagged  # the cache shows the server's flags again
    assert b.cache.notes(unseen_only=True)


def test_flags_changed_on_a_moved_message_before_the_move_reached_the_server_follow_it(
    imap_server: Any, user: Any, make_backend: BackendFactory, other: imapclient.IMAPClient
):
    keep = imap_server.folder_name("Keep")
    deliver(imap_server, user, make_msg("read after moving"))
    other.create_folder(keep)
    b = make_backend()
    b.sync()
    dest = b.cache.folder_by_name(keep)
    assert dest is not None
    row = rows(b.cache, "INBOX")["read after moving"]
    b.cache.move([row.id], dest.id)
    b.cache.set_flags([row.id], add=[SEEN, FLAGGED])  # opened (and flagged) in Keep before the sync
    b.sync()
    b.sync()
    moved = rows(b.cache, keep)["read after moving"]
    assert moved.seen and moved.flagged
    other.select_folder(keep, readonly=True)
    [uid] = other.search(["ALL"])
    assert {f.decode() for f in other.get_flags([uid])[uid]} >= {SEEN, FLAGGED}
    assert b.cache.pending_list() == []
