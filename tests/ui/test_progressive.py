"""A sync that is still running: the list says it is loading instead of "no messages", rows appear as chunks are
stored, and the folder the user opens is the one the sync does next."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.backends.base import SyncResult
from tui_mail.backends.imap import ImapBackend
from tui_mail.config import AccountConfig, Config, ServerConfig, UiConfig
from tui_mail.mime import parse_envelope
from tui_mail.models import Role, SyncProgress
from tui_mail.store.cache import NewMessage
from tui_mail.ui.app import MailApp
from tui_mail.ui.widgets.message_list import MessageList

SIZE = (120, 30)


async def _until(pilot: object, check: Callable[[], bool]) -> bool:
    for _ in range(400):
        if check():
            return True
        await pilot.pause()  # type: ignore[attr-defined]
    return check()


async def test_a_never_synced_account_shows_loading_then_the_newest_rows_while_the_sync_runs(
    tmp_path: Path, ui: Any
) -> None:
    screen_text, make_raw = ui.screen_text, ui.make_raw
    fresh = AccountConfig(
        name="fresh",
        email="me@fresh.example",
        protocol="imap",
        incoming=ServerConfig(host="mail.fresh.invalid", port=993),
    )
    config = Config(path=None, accounts=(fresh,), ui=UiConfig(threads=False))
    manager = AccountManager(config, data_dir=tmp_path, offline=True)
    listed, stored = threading.Event(), threading.Event()
    go_on, release = threading.Event(), threading.Event()
    preferred: list[tuple[str, str | None]] = []

    def progressive_sync(name: str, progress: Callable[[SyncProgress], None] | None = None) -> SyncResult:
        assert progress is not None
        cache = manager.cache(name)
        inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
        cache.ensure_folder("Archive", "/", Role.ARCHIVE)
        progress(SyncProgress(name, stage="folders", done=2, total=2))
        listed.set()
        go_on.wait(10)
        msg = NewMessage(parse_envelope(make_raw("The newest one")), uid=2)
        cache.store_messages(inbox, [msg], uidvalidity=1, last_uid=2, complete=(2, 2))
        progress(SyncProgress(name, stage="headers", folder="INBOX", done=1, total=2, new_messages=1))
        stored.set()
        release.wait(10)
        return SyncResult(new_messages=1)

    manager.sync = progressive_sync  # type: ignore[method-assign]
    manager.prefer_folder = lambda name, folder: preferred.append((name, folder))  # type: ignore[method-assign]
    app = MailApp(config, manager, sync_on_start=True, show_clock=False, preview_delay=0, cursor_blink=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            # The folder list is stored: it shows at once, Inbox open, and the list says it is loading.
            assert await _until(pilot, lambda: listed.is_set() and "Loading newest messages" in screen_text(app))
            text = screen_text(app)
            assert "Archive" in text and "No messages" not in text
            go_on.set()
            # The newest page is stored: its rows show while the sync goes on.
            assert await _until(pilot, lambda: stored.is_set() and "The newest one" in screen_text(app))
            assert "syncing" in screen_text(app)
            archive = manager.cache("fresh").folder_by_name("Archive")
            assert archive is not None
            app.open_folder(0, archive.id)  # the user opens another folder meanwhile: it jumps the queue
            await pilot.pause()
            assert preferred[-1] == ("fresh", "Archive")
            assert "Loading newest messages" in screen_text(app)
            release.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "No messages in this folder" in screen_text(app)  # the sync is over: Archive is empty
    finally:
        release.set()
        go_on.set()
        manager.close()


@pytest.mark.servers
async def test_first_open_against_a_real_server_shows_the_newest_page_before_the_sync_ends(
    tmp_path: Path, ui: Any, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real engine reports "folders" twice in quick succession (listing, then stored): the UI must open the Inbox
    from that report, so the newest page shows while older chunks are still downloading."""
    client = imap_server.imap_client(imap_user)
    try:
        for i in range(12):
            raw = (
                f"From: Ann <ann@example.test>\r\nTo: {imap_user.email}\r\nSubject: Mail number {i:02d}\r\n"
                f"Message-ID: <cold{i}@example.test>\r\nDate: Mon, 02 Nov 2026 10:{i:02d}:00 +0000\r\n\r\nHi.\r\n"
            )
            client.append("INBOX", raw.encode())
    finally:
        client.logout()
    monkeypatch.setattr(ImapBackend, "first_page", 3)
    monkeypatch.setattr(ImapBackend, "chunk_size", 4)
    account = imap_server.imap_account(imap_user, idle=False)
    config = Config(path=None, accounts=(account,), ui=UiConfig(threads=False))
    manager = AccountManager(config, data_dir=tmp_path, password_source=lambda _a, _s: imap_user.password)
    first_page, release = threading.Event(), threading.Event()
    real_sync = manager.sync

    def held_sync(name: str, progress: Callable[[SyncProgress], None] | None = None) -> SyncResult:
        def hold(p: SyncProgress) -> None:
            if progress is not None:
                progress(p)
            if p.stage == "headers" and p.new_messages and not first_page.is_set():
                first_page.set()  # the newest page is stored; the next chunks wait for the test
                release.wait(10)

        return real_sync(name, hold)

    manager.sync = held_sync  # type: ignore[method-assign]
    app = MailApp(
        config, manager, sync_on_start=True, show_clock=False, preview_delay=0, cursor_blink=False, push=False
    )
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await _until(pilot, lambda: first_page.is_set() and "Mail number 11" in ui.screen_text(app))
            text = ui.screen_text(app)
            assert "Mail number 09" in text and "Mail number 08" not in text  # only the newest page so far
            assert "syncing" in text
            release.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert await _until(pilot, lambda: "Mail number 00" in ui.screen_text(app))
    finally:
        release.set()
        manager.close()


