"""The outbox and drafts as a person uses them: a queued message closes compose and shows in the Outbox folder,
which edits (back to compose) and cancels (to Drafts); drafts reopen and replace themselves; a reply marks the
original answered; an account busy in another tui-mail shows in the status line, not as an error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Input, TextArea

from tests.ui.conftest import settle
from tui_mail.models import ANSWERED, Role
from tui_mail.store.lock import AccountBusy
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.compose import ComposeScreen
from tui_mail.ui.screens.confirm import ConfirmScreen
from tui_mail.ui.screens.outbox import OutboxScreen

if TYPE_CHECKING:
    from conftest import Helpers, Mailbox

SIZE = (120, 40)


def notes(app: MailApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def drafts_subjects(demo: Mailbox) -> list[str]:
    cache = demo.manager.cache("work")
    drafts = cache.folder_by_role(Role.DRAFTS)
    assert drafts is not None
    return [r.subject for r in cache.window(drafts.id, 0, 50)]


async def write_and_send(app: MailApp, pilot: Any, to: str, subject: str, body: str) -> None:
    await pilot.press("c")
    await settle(app, pilot)
    assert isinstance(app.screen, ComposeScreen)
    app.screen.query_one("#compose-to", Input).focus()
    await pilot.press(*to)
    app.screen.query_one("#compose-subject", Input).focus()
    await pilot.press(*subject)
    app.screen.query_one("#compose-body", TextArea).focus()
    await pilot.press(*body)
    await pilot.press("ctrl+s")
    await settle(app, pilot)


async def open_outbox(app: MailApp, pilot: Any) -> None:
    await pilot.press("shift+tab")
    assert app.focused is app.folder_pane
    app.folder_pane.highlighted = app.folder_pane.get_option_index("o:0")
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, OutboxScreen)


async def test_queued_message_closes_compose_and_waits_in_the_outbox_folder(demo: Mailbox, ui: Helpers) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await write_and_send(app, pilot, "bob@example.org", "Train thoughts", "Written offline.")
        assert app.screen is app.main_screen  # compose closed: nothing to lose any more
        assert "Queued — 1 in outbox" in notes(app)
        assert "Outbox 1" in ui.screen_text(app)
        [item] = cache.outbox()
        first_id = item.message_id
        assert first_id

        # The outbox lists it with its state; e takes it back into compose (it waits in Drafts meanwhile).
        await open_outbox(app, pilot)
        text = ui.screen_text(app)
        assert "waiting" in text and "Train thoughts" in text and "bob@example.org" in text
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.field("subject") == "Train thoughts"
        assert cache.outbox() == []
        assert "Train thoughts" in drafts_subjects(demo)
        app.screen.query_one("#compose-body", TextArea).focus()
        await pilot.press("end", *" More.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        # Queued again under the same Message-ID, and the draft it came from is gone (replaced, not doubled).
        [item] = cache.outbox()
        assert item.message_id == first_id
        assert b"More." in item.raw
        assert "Train thoughts" not in drafts_subjects(demo)
        assert isinstance(app.screen, OutboxScreen)
        assert "Train thoughts" in ui.screen_text(app)

        # x cancels: back to Drafts, the outbox is empty.
        await pilot.press("x")
        await settle(app, pilot)
        assert cache.outbox() == []
        assert "Train thoughts" in drafts_subjects(demo)
        assert "The outbox is empty" in ui.screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.main_screen
        assert "Outbox" not in ui.screen_text(app)


async def test_the_same_message_is_never_queued_twice(demo: Mailbox) -> None:
    from tui_mail.mime import build_message

    msg = build_message(from_addr="me@work.example", to=["bob@example.org"], subject="once", body="hi")
    assert demo.manager.send("work", msg) == "queued"
    assert demo.manager.send("work", msg) == "queued"
    assert [i.message_id for i in demo.manager.cache("work").outbox()] == [str(msg["Message-ID"])]


async def test_a_draft_reopens_with_enter_and_saving_replaces_it(demo: Mailbox, ui: Helpers) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("shift+tab", "j", "enter")  # Inbox -> Drafts
        await settle(app, pilot)
        assert drafts_subjects(demo) == ["Re: Q4 budget draft"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.field("subject") == "Re: Q4 budget draft"
        assert "One question about" in app.screen.body.text
        app.screen.body.focus()
        await pilot.press("ctrl+end", *" the venue.")
        await pilot.press("ctrl+d")
        await settle(app, pilot)
        await pilot.press("escape")  # saved: closes without asking
        await settle(app, pilot)
        assert not isinstance(app.screen, (ComposeScreen, ConfirmScreen))
        assert drafts_subjects(demo) == ["Re: Q4 budget draft"]  # one draft, not two
        cache = demo.manager.cache("work")
        drafts = cache.folder_by_role(Role.DRAFTS)
        assert drafts is not None
        [row] = cache.window(drafts.id, 0, 5)
        raw = cache.body(row.id)
        assert raw is not None and b"the venue." in raw

        # e does the same from the list (mutt's recall).
        app.message_list.focus()
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert "the venue." in app.screen.body.text


async def test_reply_marks_the_original_answered(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None and ANSWERED not in row.flags
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        app.screen.body.focus()
        await pilot.press(*"Thanks!")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main_screen
        original = cache.message(row.id)
        assert original is not None and ANSWERED in original.flags
        assert any(
            a.kind == "flags" and a.message_id == row.id and ANSWERED in a.args.get("add", [])  # type: ignore[operator]
            for a in cache.pending_actions()
        )  # replayed to the server like any flag


async def test_account_busy_in_another_tui_mail_shows_in_the_status_line(demo: Mailbox, ui: Helpers) -> None:
    def busy(name: str, progress: object = None) -> object:
        raise AccountBusy(name, 4242)

    demo.manager.sync = busy  # type: ignore[method-assign]
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("dollar_sign")
        await settle(app, pilot)
        assert "syncing in another tui-mail (pid 4242)" in ui.screen_text(app)
        assert not any("4242" in n for n in notes(app))  # a state, not an error toast


def with_undo_send(demo: Mailbox, seconds: int) -> MailApp:
    import dataclasses

    config = dataclasses.replace(demo.config, ui=dataclasses.replace(demo.config.ui, undo_send=seconds))
    demo.manager.config = config
    return MailApp(config, demo.manager, sync_on_start=False, show_clock=False, preview_delay=0, cursor_blink=False)


async def test_undo_send_takes_the_message_back_into_compose(demo: Mailbox, ui: Helpers) -> None:
    app = with_undo_send(demo, 60)
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await write_and_send(app, pilot, "bob@example.org", "Oops", "Not yet.")
        assert app.screen is app.main_screen
        assert "Sending in 60 s — press z to undo" in notes(app)
        [item] = cache.outbox()
        assert item.send_after > 0
        await pilot.press("z")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.field("subject") == "Oops" and "Not yet." in app.screen.body.text
        assert cache.outbox() == []
        assert "Oops" in drafts_subjects(demo)  # kept meanwhile, so nothing is lost if the app dies now


async def test_send_later_waits_in_the_outbox_until_its_time(demo: Mailbox, ui: Helpers) -> None:
    import time

    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        app.screen.query_one("#compose-to", Input).focus()
        await pilot.press(*"bob@example.org")
        app.screen.query_one("#compose-subject", Input).focus()
        await pilot.press(*"Tomorrow")
        await pilot.press("ctrl+t", *"+2h", "enter")
        await settle(app, pilot)
        assert app.screen is app.main_screen
        [item] = cache.outbox()
        assert 7000 < item.send_after - time.time() <= 7200
        assert any(n.startswith("Queued — sends at ") for n in notes(app))
        await open_outbox(app, pilot)
        assert "at " + time.strftime("%H:%M", time.localtime(item.send_after)) in ui.screen_text(app)


def test_send_at_parses_what_people_type() -> None:
    import datetime as dt

    import pytest

    from tui_mail.sending import parse_send_at

    now = dt.datetime(2026, 11, 29, 20, 0).timestamp()
    assert parse_send_at("+30m", now) == now + 1800
    assert parse_send_at("+ 2h", now) == now + 7200
    assert parse_send_at("21:15", now) == dt.datetime(2026, 11, 29, 21, 15).timestamp()
    assert parse_send_at("08:00", now) == dt.datetime(2026, 11, 30, 8, 0).timestamp()  # the next 08:00
    assert parse_send_at("2026-12-24 09:00", now) == dt.datetime(2026, 12, 24, 9, 0).timestamp()
    with pytest.raises(ValueError, match="is not a time"):
        parse_send_at("soon", now)
    with pytest.raises(ValueError, match="in the past"):
        parse_send_at("2020-01-01 10:00", now)


async def test_recall_from_the_command_palette_reopens_the_newest_draft(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("colon")
        await pilot.press(*"recall a draft")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.field("subject") == "Re: Q4 budget draft"
