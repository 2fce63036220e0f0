"""IMAP sync against the real private Dovecot: folders, new mail, flags, expunges, UIDVALIDITY, crash safety."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import imapclient
import pytest

from tui_mail.backends.imap import ImapBackend, folder_role
from tui_mail.errors import ConnectError
from tui_mail.models import FLAGGED, SEEN, Role
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

_n = itertools.count(1)


def make_msg(subject: str, sender: str = "Alice Example <alice@example.test>", body: str = "Hello.\r\n") -> bytes:
    i = next(_n)
    return (
        f"From: {sender}\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <m{i}.{subject.replace(' ', '-')}@example.test>\r\n"
        f"Date: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


BackendFactory = Callable[..., ImapBackend]


@pytest.fixture
def make_backend(imap_server: Any, imap_user: Any, tmp_path: Path) -> Iterator[BackendFactory]:
    """ImapBackend(s) over implicit TLS with the private CA, sharing one cache unless told otherwise; on each server
    shape (imap_server: the rich Dovecot and the plain one)."""
    made: list[ImapBackend] = []
    shared = Cache(tmp_path / "cache.db")

    def make(cache: Cache | None = None, user: Any = None, **overrides: Any) -> ImapBackend:
        u = user or imap_user
        b = ImapBackend(imap_server.imap_account(u, **overrides), u.password, cache or shared)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture
def server(imap_server: Any, imap_user: Any) -> Iterator[imapclient.IMAPClient]:
    """A separate IMAP session, to change and inspect the mailbox behind the backend's back."""
    client = imap_server.imap_client(imap_user)
    yield client
    try:
        client.logout()
    except Exception:
        pass


def archive_folder(imap_server: Any, server: imapclient.IMAPClient, backend: ImapBackend) -> Any:
    """The Archive folder in the cache; the plain server has none at first, so the user makes one (found by name)."""
    if imap_server.profile == "plain":
        server.create_folder(imap_server.folder_name("Archive"))
        backend.sync()
    archive = backend.cache.folder_by_role(Role.ARCHIVE)
    assert archive is not None
    return archive


def subjects(cache: Cache, folder: str) -> list[str]:
    f = cache.folder_by_name(folder)
    assert f is not None, f"folder {folder} not in cache"
    return sorted(r.subject for r in cache.window(f.id, 0, 10_000))


def rows(cache: Cache, folder: str) -> dict[str, Any]:
    f = cache.folder_by_name(folder)
    assert f is not None
    return {r.subject: r for r in cache.window(f.id, 0, 10_000)}


def server_flags(server: imapclient.IMAPClient, folder: str) -> dict[str, set[str]]:
    """Subject -> flags as the server has them now."""
    server.select_folder(folder, readonly=True)
    uids = server.search(["ALL"])
    out: dict[str, set[str]] = {}
    for data in server.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values():
        subj = data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip()
        out[subj] = {f.decode() for f in data[b"FLAGS"]} - {"\\Recent"}
    return out


def test_first_sync_lists_folders_with_roles_and_messages(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory
):
    imap_server.deliver(imap_user, make_msg("first", "Ann <ann@example.test>"), flags=[SEEN])
    imap_server.deliver(imap_user, make_msg("second", "Ben <ben@example.test>"))
    imap_server.deliver(imap_user, make_msg("third", "Cy <cy@example.test>"), flags=[FLAGGED])
    b = make_backend()
    progress: list[Any] = []
    result = b.sync(progress.append)
    cache = b.cache

    roles = {f.name: f.role for f in cache.folders()}
    assert roles["INBOX"] is Role.INBOX
    if imap_server.profile == "rich":
        for name, role in (("Sent", Role.SENT), ("Drafts", Role.DRAFTS), ("Trash", Role.TRASH), ("Junk", Role.JUNK)):
            assert roles[imap_server.folder_name(name)] is role
    else:
        assert roles == {"INBOX": Role.INBOX}  # nothing else exists yet, and nothing is made up
    got = rows(cache, "INBOX")
    assert sorted(got) == ["first", "second", "third"]
    assert (got["first"].from_name, got["first"].from_addr) == ("Ann", "ann@example.test")
    assert got["first"].seen and not got["second"].seen
    assert got["third"].flagged and not got["third"].seen
    assert result.new_messages == 3
    assert result.warnings == []
    assert b.capabilities.idle is True
    assert progress and progress[-1].stage == "done"
    assert any(p.folder == "INBOX" and p.new_messages == 3 for p in progress)


