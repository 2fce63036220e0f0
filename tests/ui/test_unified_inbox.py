"""Pilot tests: "All inboxes" (key 0) shows every account's Inbox in one list with the account per row, and every
action on its rows lands in the account the row belongs to; searches spanning folders show the folder per row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import Input

from tests.ui.conftest import settle
from tui_mail.accounts import AccountManager
from tui_mail.backends.base import SyncResult
from tui_mail.config import load_config
from tui_mail.mime import parse_envelope
from tui_mail.models import Role
from tui_mail.store.cache import NewMessage
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.compose import ComposeScreen
from tui_mail.ui.screens.folder_picker import FolderPickerScreen
from tui_mail.ui.screens.reader_screen import ReaderScreen
from tui_mail.ui.unified import UNIFIED

if TYPE_CHECKING:
    from conftest import Helpers, Mailbox

SIZE = (120, 40)


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def row_line(app: MailApp, subject: str) -> str:
    return next(line for line in screen_text(app).splitlines() if subject in line)


async def go_to(app: MailApp, pilot: object, subject: str) -> None:
    """Move the cursor down to the row with this subject."""
    ml = app.message_list
    for index in range(ml.row_count):
        row = ml.row(index)
        if row is not None and row.subject == subject:
            ml.cursor = index
            await settle(app, pilot)
            return
    raise AssertionError(subject)


def inbox_count(demo: Mailbox, account: str) -> int:
    cache = demo.manager.cache(account)
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    return cache.count(inbox.id)


async def test_zero_shows_every_inbox_newest_first_with_the_account_per_row(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "0 All inboxes 14" in screen_text(app)  # 10 unread in work + 4 in home
        await pilot.press("0")
        await settle(app, pilot)
        ml = app.message_list
        assert ml.source is not None and ml.source.account == UNIFIED
        assert ml.row_count == inbox_count(demo, "work") + inbox_count(demo, "home")
        dates = [ml.row(i).date for i in range(ml.row_count)]  # type: ignore[union-attr]
        assert dates == sorted(dates, reverse=True)
        assert "home Riverside Book Club" in row_line(app, "Reminder: club fees")
        assert "work Terminal Weekly" in row_line(app, "Terminal Weekly #142")
        assert "All inboxes · home" in str(app.status.content)  # the account under the cursor
        # Back to one account with its number; 0 returns where the unified list was left.
        await pilot.press("j", "j")
        await pilot.press("2")
        await settle(app, pilot)
        assert ml.source is not None and ml.source.account == "home"
        assert "home Riverside" not in screen_text(app)  # one account: no account column
        await pilot.press("0")
        await settle(app, pilot)
        assert ml.cursor == 2
        # The folder pane entry opens it too.
        await pilot.press("1")
        await settle(app, pilot)
        app.folder_pane.focus()
        app.folder_pane.highlighted = 0
        await pilot.press("enter")
        await settle(app, pilot)
        assert ml.source is not None and ml.source.account == UNIFIED


async def test_read_flag_delete_move_and_undo_land_in_the_rows_account(demo: Mailbox) -> None:
    work, home = demo.manager.cache("work"), demo.manager.cache("home")
    app = demo.app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        await go_to(app, pilot, "Reminder: club fees")  # home (POP3)
        target = app._target()
        assert target is not None and target[0] == "home"
        home_id = target[1].id
        await pilot.press("u", "s")
        await settle(app, pilot)
        row = home.message(home_id)
        assert row is not None and row.seen and row.flagged
        # m offers the row's own account's folders.
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen)
        await pilot.press(*"Trash", "enter")
        await settle(app, pilot)
        trash = home.folder_by_role(Role.TRASH)
        assert trash is not None and home.message(home_id).folder_id == trash.id  # type: ignore[union-attr]
        assert "Reminder: club fees" not in screen_text(app)
        # d on a work row: work's Trash.
        await go_to(app, pilot, "Retro notes")
        _, work_row = app._target()  # type: ignore[misc]
        await pilot.press("d")
        await settle(app, pilot)
        work_trash = work.folder_by_role(Role.TRASH)
        assert work_trash is not None and work.message(work_row.id).folder_id == work_trash.id  # type: ignore[union-attr]
        # U undoes the newest move/delete, in whichever account it was (a POP3 move is local: nothing to undo).
        await pilot.press("U")
        await settle(app, pilot)
        assert work.message(work_row.id).folder_id != work_trash.id  # type: ignore[union-attr]
        assert "Retro notes" in screen_text(app)
        await pilot.press("U")
        await settle(app, pilot)
        assert "Nothing to undo" in screen_text(app)


async def test_tagged_rows_of_two_accounts_are_deleted_each_in_its_own(demo: Mailbox) -> None:
    work, home = demo.manager.cache("work"), demo.manager.cache("home")
    before = inbox_count(demo, "work") + inbox_count(demo, "home")
    app = demo.app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        await pilot.press("v", "v")  # home's club fees, work's Terminal Weekly
        await settle(app, pilot)
        assert len(app.message_list.tagged) == 2
        await pilot.press("m")
        await settle(app, pilot)
        assert not isinstance(app.screen, FolderPickerScreen)
        assert "several accounts" in screen_text(app)
        await pilot.press("d")
        await settle(app, pilot)
        assert inbox_count(demo, "work") + inbox_count(demo, "home") == before - 2
        assert app.message_list.row_count == before - 2
        for cache in (work, home):
            trash = cache.folder_by_role(Role.TRASH)
            assert trash is not None and cache.count(trash.id) >= 1


async def test_open_step_reply_and_compose_use_the_rows_account(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        await pilot.press("enter")  # home's club fees, unread
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReaderScreen) and screen.account == "home"
        assert "£12 for the year" in screen_text(app)
        assert demo.manager.cache("home").message(screen.row.id).seen  # type: ignore[union-attr]
        await pilot.press("j")  # the next row is work's
        await settle(app, pilot)
        assert screen.account == "work" and screen.row.subject.startswith("Terminal Weekly #142")
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen) and app.screen.account == "work"
        app.screen.dismiss(None)
        await settle(app, pilot)
        await pilot.press("q")  # back to the list
        await settle(app, pilot)
        await go_to(app, pilot, "Reminder: club fees")
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen) and app.screen.account == "home"


async def test_new_mail_in_any_account_shows_up(demo: Mailbox, ui: Helpers) -> None:
    def fake_sync(name: str, progress: object = None) -> SyncResult:
        cache = demo.manager.cache(name)
        inbox = cache.folder_by_role(Role.INBOX)
        assert inbox is not None
        raw = ui.make_raw(f"Fresh mail for {name}", date=1_900_000_000, message_id=f"<fresh-{name}@x>")
        cache.store_messages(inbox.id, [NewMessage(parse_envelope(raw), uid=900, raw=raw)], uidvalidity=1)
        return SyncResult(new_messages=1)

    demo.manager.sync = fake_sync  # type: ignore[method-assign]
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        before = app.message_list.row_count
        app.start_sync("home")
        await settle(app, pilot)
        assert app.message_list.row_count == before + 1
        assert "home Alice" in row_line(app, "Fresh mail for home")
        await pilot.press("dollar_sign")  # $ in the unified inbox syncs every account
        await settle(app, pilot)
        assert "work Alice" in row_line(app, "Fresh mail for work")
        assert "0 All inboxes 16" in screen_text(app)


async def test_search_in_the_unified_inbox_and_across_every_folder(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        await pilot.press("slash", *"reminder", "enter")
        await settle(app, pilot)
        text = screen_text(app)
        assert "Reminder: club fees" in text and "Reminder: submit your holiday requests" in text
        assert app.message_list.row_count == 3  # and home's "Appointment reminder"
        # ctrl+a: every folder of every account, with account and folder per row.
        await pilot.press("slash")
        await pilot.press("ctrl+a")
        await settle(app, pilot)
        app.query_one("#filter", Input).value = "budget"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.message_list.source is not None and app.message_list.source.folder_id is None
        lines = screen_text(app).splitlines()
        assert any("work · Inbox" in line and " Q4 budget draft" in line for line in lines)
        assert "work · Drafts" in row_line(app, "Re: Q4 budget draft")
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.message_list.source is not None and app.message_list.source.folder_id is not None


async def test_search_of_every_folder_of_one_account_shows_the_folder(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "ctrl+a", *"keybindings", "enter")
        await settle(app, pilot)
        text = screen_text(app)
        lines = [line for line in text.splitlines() if "Keybindings: mutt or vim?" in line]
        assert any("Sent" in line and "Sam Carter" in line for line in lines)  # the reply in Sent says so
        assert any("Inbox" in line and "Mei Tanaka" in line for line in lines)
        assert not any(" work " in line.split("▕")[-1] for line in lines)  # one account: no account name
        await pilot.press("escape")
        await settle(app, pilot)
        assert "Inbox " not in row_line(app, "Terminal Weekly #142")  # one folder: no folder column


async def test_one_account_has_no_unified_entry(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [ui.make_raw("Only one")])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "All inboxes" not in screen_text(app)
        await pilot.press("0")
        await settle(app, pilot)
        assert app.message_list.source is not None and app.message_list.source.account == "test"


BROKEN = """
[[accounts]]
name = "work"
email = "alice@example.org"
protocol = "imap"
[accounts.incoming]
host = "imap.example.org"

