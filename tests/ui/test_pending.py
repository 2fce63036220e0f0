"""Pending actions in the UI: the list behind the status line's count, cancel, undo (U), and d in Trash asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.ui.conftest import settle
from tui_mail.models import Role
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.confirm import ConfirmScreen
from tui_mail.ui.screens.pending import PendingScreen

SIZE = (120, 40)

if TYPE_CHECKING:
    from conftest import Mailbox


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notes(app: MailApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_pending_screen_lists_actions_and_x_cancels_a_move(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("d")  # to Trash, queued for the server
        await settle(app, pilot)
        assert "1 pending" in screen_text(app)
        await pilot.press("P")
        await settle(app, pilot)
        assert isinstance(app.screen, PendingScreen)
        text = screen_text(app)
        assert "waiting" in text and f"Move “{row.subject}” from INBOX to Trash" in text
        await pilot.press("x")
        await settle(app, pilot)
        assert "Nothing waits for the server." in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.main_screen
        back = cache.message(row.id)
        assert back is not None and back.folder_id == inbox.id
        assert row.subject[:20] in screen_text(app)  # back in the list
        assert "pending" not in screen_text(app)


async def test_clicking_the_pending_count_opens_the_list(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("s")  # flag: one action queued
        await settle(app, pilot)
        status = app.status
        line = str(status.render())
        start = line.index("1 pending")
        await pilot.click("#status", offset=(start + 2, 0))
        await settle(app, pilot)
        assert isinstance(app.screen, PendingScreen)
        assert "Flag “" in screen_text(app)


async def test_U_undoes_the_last_delete_while_it_is_still_queued(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        first = app.message_list.current_row
        await pilot.press("j")
        second = app.message_list.current_row
        assert first is not None and second is not None
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("k", "d")
        await settle(app, pilot)
        assert cache.message(first.id).folder_id != first.folder_id  # type: ignore[union-attr]
        await pilot.press("U")
        await settle(app, pilot)
        assert cache.message(first.id).folder_id == first.folder_id  # type: ignore[union-attr]
        assert any(n.startswith("Cancelled: Move") for n in notes(app))
        await pilot.press("U")
        await settle(app, pilot)
        assert cache.message(second.id).folder_id == second.folder_id  # type: ignore[union-attr]
        await pilot.press("U")
        await settle(app, pilot)
        assert any(n.startswith("Nothing to undo") for n in notes(app))
        assert cache.pending_actions() == []


async def test_d_in_trash_asks_before_deleting_for_good(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    assert trash is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        await pilot.press("d")  # INBOX -> Trash: no question
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        app.open_folder(0, trash.id)
        await settle(app, pilot)
        assert app.message_list.current_row is not None and app.message_list.current_row.id == row.id
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "for good" in screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        assert cache.message(row.id) is not None  # kept
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert cache.message(row.id) is None
        # The queued move to Trash became a delete of the original: one action, which U can still take back.
        assert [a.kind for a in cache.pending_actions()] == ["delete"]


async def test_a_refused_action_shows_why_and_can_be_dismissed(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None
        archive = cache.folder_by_role(Role.ARCHIVE) or cache.folder_by_role(Role.TRASH)
        assert archive is not None
        cache.move([row.id], archive.id)
        [action] = cache.pending_actions()
        cache.refuse_action(action.id, "the folder Archive does not exist on the server any more [TRYCREATE]")
        await pilot.press("P")
        await settle(app, pilot)
        text = screen_text(app)
        assert "refused" in text and "TRYCREATE" in text and "1 refused by the server" in text
        await pilot.press("x")
        await settle(app, pilot)
        assert cache.pending_list() == []
        assert cache.message(row.id).folder_id == row.folder_id  # type: ignore[union-attr]


async def test_tagged_messages_in_trash_ask_before_deleting_for_good(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    assert trash is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        app.open_folder(0, trash.id)
        await settle(app, pilot)
        before = cache.count(trash.id)
        await pilot.press("v", "v", "d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete 2 messages for good?" in screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        assert cache.count(trash.id) == before