async def test_the_sync_goes_on_only_once_its_first_rows_are_painted(
    tmp_path: Path, ui: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing the next chunk must not delay the first screen: the worker waits until the UI has shown the newest
    page (bounded by a timeout) before it goes on."""
    import tui_mail.ui.background as background

    monkeypatch.setattr(background, "FIRST_PAINT_WAIT", 30.0)  # a loaded machine must not turn this into a race
    fresh = AccountConfig(
        name="fresh", email="me@fresh.example", protocol="imap", incoming=ServerConfig(host="mail.invalid", port=993)
    )
    config = Config(path=None, accounts=(fresh,), ui=UiConfig(threads=False))
    manager = AccountManager(config, data_dir=tmp_path, offline=True)
    seen_after: list[int] = []

    def sync(name: str, progress: Callable[[SyncProgress], None] | None = None) -> SyncResult:
        assert progress is not None
        cache = manager.cache(name)
        inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
        progress(SyncProgress(name, stage="folders"))
        progress(SyncProgress(name, stage="folders", done=1, total=1))
        msg = NewMessage(parse_envelope(ui.make_raw("First row")), uid=1)
        cache.store_messages(inbox, [msg], uidvalidity=1, last_uid=1, complete=(1, 1))
        progress(SyncProgress(name, stage="headers", folder="INBOX", done=1, total=1, new_messages=1))
        shown = app.screen_stack[0].query_one("#messages", MessageList)
        seen_after.append(shown.row_count)  # what the list held when the sync went on
        return SyncResult(new_messages=1)

    manager.sync = sync  # type: ignore[method-assign]
    app = MailApp(config, manager, sync_on_start=True, show_clock=False, preview_delay=0, cursor_blink=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await _until(pilot, lambda: bool(seen_after))
            assert seen_after == [1]
            assert "First row" in ui.screen_text(app)
    finally:
        manager.close()


async def test_before_the_folder_list_arrives_the_screen_says_it_is_coming_not_press_sync(
    tmp_path: Path, ui: Any
) -> None:
    screen_text = ui.screen_text
    fresh = AccountConfig(
        name="fresh",
        email="me@fresh.example",
        protocol="imap",
        incoming=ServerConfig(host="mail.fresh.invalid", port=993),
    )
    config = Config(path=None, accounts=(fresh,), ui=UiConfig(threads=False))
    manager = AccountManager(config, data_dir=tmp_path, offline=True)
    started, release = threading.Event(), threading.Event()

    def failing_sync(name: str, progress: Callable[[SyncProgress], None] | None = None) -> SyncResult:
        started.set()
        release.wait(10)
        raise OSError("the network is unreachable")

    manager.sync = failing_sync  # type: ignore[method-assign]
    app = MailApp(config, manager, sync_on_start=True, show_clock=False, preview_delay=0, cursor_blink=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await _until(pilot, lambda: started.is_set() and "Fetching the folder list" in screen_text(app))
            assert "press $" not in screen_text(app)
            release.set()
            await app.workers.wait_for_complete()
            assert await _until(pilot, lambda: "No folders yet: press $ to sync" in screen_text(app))
    finally:
        release.set()
        manager.close()