@pytest.mark.parametrize(
    ("name", "flags", "special", "role"),
    [
        ("inbox", [], True, Role.INBOX),
        ("Gesendet", ["\\HasNoChildren", "\\Sent"], True, Role.SENT),
        ("Sent Messages", [], True, Role.NONE),  # the server names its roles; a look-alike name is just a folder
        ("Sent Messages", [], False, Role.SENT),
        ("INBOX.Deleted Items", [], False, Role.TRASH),
        ("Projects", [], False, Role.NONE),
    ],
)
def test_folder_roles_from_special_use_or_well_known_names(name: str, flags: list[str], special: bool, role: Role):
    delimiter = "." if name.startswith("INBOX.") else "/"
    assert folder_role(name, delimiter, flags, special) is role


def test_incremental_sync_fetches_only_new_mail(imap_server: Any, imap_user: Any, make_backend: BackendFactory):
    imap_server.deliver(imap_user, make_msg("old one"))
    b = make_backend()
    b.sync()
    before = b.cache.folder_by_name("INBOX")
    assert before is not None

    imap_server.deliver(imap_user, make_msg("new one"))
    imap_server.deliver(imap_user, make_msg("new two"))
    result = b.sync()
    assert result.new_messages == 2
    assert subjects(b.cache, "INBOX") == ["new one", "new two", "old one"]
    after = b.cache.folder_by_name("INBOX")
    assert after is not None and after.last_uid == before.last_uid + 2

    again = b.sync()  # nothing new: nothing fetched, nothing duplicated
    assert again.new_messages == 0
    assert subjects(b.cache, "INBOX") == ["new one", "new two", "old one"]


def test_noop_resync_does_not_select_unchanged_folders(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
):
    imap_server.deliver_many(imap_user, [make_msg(f"m{i}") for i in range(20)])
    b = make_backend()
    b.sync()
    selected: list[str] = []
    client = b._client
    assert client is not None
    real = client.select_folder
    monkeypatch.setattr(
        client, "select_folder", lambda name, readonly=False: selected.append(name) or real(name, readonly)
    )
    result = b.sync()
    assert (result.new_messages, result.removed, result.flag_changes) == (0, 0, 0)
    if imap_server.profile == "rich":
        assert selected == []  # CONDSTORE: STATUS proves nothing changed
    else:
        assert selected == ["INBOX"]  # without CONDSTORE only FETCH FLAGS can tell; empty folders are still skipped


def test_resync_asks_every_folder_status_in_one_round_trip_and_selects_a_changed_folder_once(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient
):
    """The cheap "anything new?" STATUS goes out for every folder before the first answer is awaited (one round
    trip, not one per folder); new mail in a folder other than INBOX is still found; with download = "full" the
    folder that had new mail is not selected a second time for its bodies."""
    imap_server.deliver(imap_user, make_msg("first"))
    b = make_backend()
    b.sync()
    archive = archive_folder(imap_server, server, b)
    imap_server.deliver(imap_user, make_msg("filed later"), folder=archive.name)
    events: list[str] = []
    client = b._client
    assert client is not None
    imap = client._imap
    real_send, real_complete = imap.send, imap._command_complete

    def send(data: bytes) -> Any:
        words = bytes(data).split(b" ")
        if len(words) > 2:  # a command line (not the end of one sent in pieces): "send UID SEARCH", "send STATUS"
            events.append("send " + (b" ".join(words[1:3]) if words[1] == b"UID" else words[1]).decode())
        return real_send(data)

    def complete(name: str, tag: Any) -> Any:
        events.append("wait " + name)
        return real_complete(name, tag)

    imap.send, imap._command_complete = send, complete  # type: ignore[method-assign]
    result = b.sync()
    assert result.new_messages == 1
    assert "filed later" in subjects(b.cache, archive.name)
    statuses = [i for i, e in enumerate(events) if e == "send STATUS"]
    assert len(statuses) == len([f for f in b.cache.folders() if not f.local_only])
    first_wait = events.index("wait STATUS")
    assert all(i < first_wait for i in statuses)  # every STATUS sent before the first answer is read
    assert events.count("send SELECT") + events.count("send EXAMINE") == (
        1 if imap_server.profile == "rich" else 2  # plain: INBOX too (only FETCH FLAGS can tell its flags)
    )
    if imap_server.profile == "rich":  # the new message above the complete range: fetched without a search first
        assert not [e for e in events if "SEARCH" in e]


