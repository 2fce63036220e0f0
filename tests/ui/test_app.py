"""Pilot tests: a person switching accounts, moving through a folder, reading, deleting, flagging, filtering."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from textual.widgets import Input

from tests.ui.conftest import settle
from tui_mail.accounts import AccountManager
from tui_mail.backends.base import SyncResult
from tui_mail.config import Config, UiConfig
from tui_mail.mime import parse_envelope
from tui_mail.models import FLAGGED, SEEN, Role, SyncProgress
from tui_mail.store.cache import NewMessage
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.compose import ComposeScreen
from tui_mail.ui.screens.folder_picker import DirectoryScreen, FolderPickerScreen
from tui_mail.ui.screens.help import HelpScreen
from tui_mail.ui.screens.reader_screen import ReaderScreen

SIZE = (120, 40)

if TYPE_CHECKING:
    from conftest import Helpers, Mailbox


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_main_view_shows_accounts_folders_and_inbox(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "work" in text and "home" in text
        assert "Inbox 10" in text  # unread count of work's inbox
        assert "Terminal Weekly #142" in text
        assert "Archive" in text and "Trash" in text
        assert app.message_list.source is not None
        assert app.message_list.source.account == "work"


async def test_number_keys_and_ctrl_n_p_switch_accounts_keeping_selection(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j", "j")
        work_selected = app.message_list.current_id
        await pilot.press("2")
        await settle(app, pilot)
        assert app.message_list.source is not None and app.message_list.source.account == "home"
        assert "Reminder: club fees" in screen_text(app)
        assert "home · Inbox" in screen_text(app)
        await pilot.press("1")
        await settle(app, pilot)
        assert app.message_list.source.account == "work"
        assert app.message_list.current_id == work_selected
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert app.message_list.source.account == "home"
        await pilot.press("ctrl+p")
        await settle(app, pilot)
        assert app.message_list.source.account == "work"
        assert app.message_list.current_id == work_selected


async def test_command_palette_account_picker(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("colon")
        await pilot.press(*"account home")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.message_list.source is not None and app.message_list.source.account == "home"


async def test_open_a_folder_from_the_folder_pane(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("shift+tab")
        assert app.focused is app.folder_pane
        await pilot.press("j", "j", "enter")  # Inbox -> Drafts -> Sent
        await settle(app, pilot)
        cache = demo.manager.cache("work")
        sent = cache.folder_by_role(Role.SENT)
        assert sent is not None
        assert app.message_list.source is not None and app.message_list.source.folder_id == sent.id
        assert app.focused is app.message_list
        assert "work · Sent" in screen_text(app)


async def test_move_through_list_and_open_a_message_marks_it_read(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "down", "k")  # on "Retro notes" (unread)
        row = app.message_list.current_row
        assert row is not None and row.subject == "Retro notes" and not row.seen
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        text = screen_text(app)
        assert "Subject: Retro notes" in text
        assert "From:" in text and "Date:" in text
        refreshed = cache.message(row.id)
        assert refreshed is not None and SEEN in refreshed.flags
        assert cache.pending_count() >= 1  # queued for the server
        await pilot.press("q")
        await settle(app, pilot)
        assert app.screen is app.main_screen
        assert app.is_running


async def test_reader_pane_follows_the_cursor(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j", "j")
        await settle(app, pilot)
        assert app.reader.row is not None and app.reader.row.subject == "Stand-up moved to 10:15"
        assert "Subject: Stand-up moved to 10:15" in screen_text(app)
        await pilot.press("p")
        await settle(app, pilot)
        assert not app.reader.display


async def test_g_g_and_G_jump_to_ends(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("G")
        assert app.message_list.cursor == app.message_list.row_count - 1
        await pilot.press("g", "g")
        assert app.message_list.cursor == 0
        await pilot.press("end", "pageup", "home")
        assert app.message_list.cursor == 0


async def test_d_moves_the_message_to_trash(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    assert trash is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j")
        row = app.message_list.current_row
        assert row is not None
        before = app.message_list.row_count
        await pilot.press("d")
        await settle(app, pilot)
        moved = cache.message(row.id)
        assert moved is not None and moved.folder_id == trash.id
        assert app.message_list.row_count == before - 1
        assert row.subject not in screen_text(app).split("From:")[0]  # gone from the list
        assert "1 pending" in screen_text(app) or "pending" in screen_text(app)


async def test_delete_from_the_full_screen_reader(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    assert trash is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert app.screen is app.main_screen
        moved = cache.message(row.id)
        assert moved is not None and moved.folder_id == trash.id


async def test_flag_and_toggle_read(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None and not row.flagged and not row.seen
        await pilot.press("s")
        await settle(app, pilot)
        after = cache.message(row.id)
        assert after is not None and FLAGGED in after.flags
        await pilot.press("u")
        await settle(app, pilot)
        after = cache.message(row.id)
        assert after is not None and SEEN in after.flags
        assert app.message_list.current_id == row.id
        assert "Inbox 9" in screen_text(app)


async def test_m_moves_to_the_folder_picked(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    archive = cache.folder_by_role(Role.ARCHIVE)
    assert archive is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen)
        assert "Move to folder" in screen_text(app)
        await pilot.press("down", "down")  # Drafts, Sent, Archive (Inbox is left out)
        await pilot.press("enter")
        await settle(app, pilot)
        moved = cache.message(row.id)
        assert moved is not None and moved.folder_id == archive.id


async def test_the_move_picker_creates_a_folder_typed_there(demo: Mailbox) -> None:
    app = demo.app()
    home = demo.manager.cache("home")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2")  # the POP3 account: its folders are local, so no network is needed
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("m", *"Receipts/2026")
        await settle(app, pilot)
        assert "+ Create folder “Receipts/2026”" in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        made = home.folder_by_name("Receipts/2026")
        assert made is not None
        moved = home.message(row.id)
        assert moved is not None and moved.folder_id == made.id
        # On the IMAP account while offline: one sentence, nothing moved.
        await pilot.press("1")
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("m", *"Brand new", "enter")
        await settle(app, pilot)
        assert "Creating a folder needs the server, and tui-mail is offline." in [
            str(n.message) for n in app._notifications
        ]
        assert demo.manager.cache("work").message(row.id).folder_id == row.folder_id  # type: ignore[union-attr]


async def test_slash_filters_by_subject_and_escape_clears(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        total = app.message_list.row_count
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"budget", "enter")
        await settle(app, pilot)
        assert app.message_list.row_count == 1
        assert "Q4 budget draft" in screen_text(app)
        assert "search: budget" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.message_list.row_count == total


async def test_search_as_you_type_then_enter_and_a_bad_query_is_one_sentence(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        total = app.message_list.row_count
        await pilot.press("slash", *"budg")  # a prefix while typing: results before Enter
        await pilot.pause(0.3)
        await settle(app, pilot)
        assert app.message_list.row_count == 1
        assert "Q4 budget draft" in screen_text(app)
        await pilot.press(*"et OR", "enter")  # "budget OR": malformed, the box stays open
        await settle(app, pilot)
        assert isinstance(app.focused, Input)
        assert "OR at column 8 needs something on both sides." in [str(n.message) for n in app._notifications]
        assert app.message_list.row_count == 1  # the last good result stays
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.message_list.row_count == total


async def test_search_widens_to_all_folders_and_finds_text_in_bodies(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    everywhere = cache.count(None, "is:read")
    here = cache.count(inbox.id, "is:read")
    assert everywhere > here > 0
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"is:read", "enter")
        await settle(app, pilot)
        assert app.message_list.row_count == here
        await pilot.press("slash", "ctrl+a", "enter")
        await settle(app, pilot)
        assert app.message_list.row_count == everywhere
        assert "Searching all folders." in [str(n.message) for n in app._notifications]


async def test_help_lists_bindings_after_the_keymap(demo: Mailbox) -> None:
    config = Config(
        path=None, accounts=demo.config.accounts, ui=demo.config.ui, keymap={"mail.delete": "x", "app.quit": "Q"}
    )
    app = MailApp(config, demo.manager, sync_on_start=False, show_clock=False, preview_delay=0)
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    assert trash is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = dict((desc, key) for key, desc, _id in app.screen.rows)
        assert rows["Delete"] == "x"
        assert "Q" in rows["Quit"].split(", ") and "q" not in rows["Quit"].split(", ")
        assert "Reply" in rows and "Compose" in rows
        await pilot.press("escape")
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("d")  # no longer bound
        await settle(app, pilot)
        assert cache.message(row.id).folder_id != trash.id  # type: ignore[union-attr]
        await pilot.press("x")
        await settle(app, pilot)
        assert cache.message(row.id).folder_id == trash.id  # type: ignore[union-attr]
        await pilot.press("q")  # remapped away: still running
        assert app.is_running


async def test_sync_while_offline_says_offline_and_keeps_working(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("dollar_sign")
        await settle(app, pilot)
        assert "work · Inbox · offline" in screen_text(app)
        await pilot.press("j", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)


async def test_sync_at_start_runs_for_every_account(demo: Mailbox) -> None:
    app = demo.app(sync_on_start=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert all(state.offline for state in app.sync_states.values())
        await pilot.press("2")
        assert "home · Inbox · offline" in screen_text(app)


async def test_config_error_is_one_sentence_on_screen(demo: Mailbox) -> None:
    error = "x.toml: key 'port' is not a number."
    app = demo.app(config_error=error)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.pause()
        assert "x.toml: key 'port' is not a number." in screen_text(app)
        assert app.is_running


async def test_new_mail_during_sync_keeps_the_cursor_and_notifies_for_other_accounts(
    demo: Mailbox, ui: Helpers
) -> None:
    cache_work = demo.manager.cache("work")
    cache_home = demo.manager.cache("home")
    counter = iter(range(100, 200))

    def fake_sync(name: str, progress: object = None) -> SyncResult:
        cache = demo.manager.cache(name)
        inbox = cache.folder_by_role(Role.INBOX)
        assert inbox is not None
        raw = ui.make_raw(f"Fresh mail {name}", date=1_900_000_000, message_id=f"<fresh{next(counter)}@x>")
        cache.store_messages(inbox.id, [NewMessage(parse_envelope(raw), uid=next(counter), raw=raw)], uidvalidity=1)
        return SyncResult(new_messages=1)

    demo.manager.sync = fake_sync  # type: ignore[method-assign]
    app = demo.app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j")
        selected = app.message_list.current_id
        await pilot.press("dollar_sign")
        await settle(app, pilot)
        assert app.message_list.current_id == selected
        assert app.message_list.cursor == 3
        assert "Fresh mail work" in screen_text(app)
        app.start_sync("home")
        await settle(app, pilot)
        await pilot.pause()
        assert "1 new message in home" in screen_text(app)
        assert "Inbox 5" in screen_text(app)  # home's unread count went from 4 to 5
        assert cache_home.count(cache_home.folder_by_role(Role.INBOX).id) == 9  # type: ignore[union-attr]
        assert cache_work is not None


async def test_attachment_open_and_save(demo: Mailbox, tmp_path: Path) -> None:
    opened: list[Path] = []
    app = demo.app(opener=opened.append)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"budget", "enter")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Attachments" in screen_text(app)
        await pilot.press("o")
        await settle(app, pilot)
        assert len(opened) == 1 and opened[0].exists() and opened[0].stat().st_size > 0
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, DirectoryScreen)
        target = tmp_path / "saved"
        target.mkdir()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await settle(app, pilot)
        saved = list(target.iterdir())
        assert len(saved) == 1 and saved[0].read_bytes() == opened[0].read_bytes()


async def test_pop3_account_keeps_local_actions(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        assert app.check_action("move", ()) is True  # POP3 moves between local folders
        assert app.check_action("delete", ()) is True


async def test_empty_folder_and_no_accounts(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "No messages in this folder" in screen_text(app)
        await pilot.press("d", "enter", "r", "s")
        assert app.is_running
    empty = Config(path=None, accounts=(), ui=UiConfig())
    app2 = MailApp(empty, box.manager, sync_on_start=False, show_clock=False)
    async with app2.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "no accounts" in screen_text(app2)
        await pilot.press("j", "1", "dollar_sign")
        assert app2.is_running


# -- against the real Dovecot and SMTP servers -------------------------------------------------------------------------


def _live_message(sender: str, to: str, subject: str, msgid: str) -> bytes:
    return (
        f"From: Bob <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{msgid}@example.test>\r\n"
        f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\n{subject} body\r\n"
    ).encode()


@pytest.mark.servers
async def test_live_sync_reply_and_delete_reach_the_servers(tmp_path: Path, imap_server, imap_smtp, imap_user) -> None:  # type: ignore[no-untyped-def]
    bob = imap_server.add_user()
    imap_server.deliver(imap_user, _live_message(bob.email, imap_user.email, "Old news", "old"))
    imap_server.deliver(imap_user, _live_message(bob.email, imap_user.email, "Lunch tomorrow?", "lunch"))
    account = imap_server.imap_account(imap_user, smtp=imap_smtp)
    config = Config(path=None, accounts=(account,))
    manager = AccountManager(config, data_dir=tmp_path, password_source=lambda _a, _s: imap_user.password)
    app = MailApp(config, manager, show_clock=False, preview_delay=0, push=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)  # the sync at start
            text = screen_text(app)
            assert "Lunch tomorrow?" in text and "Old news" in text
            assert "synced" in text
            row = app.message_list.current_row
            assert row is not None and row.subject == "Lunch tomorrow?"

            # Reply: r opens the composer pre-filled; ctrl+s sends through SMTP to Bob's mailbox.
            await pilot.press("r")
            await settle(app, pilot)
            assert isinstance(app.screen, ComposeScreen)
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert app.screen is app.main_screen
            assert any(b"Re: Lunch tomorrow?" in m for m in imap_smtp.messages_to(bob.email))

            # Delete: d moves "Old news" to Trash locally; $ replays it to the server.
            await pilot.press("j")
            assert app.message_list.current_row.subject == "Old news"  # type: ignore[union-attr]
            await pilot.press("d")
            await settle(app, pilot)
            await pilot.press("dollar_sign")
            await settle(app, pilot)
            assert manager.cache(account.name).pending_count() == 0
    finally:
        manager.close()

    # A fresh client sees the result on the server: Old news in Trash, not in INBOX.
    check = AccountManager(config, data_dir=tmp_path / "check", password_source=lambda _a, _s: imap_user.password)
    try:
        check.sync(account.name)
        cache = check.cache(account.name)
        inbox, trash = cache.folder_by_role(Role.INBOX), cache.folder_by_role(Role.TRASH)
        assert inbox is not None and trash is not None
        assert [r.subject for r in cache.window(inbox.id, 0, 10)] == ["Lunch tomorrow?"]
        assert "Old news" in [r.subject for r in cache.window(trash.id, 0, 10)]
    finally:
        check.close()


async def test_status_line_shows_sync_progress_and_pending(demo: Mailbox) -> None:
    release = threading.Event()
    reported = threading.Event()

    def slow_sync(name: str, progress: Callable[[SyncProgress], None] | None = None) -> SyncResult:
        assert progress is not None
        progress(SyncProgress(name, stage="headers", folder="INBOX", done=3, total=10))
        reported.set()
        release.wait(10)
        return SyncResult()

    demo.manager.sync = slow_sync  # type: ignore[method-assign]
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("s")  # one local change waits for the server
        await settle(app, pilot)
        await pilot.press("dollar_sign")
        for _ in range(200):
            await pilot.pause()
            if reported.is_set() and "syncing 3/10" in screen_text(app):
                break
        assert "work · Inbox · syncing 3/10 · 1 pending" in screen_text(app)
        release.set()
        await settle(app, pilot)
        assert "work · Inbox · synced" in screen_text(app)


async def test_an_account_without_smtp_hides_compose_and_reply(demo: Mailbox) -> None:
    work, home = demo.config.accounts
    config = Config(path=None, accounts=(dataclasses.replace(work, smtp=None), home), ui=demo.config.ui)
    app = MailApp(config, demo.manager, sync_on_start=False, show_clock=False, preview_delay=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Compose" not in footer and "Reply" not in footer and "Delete" in footer
        await pilot.press("c", "r")
        assert app.screen is app.main_screen
        await pilot.press("2")
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Compose" in footer and "Reply" in footer
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)


async def test_escape_never_quits_from_the_main_view(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("escape")  # back from the reader
        await settle(app, pilot)
        assert app.screen is app.main_screen and app.is_running
        await pilot.press("escape", "escape", "escape")
        await pilot.pause()
        assert app.is_running and app.return_code is None
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_worker_report_arriving_while_the_app_closes_is_dropped_not_raised(demo: Mailbox) -> None:
    from tui_mail.ui.background import IndexProgressed
    from tui_mail.ui.messages import SyncFinished

    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        messages = app.message_list
    # The app is gone (as when q is pressed while an index pass or a sync reports): nothing to show, no error.
    app._index_progressed(IndexProgressed("work", 3, 3, finished=True))
    app._sync_finished(SyncFinished("work", result=None, error="The network is unreachable.", offline=True))
    app._highlighted(messages.Highlighted(messages, None))  # the list re-shown by that report moved its cursor
