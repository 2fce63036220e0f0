"""Snapshot tests (pytest-textual-snapshot) of the main view, reader and help on the deterministic demo mailbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.pilot import Pilot

if TYPE_CHECKING:
    from conftest import Mailbox

SIZE = (120, 40)


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_main_view(snap_compare: Any, demo: Mailbox) -> None:
    assert snap_compare(demo.app(), terminal_size=SIZE, run_before=settle)


def test_main_view_second_account(snap_compare: Any, demo: Mailbox) -> None:
    async def switch(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("2", "j")
        await settle(pilot)

    assert snap_compare(demo.app(), terminal_size=SIZE, run_before=switch)


def test_unified_inbox(snap_compare: Any, demo: Mailbox) -> None:
    async def all_inboxes(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("0", "j")
        await settle(pilot)

    assert snap_compare(demo.app(), terminal_size=SIZE, run_before=all_inboxes)


def test_reader(snap_compare: Any, demo: Mailbox) -> None:
    async def open_message(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("j", "j", "enter")  # the hostile-text demo message
        await settle(pilot)

    assert snap_compare(demo.app(), terminal_size=SIZE, run_before=open_message)


def test_help(snap_compare: Any, demo: Mailbox) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(demo.app(), terminal_size=SIZE, run_before=open_help)


def test_main_view_80x24(snap_compare: Any, demo: Mailbox) -> None:
    """mutt's home size: the folder pane hides itself, the subject gets the room, the footer keeps its keys."""
    assert snap_compare(demo.app(), terminal_size=(80, 24), run_before=settle)


def test_compose_50x15(snap_compare: Any, demo: Mailbox) -> None:
    """The smallest compose: at least 5 body lines, ^s Send and esc Close in the footer."""

    async def compose(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(demo.app(), terminal_size=(50, 15), run_before=compose)


def test_reader_all_headers_80x24(snap_compare: Any, demo: Mailbox) -> None:
    async def headers(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("j", "enter", "h")
        await settle(pilot)

    assert snap_compare(demo.app(), terminal_size=(80, 24), run_before=headers)