def test_everyday_resyncs_fetch_new_mail_above_the_complete_range_exactly_once(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient
):
    imap_server.deliver_many(imap_user, [make_msg(f"old {i}") for i in range(5)])
    b = make_backend()
    b.sync()
    server.select_folder("INBOX")
    newest = max(server.search(["ALL"]))
    server.delete_messages([newest])  # the highest UID is gone: "hi+1:*" names nothing new below it
    server.expunge()
    assert b.sync().removed == 1
    imap_server.deliver_many(imap_user, [make_msg(f"new {i}") for i in range(3)])
    server.delete_messages([min(server.search(["ALL"]))])
    server.expunge()
    result = b.sync()
    assert (result.new_messages, result.removed) == (3, 1)
    assert subjects(b.cache, "INBOX") == ["new 0", "new 1", "new 2", "old 1", "old 2", "old 3"]
    assert b.sync().new_messages == 0
    imap_server.deliver(imap_user, make_msg("one more"))
    assert b.sync().new_messages == 1
    assert len(subjects(b.cache, "INBOX")) == 7
    server.noop()  # this session sees the delivery too
    inbox = b.cache.folder_by_name("INBOX")
    assert inbox is not None and b.cache.complete_ranges(inbox.id) == [(1, max(server.search(["ALL"])))]


def test_a_first_sync_opens_only_folders_with_mail_and_later_mail_in_an_empty_one_is_found(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient
):
    imap_server.deliver(imap_user, make_msg("hello"))
    b = make_backend()
    opened: list[str] = []
    real = b._select
    b._select = lambda name, readonly: opened.append(name) or real(name, readonly)  # type: ignore[method-assign]
    b.sync()
    # The empty folders' state came from the STATUS flight; INBOX is opened for its newest page before the folder
    # list (imap_first_page.py: the first screen of a never-synced account), then for the rest of it.
    assert opened == ["INBOX", "INBOX"]
    folders = [f for f in b.cache.folders() if not f.local_only]
    assert all(f.uidvalidity is not None and f.uidnext is not None for f in folders)
    archive = archive_folder(imap_server, server, b)
    imap_server.deliver(imap_user, make_msg("filed"), folder=archive.name)
    assert b.sync().new_messages == 1
    assert subjects(b.cache, archive.name) == ["filed"]


def test_the_folder_list_and_the_namespace_come_in_one_round_trip(
    imap_server: Any, make_backend: BackendFactory, server: imapclient.IMAPClient, monkeypatch: pytest.MonkeyPatch
):
    import imaplib

    from tui_mail.backends.imap_folders import NAMESPACE_META

    events: list[str] = []
    real_command, real_complete = imaplib.IMAP4._command, imaplib.IMAP4._command_complete

    def command(self: Any, name: str, *args: Any) -> Any:
        events.append("send " + name)
        return real_command(self, name, *args)

    def complete(self: Any, name: str, tag: Any) -> Any:
        events.append("wait " + name)
        return real_complete(self, name, tag)

    monkeypatch.setattr(imaplib.IMAP4, "_command", command)
    monkeypatch.setattr(imaplib.IMAP4, "_command_complete", complete)
    b = make_backend()
    b.sync()
    assert events.index("send NAMESPACE") < events.index("wait LIST")
    assert events.count("send NAMESPACE") == 1
    (personal, *_) = server.namespace().personal or [("", "")]
    expected = f"{personal[0]}\n{personal[1] or ''}"
    assert b.cache.get_meta(NAMESPACE_META) == expected  # "INBOX.\n." on the plain server, "\n/" on the rich one


