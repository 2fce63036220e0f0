"""Progressive sync on both server shapes: newest envelopes first in a small first page, then older chunks, bodies
last (newest first), the folder the user looks at first, and crash-safe complete UID ranges in between."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_mail.backends.imap import ImapBackend, _text, parse_uid_set
from tui_mail.models import SyncProgress
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

_n = itertools.count(1)


def make_msg(subject: str, minute: int) -> bytes:
    i = next(_n)
    return (
        f"From: Ann <ann@example.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <p{i}@example.test>\r\nDate: Mon, 02 Nov 2026 {minute // 60:02d}:{minute % 60:02d}:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    ).encode()


def deliver(server: Any, user: Any, raws: list[bytes], folder: str = "INBOX") -> None:
    """APPEND one by one (the plain profile has no MULTIAPPEND), creating the folder if needed."""
    client = server.imap_client(user)
    try:
        if folder != "INBOX" and not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in raws:
            client.append(folder, raw)
    finally:
        client.logout()


@pytest.fixture
def user(imap_server: Any) -> Any:
    return imap_server.add_user()


@pytest.fixture
def make_backend(imap_server: Any, user: Any, tmp_path: Path) -> Iterator[Callable[..., ImapBackend]]:
    made: list[ImapBackend] = []
    shared = Cache(tmp_path / "cache.db")

    def make(**overrides: Any) -> ImapBackend:
        b = ImapBackend(imap_server.imap_account(user, **overrides), user.password, shared)
        b.first_page, b.chunk_size = 5, 10
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def record_fetches(backend: ImapBackend, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """(kind, UIDs) of every UID FETCH of message data the backend sends: "envelope" or "body"."""
    backend.connect()
    client = backend._client
    assert client is not None
    calls: list[tuple[str, list[int]]] = []
    real = client._imap._command

    def command(name: str, *args: Any) -> Any:
        if name == "UID" and args and args[0] == "FETCH":
            items = str(args[2])
            if "BODY.PEEK[" in items:
                kind = "body" if "BODY.PEEK[]" in items else "envelope"
                calls.append((kind, parse_uid_set(_text(args[1]))))
        return real(name, *args)

    monkeypatch.setattr(client._imap, "_command", command)
    return calls


def inbox_subjects(cache: Cache, name: str = "INBOX") -> list[str]:
    f = cache.folder_by_name(name)
    assert f is not None
    return [r.subject for r in cache.window(f.id, 0, 10_000)]


def test_newest_page_lands_first_then_older_chunks_then_bodies_newest_first(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend]
) -> None:
    deliver(imap_server, user, [make_msg(f"m{i:02d}", i) for i in range(30)])  # m29 is the newest
    b = make_backend(download="full")
    seen: list[tuple[str, list[str], int]] = []

    def progress(p: SyncProgress) -> None:
        if p.folder == "INBOX" and p.done and (p.stage == "headers" or (p.stage == "bodies" and p.total == 30)):
            f = b.cache.folder_by_name("INBOX")
            assert f is not None
            with_body = sum(1 for r in b.cache.window(f.id, 0, 100) if r.has_body)
            seen.append((p.stage, inbox_subjects(b.cache), with_body))

    result = b.sync(progress)
    assert result.new_messages == 30
    stages = [s for s, _, _ in seen]
    # The newest 5 before the folder list (imap_first_page.py), then the other 25 in pages of 5, 10, 10; then bodies
    assert stages == ["headers"] * 4 + ["bodies"] * 3
    # What the list shows after the first stored page: the 5 newest, nothing else, no body yet.
    assert seen[0][1] == [f"m{i:02d}" for i in range(29, 24, -1)] and seen[0][2] == 0
    assert [len(s) for _, s, _ in seen[:4]] == [5, 10, 20, 30]
    assert [n for _, _, n in seen[4:]] == [10, 20, 30]


def test_bodies_are_fetched_newest_first_after_every_envelope(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_server, user, [make_msg(f"m{i:02d}", i) for i in range(12)])
    b = make_backend(download="full")
    b.full_chunk_bytes = 1  # one body per FETCH, so the order is visible
    calls = record_fetches(b, monkeypatch)
    b.sync()
    kinds = [k for k, _ in calls]
    assert kinds == sorted(kinds, key=lambda k: k == "body")  # every envelope before any body
    bodies = [u for k, uids in calls if k == "body" for u in uids]
    assert bodies == sorted(bodies, reverse=True) and len(bodies) == 12  # newest (highest UID, latest date) first


def test_crash_while_downloading_bodies_resumes_with_the_missing_bodies_only(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_server, user, [make_msg(f"m{i:02d}", i) for i in range(25)])
    b = make_backend(download="full")
    real = b.cache.store_bodies
    calls = {"n": 0}

    def crashing(bodies: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        real(bodies)

    monkeypatch.setattr(b.cache, "store_bodies", crashing)
    with pytest.raises(RuntimeError):
        b.sync()
    b.close()
    monkeypatch.setattr(b.cache, "store_bodies", real)
    f = b.cache.folder_by_name("INBOX")
    assert f is not None
    had_body = {r.uid for r in b.cache.window(f.id, 0, 100) if r.has_body}
    assert len(had_body) == 10 and len(inbox_subjects(b.cache)) == 25

    fresh = make_backend(download="full")
    calls = record_fetches(fresh, monkeypatch)
    result = fresh.sync()
    assert result.new_messages == 0
    fetched = [u for _kind, uids in calls for u in uids]
    assert sorted(fetched) == sorted(set(range(1, 26)) - had_body)  # no envelope, no finished body again
    assert all(r.has_body for r in fresh.cache.window(f.id, 0, 100))


def test_new_mail_during_an_interrupted_first_sync_is_fetched_once_with_the_rest(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_server, user, [make_msg(f"old {i:02d}", i) for i in range(20)])
    b = make_backend(download="headers")
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
    assert sorted(inbox_subjects(b.cache)) == [f"old {i:02d}" for i in range(15, 20)]
    deliver(imap_server, user, [make_msg(f"new {i}", 100 + i) for i in range(3)])

    result = make_backend(download="headers").sync()
    assert result.new_messages == 18
    got = inbox_subjects(b.cache)
    assert sorted(got) == sorted([f"old {i:02d}" for i in range(20)] + [f"new {i}" for i in range(3)])
    assert make_backend(download="headers").sync().new_messages == 0


def test_the_folder_the_user_opens_is_synced_first_even_mid_sync(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend]
) -> None:
    for name in ("Alpha", "Beta", "Gamma"):
        deliver(imap_server, user, [make_msg(f"{name} mail", 1)], folder=imap_server.folder_name(name))
    deliver(imap_server, user, [make_msg("inbox mail", 1)])
    gamma = imap_server.folder_name("Gamma")
    b = make_backend(download="headers")
    order: list[str] = []

    def progress(p: SyncProgress) -> None:
        if p.stage == "headers" and p.folder and p.folder not in order:
            order.append(p.folder)
            if p.folder == "INBOX":
                b.prefer(gamma)  # the user opens Gamma while INBOX is syncing

    b.sync(progress)
    assert order[0] == "INBOX" and order[1] == gamma

    deliver(imap_server, user, [make_msg("more", 2)], folder=imap_server.folder_name("Beta"))
    deliver(imap_server, user, [make_msg("more", 2)])
    order.clear()
    b.prefer(imap_server.folder_name("Beta"))
    b.sync(lambda p: order.append(p.folder) if p.stage == "headers" and p.folder not in order else None)
    assert order[0] == imap_server.folder_name("Beta")


def test_a_crash_with_a_fetch_in_flight_leaves_the_connection_usable(
    imap_server: Any, user: Any, make_backend: Callable[..., ImapBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_server, user, [make_msg(f"m{i:02d}", i) for i in range(30)])
    b = make_backend(download="full")
    real = b.cache.store_bodies
    calls = {"n": 0}

    def crashing(bodies: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated failure while the next FETCH is on its way")
        real(bodies)

    monkeypatch.setattr(b.cache, "store_bodies", crashing)
    with pytest.raises(RuntimeError):
        b.sync()
    result = b.sync()  # the same connection: the answer to the outstanding FETCH was read, nothing is mixed up
    assert result.new_messages == 0 and result.warnings == []
    f = b.cache.folder_by_name("INBOX")
    assert f is not None
    rows = b.cache.window(f.id, 0, 100)
    assert len(rows) == 30 and all(r.has_body for r in rows)
    for r in rows:
        assert f"Subject: {r.subject}".encode() in (b.cache.body(r.id) or b"")