[[accounts]]
name = "home"
email = "bob@example.net"
protocol = "pop3"
[accounts.incoming]
host = "pop.example.net"
port = "nine-nine-five"
"""


async def test_a_broken_account_still_shows_its_cached_rows(tmp_path: Path, ui: Helpers) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BROKEN, encoding="utf-8")
    config = load_config(path, partial=True)
    manager = AccountManager(config, data_dir=tmp_path / "data", offline=True)
    for name, subject in (("work", "From the working account"), ("home", "Kept from last week")):
        cache = manager.cache(name)
        inbox = cache.folder_by_role(Role.INBOX) or cache.folder(cache.ensure_folder("INBOX", "/", Role.INBOX))
        raw = ui.make_raw(subject)
        cache.store_messages(inbox.id, [NewMessage(parse_envelope(raw), raw=raw, uid=1)], uidvalidity=1)
    app = MailApp(config, manager, sync_on_start=True, show_clock=False, preview_delay=0, cursor_blink=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("0")
            await settle(app, pilot)
            text = screen_text(app)
            assert "Kept from last week" in text and "From the working account" in text
            await go_to(app, pilot, "Kept from last week")
            assert "key 'port'" in str(app.status.content)  # the broken account's sentence, for its rows
    finally:
        manager.close()


async def test_attachments_open_and_save_from_the_rows_account(demo: Mailbox, tmp_path: Path) -> None:
    from tui_mail.ui.screens.folder_picker import DirectoryScreen

    opened: list[Path] = []
    app = demo.app(opener=opened.append)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        await go_to(app, pilot, "Photos from the weekend")  # home's message with a picture
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen) and app.screen.account == "home"
        await pilot.press("o")
        await settle(app, pilot)
        assert len(opened) == 1 and opened[0].stat().st_size > 0
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


async def test_threads_and_sorting_leave_the_unified_list_flat_and_say_why(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        ml = app.message_list
        rows = ml.row_count
        await pilot.press("t")  # threads off and on again (for the accounts' folders): this list stays flat
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert ml.source is not None and ml.source.account == UNIFIED and ml.row_count == rows
        dates = [ml.row(i).date for i in range(ml.row_count)]  # type: ignore[union-attr]
        assert dates == sorted(dates, reverse=True)
        await pilot.press("minus")
        await settle(app, pilot)
        said = [str(n.message) for n in app._notifications]
        assert any("threads and sorting work in each account's folders" in n for n in said)
        await pilot.press("n")
        await settle(app, pilot)
        assert any("press / to search All inboxes" in str(n.message) for n in app._notifications)
        await pilot.press("1")  # work's Inbox is threaded now
        await settle(app, pilot)
        assert ml.source is not None and ml.source.list_order.threaded


async def test_pending_in_the_unified_view_lists_every_account_and_x_cancels_in_the_rows_account(
    demo: Mailbox,
) -> None:
    from tui_mail.ui.screens.pending import PendingScreen

    work, home = demo.manager.cache("work"), demo.manager.cache("home")
    inbox = home.folder_by_role(Role.INBOX)
    assert inbox is not None
    with home.transaction() as c:  # an action the server refused in home (POP3 queues none itself)
        c.execute(
            "INSERT INTO pending_actions(kind, folder_id, uid, message_id, args, created, state, last_error) "
            "VALUES ('flags', ?, 7, NULL, ?, 0, 'failed', 'The server refused it.')",
            (inbox.id, json.dumps({"add": ["\\Flagged"], "subject": "Club fees"})),
        )
    app = demo.app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        await go_to(app, pilot, "Retro notes")
        await pilot.press("d")  # queued in work
        await settle(app, pilot)
        await pilot.press("P")
        await settle(app, pilot)
        assert isinstance(app.screen, PendingScreen)
        text = screen_text(app)
        assert "All inboxes: 2 actions, 1 refused by the server" in text
        assert "waiting  work: Move “Retro notes”" in text and "refused  home: Flag “Club fees”" in text
        lines = [line for line in text.splitlines() if "work: " in line or "home: " in line]
        await pilot.press(*(["down"] if "work: " in lines[0] else []), "x")  # the home one
        await settle(app, pilot)
        assert home.pending_count() == 0 and work.pending_count() == 1
        assert "All inboxes: 1 action" in screen_text(app)