@pytest.mark.parametrize("condstore", [True, False], ids=["condstore", "plain-flags"])
def test_flag_change_on_server_reaches_cache(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient, condstore: bool
):
    imap_server.deliver(imap_user, make_msg("read me"))
    imap_server.deliver(imap_user, make_msg("flag me"), flags=[SEEN])
    if condstore and imap_server.profile == "plain":
        pytest.skip("the plain server has no CONDSTORE; the plain-flags variant covers it")
    b = make_backend()
    b.use_condstore = condstore
    b.sync()
    assert not rows(b.cache, "INBOX")["read me"].seen

    server.select_folder("INBOX")
    uids = {s: u for s, u in _subjects_to_uids(server).items()}
    server.add_flags([uids["read me"]], [SEEN])
    server.add_flags([uids["flag me"]], [FLAGGED])
    server.remove_flags([uids["flag me"]], [SEEN])
    result = b.sync()
    got = rows(b.cache, "INBOX")
    assert got["read me"].seen
    assert got["flag me"].flagged and not got["flag me"].seen
    assert result.flag_changes == 2


def _subjects_to_uids(server: imapclient.IMAPClient) -> dict[str, int]:
    uids = server.search(["ALL"])
    return {
        d[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip(): uid
        for uid, d in server.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).items()
    }


@pytest.mark.parametrize(
    ("qresync", "condstore"), [(True, True), (False, True), (False, False)], ids=["vanished", "search-all", "plain"]
)
def test_expunge_on_server_removes_from_cache(
    imap_server: Any,
    imap_user: Any,
    make_backend: BackendFactory,
    server: imapclient.IMAPClient,
    qresync: bool,
    condstore: bool,
):
    if condstore and imap_server.profile == "plain":
        pytest.skip("the plain server has no CONDSTORE/QRESYNC; the plain variant covers it")
    for s in ("keep", "drop", "keep too"):
        imap_server.deliver(imap_user, make_msg(s))
    b = make_backend()
    b.use_qresync, b.use_condstore = qresync, condstore
    b.sync()
    server.select_folder("INBOX")
    server.delete_messages([_subjects_to_uids(server)["drop"]])
    server.expunge()
    result = b.sync()
    assert subjects(b.cache, "INBOX") == ["keep", "keep too"]
    assert result.removed == 1


def test_folder_created_and_deleted_on_server(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient
):
    b = make_backend()
    b.sync()
    alpha_name, books = imap_server.folder_name("Projects/Alpha"), imap_server.folder_name("Bücher & Café")
    server.create_folder(alpha_name)
    imap_server.deliver(imap_user, make_msg("alpha news"), folder=alpha_name)
    server.create_folder(books)  # modified UTF-7 on the wire, plain text in the cache
    imap_server.deliver(imap_user, make_msg("book club"), folder=books)
    b.sync()
    assert subjects(b.cache, alpha_name) == ["alpha news"]
    assert subjects(b.cache, books) == ["book club"]
    alpha = b.cache.folder_by_name(alpha_name)
    assert alpha is not None and alpha.display_name == "Alpha"

    server.delete_folder(alpha_name)
    b.sync()
    assert b.cache.folder_by_name(alpha_name) is None
    assert b.cache.folder_by_name("INBOX") is not None


