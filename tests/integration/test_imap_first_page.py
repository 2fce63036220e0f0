"""The first screen of a never-synced account: the newest INBOX page is stored before the folder list, with one
FETCH by sequence number (no UID SEARCH of the whole folder), and the sync that follows completes the folder
without refetching or duplicating those rows, on both server shapes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_mail.backends.imap import ImapBackend
from tui_mail.models import SyncProgress
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

_n = itertools.count(1)


def make_msg(subject: str, minute: int) -> bytes:
    i = next(_n)
    return (
        f"From: Ann <ann@example.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <fp{i}@example.test>\r\nDate: Mon, 02 Nov 2026 {minute // 60:02d}:{minute % 60:02d}:00 +0000\r\n"
        "\r\nHello.\r\n"
    ).encode()


@pytest.fixture
def user(imap_server: Any) -> Any:
    return imap_server.add_user()


@pytest.fixture
def backend(imap_server: Any, user: Any, tmp_path: Path) -> Iterator[ImapBackend]:
    client = imap_server.imap_client(user)
    try:
        for i in range(23):
            client.append("INBOX", make_msg(f"m{i:02d}", i))  # m22 is the newest
        client.create_folder(imap_server.folder_name("Archive"))
    finally:
        client.logout()
    b = ImapBackend(imap_server.imap_account(user, download="headers"), user.password, Cache(tmp_path / "c.db"))
    b.first_page, b.chunk_size = 5, 10
    yield b
    b.close()


def commands(backend: ImapBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The IMAP commands the backend sends, in order ("UID FETCH", "FETCH", "LIST", ...)."""
    backend.connect()
    assert backend._client is not None
    imap = backend._client._imap
    sent: list[str] = []
    real = imap._command

    def command(name: str, *args: Any) -> Any:
        sent.append(f"{name} {args[0]}" if name == "UID" and args else name)
        return real(name, *args)

    monkeypatch.setattr(imap, "_command", command)
    return sent


def subjects(cache: Cache) -> list[str]:
    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    return [r.subject for r in cache.window(inbox.id, 0, 100)]


def test_the_newest_page_comes_first_then_the_sync_completes_the_folder(
    backend: ImapBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = commands(backend, monkeypatch)
    first_rows: list[list[str]] = []

    def progress(p: SyncProgress) -> None:
        if p.new_messages and not first_rows:
            first_rows.append(subjects(backend.cache))

    result = backend.sync(progress)
    # What the person sees first: the five newest, stored before the folder list was even asked for.
    assert first_rows == [["m22", "m21", "m20", "m19", "m18"]]
    assert sent.index("FETCH") < sent.index("LIST")
    assert "UID SEARCH" not in sent[: sent.index("FETCH")]
    # Then everything, once each, and the folder's complete range covers it all.
    assert result.new_messages == 23
    assert subjects(backend.cache) == [f"m{i:02d}" for i in range(22, -1, -1)]
    inbox = backend.cache.folder_by_name("INBOX")
    assert inbox is not None and backend.cache.complete_ranges(inbox.id)[:1] == [(1, 23)]
    assert any(f.name.endswith("Archive") for f in backend.cache.folders())  # the folder list came after


def test_an_inbox_synced_before_is_not_fetched_again_early(
    backend: ImapBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.sync()
    sent = commands(backend, monkeypatch)
    assert backend.fetch_first_page() == 0
    assert sent == []  # not even an EXAMINE
    result = backend.sync()
    assert result.new_messages == 0 and "FETCH" not in sent


def test_an_empty_inbox_stores_nothing_and_the_sync_goes_on(imap_server: Any, user: Any, tmp_path: Path) -> None:
    b = ImapBackend(imap_server.imap_account(user), user.password, Cache(tmp_path / "e.db"))
    try:
        assert b.fetch_first_page() == 0
        result = b.sync()
        assert result.new_messages == 0 and b.cache.folder_by_name("INBOX") is not None
    finally:
        b.close()


def test_a_crash_right_after_the_first_page_resumes_without_duplicates(
    backend: ImapBackend, imap_server: Any, user: Any, tmp_path: Path
) -> None:
    assert backend.fetch_first_page() == 5
    backend.close()  # the process died here: only the first page is cached
    again = ImapBackend(backend.account, user.password, backend.cache)
    again.first_page, again.chunk_size = 5, 10
    try:
        assert again.sync().new_messages == 18
        assert subjects(again.cache) == [f"m{i:02d}" for i in range(22, -1, -1)]
    finally:
        again.close()
