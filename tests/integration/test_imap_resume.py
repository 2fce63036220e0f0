"""Sync cost and resumability on both server shapes: a resumed sync fetches only what is missing, and a server
without CONDSTORE is compared in bulk (one FLAGS fetch, one UID SEARCH) and still sees other clients' changes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_mail.backends.imap import ImapBackend, _text, parse_uid_set
from tui_mail.models import FLAGGED, SEEN
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

_n = itertools.count(1)


def make_msg(subject: str) -> bytes:
    i = next(_n)
    return (
        f"From: Ann <ann@example.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <r{i}@example.test>\r\nDate: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    ).encode()


def deliver(server: Any, user: Any, raws: list[bytes]) -> None:
    """APPEND one by one (the plain profile has no MULTIAPPEND, which server.deliver_many needs)."""
    client = server.imap_client(user)
    try:
        for raw in raws:
            client.append("INBOX", raw)
    finally:
        client.logout()


class Recorder:
    """Counts what a backend asks the server for: UIDs of message data (FETCH of bodies/headers) and UIDs whose
    FLAGS came back, and how many UID FETCH FLAGS commands went out."""

    def __init__(self, backend: ImapBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        self.data_uids: list[int] = []  # envelopes (BODY.PEEK[HEADER])
        self.body_uids: list[int] = []  # whole messages (BODY.PEEK[])
        self.flag_uids: list[int] = []
        self.flag_commands = 0
        backend.connect()
        client = backend._client
        assert client is not None
        real_command = client._imap._command

        def command(name: str, *args: Any) -> Any:
            # Message data goes out as UID FETCH commands (several may be in flight): note which UIDs each asks for.
            if name == "UID" and args and args[0] == "FETCH":
                into = self.body_uids if "BODY.PEEK[]" in str(args[2]) else None
                into = self.data_uids if "BODY.PEEK[HEADER]" in str(args[2]) else into
                if into is not None:
                    into.extend(parse_uid_set(_text(args[1])))
            return real_command(name, *args)

        monkeypatch.setattr(client._imap, "_command", command)
        real_uid = client._imap.uid

        def uid(command: str, *args: Any) -> Any:
            typ, data = real_uid(command, *args)
            if command.upper() == "FETCH" and "FLAGS" in str(args[1]).upper():
                self.flag_commands += 1
            return typ, data

        monkeypatch.setattr(client._imap, "uid", uid)
        real_flags = backend._fetch_flags

        def fetch_flags(uids: Any, modifiers: Any = None, items: str = "(FLAGS)") -> Any:
            out = real_flags(uids, modifiers, items)
            if "FLAGS" in items:
                self.flag_uids.extend(u for u, d in out.items() if b"FLAGS" in d)
            return out

        monkeypatch.setattr(backend, "_fetch_flags", fetch_flags)


@pytest.fixture
def user(imap_server: Any) -> Any:
    return imap_server.add_user()


@pytest.fixture
def make_backend(imap_server: Any, user: Any, tmp_path: Path) -> Iterator[Callable[..., ImapBackend]]:
    made: list[ImapBackend] = []
    shared = Cache(tmp_path / "cache.db")

    def make(**overrides: Any) -> ImapBackend:
        b = ImapBackend(imap_server.imap_account(user, **overrides), user.password, shared)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def subjects(cache: Cache) -> list[str]:
    f = cache.folder_by_name("INBOX")
    assert f is not None
    return sorted(r.subject for r in cache.window(f.id, 0, 10_000))


@pytest.mark.parametrize("download", ["full", "headers"])
def test_resumed_sync_fetches_only_what_is_missing(
    imap_server: Any,
    user: Any,
    make_backend: Callable[..., ImapBackend],
    monkeypatch: pytest.MonkeyPatch,
    download: str,
) -> None:
    deliver(imap_server, user, [make_msg(f"bulk {i:02d}") for i in range(25)])
    b = make_backend(download=download)
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
    monkeypatch.setattr(b.cache, "store_messages", real)
    done = {int(u) for u in b.cache.uid_map(b.cache.folder_by_name("INBOX").id)}  # type: ignore[union-attr]
    assert len(done) == 10

    fresh = make_backend(download=download)
    fresh.chunk_size = fresh.first_page = 10
    rec = Recorder(fresh, monkeypatch)
    result = fresh.sync()
    assert result.new_messages == 15
    assert subjects(fresh.cache) == [f"bulk {i:02d}" for i in range(25)]
    # Only the 15 missing messages travel; none of the 10 stored before the crash is fetched again.
    assert sorted(rec.data_uids) == sorted(set(rec.data_uids))
    assert len(rec.data_uids) == 15 and not (set(rec.data_uids) & done)
    # Bodies come after every envelope: none was stored before the crash, so each travels once now.
    assert sorted(rec.body_uids) == (sorted(rec.data_uids + list(done)) if download == "full" else [])
    if imap_server.profile == "rich":
        # With CONDSTORE, the finished part is not re-checked message by message either.
        assert rec.flag_uids == []
    else:
        # Without it, the cached part's flags come in one compressed FETCH.
        assert sorted(rec.flag_uids) == sorted(done) and rec.flag_commands == 1


def test_resync_sees_flag_changes_and_expunges_by_another_client(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_server, user, [make_msg(f"m{i:02d}") for i in range(30)])
    b = make_backend()
    b.use_condstore = False  # the rich server too takes the no-CONDSTORE path here
    b.sync()
    other = imap_server.imap_client(user)
    try:
        other.select_folder("INBOX")
        uids = sorted(other.search(["ALL"]))
        other.add_flags([uids[0], uids[29]], [SEEN])
        other.add_flags([uids[5]], [FLAGGED])
        other.delete_messages([uids[10], uids[11]])
        other.expunge()
    finally:
        other.logout()

    rec = Recorder(b, monkeypatch)
    result = b.sync()
    assert (result.flag_changes, result.removed, result.new_messages) == (3, 2, 0)
    rows = {r.uid: r for r in b.cache.window(b.cache.folder_by_name("INBOX").id, 0, 100)}  # type: ignore[union-attr]
    assert set(rows) == set(uids) - {uids[10], uids[11]}
    assert rows[uids[0]].seen and rows[uids[29]].seen and rows[uids[5]].flagged
    assert not rows[uids[1]].seen
    assert rec.data_uids == [] and rec.body_uids == []
    assert rec.flag_commands == 1  # one FETCH FLAGS over compressed UID sets, not one per message

    again = Recorder(b, monkeypatch)
    result = b.sync()  # nothing changed: nothing changes in the cache
    assert (result.flag_changes, result.removed, result.new_messages) == (0, 0, 0)
    assert again.data_uids == [] and again.flag_commands == 1