def test_uidvalidity_change_rebuilds_only_that_folder(imap_server: Any, imap_user: Any, make_backend: BackendFactory):
    name = imap_server.folder_name("Lists")
    imap_server.deliver(imap_user, make_msg("inbox mail"))
    imap_server.deliver(imap_user, make_msg("old lists 1"), folder=name)
    imap_server.deliver(imap_user, make_msg("old lists 2"), folder=name)
    b = make_backend()
    b.sync()
    lists = b.cache.folder_by_name(name)
    inbox_before = rows(b.cache, "INBOX")
    assert lists is not None
    old_row = rows(b.cache, name)["old lists 1"]
    b.cache.set_flags([old_row.id], add=[FLAGGED])  # a local change that can no longer be applied

    imap_server.doveadm("mailbox", "delete", "-u", imap_user.name, name)
    imap_server.deliver(imap_user, make_msg("new lists"), folder=name)
    result = b.sync()
    after = b.cache.folder_by_name(name)
    assert after is not None and after.uidvalidity != lists.uidvalidity
    assert subjects(b.cache, name) == ["new lists"]
    assert any(name in w and "1 unsent local change" in w for w in result.warnings)
    # INBOX untouched: same rows, same ids
    assert {s: r.id for s, r in rows(b.cache, "INBOX").items()} == {s: r.id for s, r in inbox_before.items()}


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_local_changes_are_replayed_to_the_server(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient, use_move: bool
):
    for s in ("to read", "to flag", "to move", "to delete", "untouched"):
        imap_server.deliver(imap_user, make_msg(s))
    if use_move and imap_server.profile == "plain":
        pytest.skip("the plain server has no MOVE; the COPY+EXPUNGE variant covers it")
    b = make_backend()
    b.use_move = use_move
    b.sync()
    cache = b.cache
    archive = archive_folder(imap_server, server, b)
    got = rows(cache, "INBOX")
    cache.set_flags([got["to read"].id], add=[SEEN])
    cache.set_flags([got["to flag"].id], add=[FLAGGED])
    cache.move([got["to move"].id], archive.id)
    cache.delete([got["to delete"].id])

    result = b.sync()
    assert result.actions_replayed == 4
    assert cache.pending_actions() == []
    inbox = server_flags(server, "INBOX")
    assert set(inbox) == {"to read", "to flag", "untouched"}
    assert SEEN in inbox["to read"]
    assert FLAGGED in inbox["to flag"]
    assert server_flags(server, archive.name) == {"to move": set()}
    # the cache agrees with the server, nothing duplicated
    assert subjects(cache, "INBOX") == ["to flag", "to read", "untouched"]
    assert subjects(cache, archive.name) == ["to move"]
    moved = rows(cache, archive.name)["to move"]
    assert moved.uid is not None
    b.sync()
    assert subjects(cache, archive.name) == ["to move"]
    assert rows(cache, "INBOX")["to read"].seen


def test_action_on_message_already_gone_is_not_an_error(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient
):
    for s in ("flag gone", "move gone", "delete gone"):
        imap_server.deliver(imap_user, make_msg(s))
    b = make_backend()
    b.sync()
    archive = archive_folder(imap_server, server, b)
    got = rows(b.cache, "INBOX")
    server.select_folder("INBOX")
    server.delete_messages(server.search(["ALL"]))
    server.expunge()
    b.cache.set_flags([got["flag gone"].id], add=[SEEN])
    b.cache.move([got["move gone"].id], archive.id)
    b.cache.delete([got["delete gone"].id])
    result = b.sync()
    assert result.warnings == []
    assert b.cache.pending_actions() == []
    assert subjects(b.cache, "INBOX") == []
    assert subjects(b.cache, archive.name) == []  # the placeholder of the move went too


def test_crash_mid_sync_then_resync_has_every_message_once(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
):
    imap_server.deliver_many(imap_user, [make_msg(f"bulk {i:02d}") for i in range(25)])
    b = make_backend()
    b.chunk_size = b.first_page = 10
    real = b.cache.store_messages
    calls = {"n": 0}

    def crashing(*args: Any, **kw: Any) -> Any:
        if args[1]:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("simulated crash")
        return real(*args, **kw)

    monkeypatch.setattr(b.cache, "store_messages", crashing)
    with pytest.raises(RuntimeError):
        b.sync()
    b.close()
    assert len(subjects(b.cache, "INBOX")) == 10  # the first chunk and its cursor were committed

    monkeypatch.setattr(b.cache, "store_messages", real)
    fresh = make_backend(cache=b.cache)
    fresh.chunk_size = fresh.first_page = 10
    result = fresh.sync()
    assert result.new_messages == 15
    assert subjects(b.cache, "INBOX") == [f"bulk {i:02d}" for i in range(25)]


