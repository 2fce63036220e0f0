"""The message list is virtual: a 100,000-message folder builds one screen of rows, not 100,000."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.ui.conftest import settle
from tui_mail.ui.app import MailApp
from tui_mail.ui.widgets.message_list import ESTIMATE_ROWS, MAX_PAGES, PAGE_SIZE

if TYPE_CHECKING:
    from conftest import Helpers

SIZE = (120, 40)
BIG = 100_000


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_100k_folder_renders_first_screen_from_a_small_window(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [ui.make_raw("Small inbox message")])
    folder_id = ui.fill_folder_fast(box, "test", "Bulk", BIG)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_folder(0, folder_id)
        await settle(app, pilot)
        ml = app.message_list
        assert ml.row_count == BIG
        assert ml.virtual_size.height == BIG
        text = screen_text(app)
        assert "Bulk message number 0" in text
        assert "Bulk message number 10" in text
        assert ml.cached_row_count <= PAGE_SIZE
        assert ml.window_queries <= 2
        # Only a handful of widgets exist, whatever the folder size.
        assert len(list(app.screen.walk_children())) < 100
        # Move like a person: down, page down, to the end, back to the top.
        await pilot.press(*["j"] * 50)
        await pilot.press(*["pagedown"] * 30)
        assert ml.cursor > 500
        await pilot.press("G")
        await settle(app, pilot)
        assert ml.cursor == BIG - 1
        assert f"Bulk message number {BIG - 1}" in screen_text(app)
        await pilot.press("g", "g")
        await settle(app, pilot)
        assert ml.cursor == 0
        assert ml.cached_row_count <= PAGE_SIZE * MAX_PAGES
        assert "Bulk message number 0" in screen_text(app)


async def test_switching_away_and_back_keeps_the_position_in_a_big_folder(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [ui.make_raw("Small inbox message")])
    folder_id = ui.fill_folder_fast(box, "test", "Bulk", 20_000)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_folder(0, folder_id)
        await settle(app, pilot)
        await pilot.press(*["pagedown"] * 10)
        cursor = app.message_list.cursor
        selected = app.message_list.current_id
        inbox = box.manager.cache("test").folder_by_name("INBOX")
        assert inbox is not None
        app.open_folder(0, inbox.id)
        await settle(app, pilot)
        assert app.message_list.row_count == 1
        app.open_folder(0, folder_id)  # the same folder again: a fresh view starts at the top
        await settle(app, pilot)
        assert app.message_list.cursor == 0
        await pilot.press(*["pagedown"] * 10)
        assert app.message_list.cursor == cursor
        assert app.message_list.current_id == selected


async def test_a_big_folder_opens_with_a_bounded_count_and_gets_its_exact_length_from_a_worker(
    tmp_path: Path, ui: Helpers
) -> None:
    """Nothing proportional to the folder's size runs before the first screen: the list starts from a count capped
    at ESTIMATE_ROWS, and the scrollbar gets the exact length as soon as the worker counted it."""
    box = ui.build_mailbox(tmp_path, [ui.make_raw("Small inbox message")])
    folder_id = ui.fill_folder_fast(box, "test", "Bulk", 5_000)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_folder(0, folder_id)
        ml = app.message_list
        assert ml.row_count == ESTIMATE_ROWS  # on screen before any count of the whole folder
        await pilot.pause()
        assert "Bulk message number 0" in screen_text(app)
        await settle(app, pilot)
        assert ml.row_count == 5_000 and ml.virtual_size.height == 5_000
        await pilot.press("G")
        assert ml.cursor == 4_999