def test_a_folder_that_cannot_be_opened_is_reported_and_the_rest_still_syncs(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
):
    imap_server.deliver(imap_user, make_msg("still arrives"))
    b = make_backend()
    real = b._list

    def with_vanished_folder() -> list[tuple[str, str, Role, bool]]:
        # A folder that is LISTed but gone by the time we SELECT it (deleted by another client meanwhile).
        return [("Vanished", "/", Role.NONE, True), *real()]

    monkeypatch.setattr(b, "_list", with_vanished_folder)
    result = b.sync()
    assert any("Vanished" in w for w in result.warnings)
    assert subjects(b.cache, "INBOX") == ["still arrives"]


def test_crash_after_a_move_reached_the_server_replays_without_loss_or_duplicate(
    imap_server: Any,
    imap_user: Any,
    make_backend: BackendFactory,
    server: imapclient.IMAPClient,
    monkeypatch: pytest.MonkeyPatch,
):
    imap_server.deliver(imap_user, make_msg("moved once"))
    b = make_backend()
    b.sync()
    archive = archive_folder(imap_server, server, b)
    b.cache.move([rows(b.cache, "INBOX")["moved once"].id], archive.id)

    def crash(action_id: int) -> None:
        raise RuntimeError("simulated crash before the action was marked done")

    monkeypatch.setattr(b.cache, "complete_action", crash)
    with pytest.raises(RuntimeError):
        b.sync()
    b.close()
    monkeypatch.undo()

    result = make_backend(cache=b.cache).sync()
    assert result.warnings == []
    assert b.cache.pending_actions() == []
    assert subjects(b.cache, archive.name) == ["moved once"]
    assert subjects(b.cache, "INBOX") == []
    assert server_flags(server, archive.name) == {"moved once": set()}
    assert server_flags(server, "INBOX") == {}


def test_connection_dropped_mid_sync_is_one_sentence_and_the_next_sync_resumes(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
):
    # More mail than the chunks a pipelined FETCH can have in flight, so the sync must ask again after the kick.
    imap_server.deliver_many(imap_user, [make_msg(f"kicked {i:02d}") for i in range(60)])
    b = make_backend()
    b.chunk_size = b.first_page = 10
    real = b.cache.store_messages
    kicked: list[bool] = []

    def store_then_kick(*args: Any, **kw: Any) -> Any:
        ids = real(*args, **kw)
        if args[1] and not kicked:
            kicked.append(True)
            imap_server.doveadm("kick", imap_user.name)  # the server drops every connection of this user
            for _ in range(200):  # the kick is a signal: wait until the session is really gone (a loaded machine)
                if imap_user.name not in imap_server.doveadm("who"):
                    break
                time.sleep(0.05)
        return ids

    monkeypatch.setattr(b.cache, "store_messages", store_then_kick)
    with pytest.raises(ConnectError, match=r"^lost the connection to 127\.0\.0\.1:\d+ \(.*\)\.$"):
        b.sync()
    monkeypatch.undo()
    kept = len(subjects(b.cache, "INBOX"))
    assert 10 <= kept < 60  # the first chunk, and what was already on its way (pipelined FETCH)

    result = b.sync()  # the same backend reconnects by itself
    assert result.new_messages == 60 - kept
    assert subjects(b.cache, "INBOX") == [f"kicked {i:02d}" for i in range(60)]


def test_a_message_without_a_usable_date_is_dated_by_its_internaldate(
    imap_server: Any, imap_user: Any, make_backend: BackendFactory, server: imapclient.IMAPClient
):
    raw = make_msg("impossible date").replace(b"Date: Mon, 02 Nov 2026 10:", b"Date: Mon, 02 Nov 2026 59:")
    assert b" 59:" in raw
    imap_server.deliver(imap_user, raw)
    imap_server.deliver(imap_user, make_msg("no date").replace(b"Date:", b"X-Old-Date:"))
    b = make_backend()
    b.sync()
    server.select_folder("INBOX", readonly=True)
    arrived = {
        d[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip(): int(d[b"INTERNALDATE"].timestamp())
        for d in server.fetch(server.search(["ALL"]), ["INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values()
    }
    got = rows(b.cache, "INBOX")
    assert got["impossible date"].date == arrived["impossible date"] > 0
    assert got["no date"].date == arrived["no date"] > 0
