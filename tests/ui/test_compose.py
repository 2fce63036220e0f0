"""The compose screen as a person uses it: type, send through the real SMTP server into Dovecot, keep the message
when sending fails, ask before throwing typed text away, complete addresses, show replied-to text inertly."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea

from tui_mail.accounts import AccountManager
from tui_mail.config import Config
from tui_mail.credentials import set_password
from tui_mail.demo import build_demo
from tui_mail.mime import Draft, forward_draft, reply_draft
from tui_mail.models import Role
from tui_mail.ui.screens.compose import ComposeScreen
from tui_mail.ui.screens.confirm import ConfirmScreen

NOT_DISMISSED = "not dismissed"


class ComposeHost(App[None]):
    """An empty app that opens the compose screen and remembers what it was dismissed with."""

    def __init__(self, manager: AccountManager, account: str, draft: Draft | None = None) -> None:
        super().__init__()
        self.manager = manager
        self.account = account
        self.draft = draft
        self.result: object = NOT_DISMISSED

    def on_mount(self) -> None:
        self.push_screen(ComposeScreen(self.manager, self.account, self.draft), self._done)

    def _done(self, result: object) -> None:
        self.result = result


async def type_into(pilot: Pilot[Any], widget_id: str, text: str) -> None:
    """Focus a field the way a person would reach it and type the text key by key."""
    pilot.app.screen.query_one(f"#{widget_id}").focus()
    await pilot.pause()
    await pilot.press(*text)


def status(app: App[Any]) -> str:
    return str(app.screen.query_one("#compose-status", Static).render())


def notifications(app: App[Any]) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.fixture
def demo_manager(tmp_path: Path) -> Any:
    config = build_demo(tmp_path / "demo")
    manager = AccountManager(config, data_dir=tmp_path / "demo", offline=True)
    yield manager
    manager.close()


# -- against the real servers ---------------------------------------------------------------------------------------


@pytest.mark.servers
async def test_send_arrives_in_recipients_inbox_and_senders_sent(
    tmp_path: Path, imap_server: Any, imap_smtp: Any, imap_user: Any
) -> None:
    recipient = imap_server.add_user()
    account = imap_server.imap_account(imap_user, smtp=imap_smtp)
    set_password(account, imap_user.password)  # the in-memory test keyring
    manager = AccountManager(Config(path=None, accounts=(account,)), data_dir=tmp_path / "data")
    try:
        manager.sync(account.name)
        app = ComposeHost(manager, account.name)
        async with app.run_test(size=(100, 30)) as pilot:
            await type_into(pilot, "compose-to", recipient.email)
            await type_into(pilot, "compose-subject", "Quarterly quiz")
            await type_into(pilot, "compose-body", "Hello from the compose screen")
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.result == "sent"
            assert "Message sent" in notifications(app)

        client = imap_server.imap_client(recipient)
        try:
            client.select_folder("INBOX")
            fetched = client.fetch(client.search(["SUBJECT", "Quarterly quiz"]), ["RFC822"])
            bodies = [data[b"RFC822"] for data in fetched.values()]
        finally:
            client.logout()
        assert len(bodies) == 1
        assert b"Hello from the compose screen" in bodies[0]
        assert imap_user.email.encode() in bodies[0]

        manager.sync(account.name)
        cache = manager.cache(account.name)
        sent = cache.folder_by_role(Role.SENT)
        assert sent is not None
        assert [r.subject for r in cache.window(sent.id, 0, 10)] == ["Quarterly quiz"]
    finally:
        manager.close()


@pytest.mark.servers
async def test_refused_recipient_keeps_screen_and_says_why(
    tmp_path: Path, dovecot: Any, smtp_server: Any, mail_user: Any
) -> None:
    account = dovecot.imap_account(mail_user, smtp=smtp_server)
    set_password(account, mail_user.password)
    manager = AccountManager(Config(path=None, accounts=(account,)), data_dir=tmp_path / "data")
    try:
        app = ComposeHost(manager, account.name)
        async with app.run_test(size=(100, 30)) as pilot:
            await type_into(pilot, "compose-to", "nobody@example.test")
            await type_into(pilot, "compose-subject", "Into the void")
            await type_into(pilot, "compose-body", "Is anyone there?")
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.result == NOT_DISMISSED
            assert isinstance(app.screen, ComposeScreen)
            message = status(app)
            assert "nobody@example.test" in message
            assert mail_user.password not in message
            assert message in notifications(app)
            # Everything typed is still there to fix and resend.
            assert app.screen.query_one("#compose-to", Input).value == "nobody@example.test"
            assert app.screen.query_one("#compose-subject", Input).value == "Into the void"
            assert app.screen.query_one("#compose-body", TextArea).text == "Is anyone there?"
    finally:
        manager.close()


# -- offline (the demo mailbox) -------------------------------------------------------------------------------------


async def test_escape_asks_before_discarding_typed_text(demo_manager: AccountManager) -> None:
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "compose-subject", "half a thought")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.query_one("#compose-subject", Input).value == "half a thought"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard
        await pilot.pause()
        assert app.result is None
        assert not isinstance(app.screen, ComposeScreen | ConfirmScreen)
    assert demo_manager.cache("work").outbox() == []


async def test_escape_on_untouched_screen_closes_at_once(demo_manager: AccountManager) -> None:
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert app.result is None


async def test_address_completion_from_the_cache(demo_manager: AccountManager) -> None:
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "compose-to", "jonas@acme.example, pri")
        await pilot.pause()
        await pilot.press("right")  # accept the suggestion
        assert (
            app.screen.query_one("#compose-to", Input).value == "jonas@acme.example, Priya Raman <priya@acme.example>"
        )


async def test_reply_prefill_is_inert_text(demo_manager: AccountManager) -> None:
    cache = demo_manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    row = next(r for r in cache.window(inbox.id, 0, 100) if "markup" in r.subject)
    draft = reply_draft(cache.body(row.id) or b"", ["sam@acme.example"])
    app = ComposeHost(demo_manager, "work", draft)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        subject = app.screen.query_one("#compose-subject", Input).value
        body = app.screen.query_one("#compose-body", TextArea).text
        assert subject == "Re: [bold]markup[/] stays literal"
        assert "> Rich markup: [bold red]this is not bold[/]" in body
        assert "\x1b" not in body and "\u202e" not in body
        assert app.screen.query_one("#compose-to", Input).value.endswith("<mallory@phish.example>")
        await pilot.press("escape")  # nothing typed: closes without asking
        await pilot.pause()
        assert app.result is None


async def test_attach_a_file_and_queue_offline(demo_manager: AccountManager, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk\n")
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "compose-to", "priya@acme.example")
        await type_into(pilot, "compose-subject", "Notes")
        await pilot.press("ctrl+a")
        await pilot.press(*str(tmp_path / "missing.txt"), "enter")
        await pilot.pause()
        assert "There is no file at" in status(app)
        attach = app.screen.query_one("#compose-attach-path", Input)
        attach.value = ""
        await pilot.press(*str(notes), "enter")
        await pilot.pause()
        assert "notes.txt" in str(app.screen.query_one("#compose-attachments", Static).render())
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.result == "queued"  # offline: it waits in the outbox
    [item] = demo_manager.cache("work").outbox()
    assert item.recipients == ("priya@acme.example",)
    assert b'filename="notes.txt"' in item.raw


async def test_send_without_recipient_says_so(demo_manager: AccountManager) -> None:
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "compose-body", "to whom?")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert status(app) == "Add at least one recipient in To, Cc or Bcc."
        assert app.result == NOT_DISMISSED


async def test_ctrl_e_edits_the_body_in_the_editor(
    demo_manager: AccountManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISUAL", "sed -i s/draft/final/")
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        # The headless test driver cannot hand the terminal over; everything else is the real path.
        monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
        await type_into(pilot, "compose-body", "a draft text")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert app.screen.query_one("#compose-body", TextArea).text == "a final text"


async def test_ctrl_e_where_the_terminal_cannot_be_suspended_says_so(demo_manager: AccountManager) -> None:
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "compose-body", "kept")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert "cannot be suspended" in status(app)
        assert app.screen.query_one("#compose-body", TextArea).text == "kept"


async def test_forward_carries_the_original_attachments(demo_manager: AccountManager) -> None:
    cache = demo_manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    row = next(r for r in cache.window(inbox.id, 0, 100) if r.subject == "Q4 budget draft")
    app = ComposeHost(demo_manager, "work", forward_draft(cache.body(row.id) or b""))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#compose-subject", Input).value == "Fwd: Q4 budget draft"
        assert "budget-q4.csv" in str(app.screen.query_one("#compose-attachments", Static).render())
        await type_into(pilot, "compose-to", "olu@acme.example")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.result == "queued"
    [item] = demo_manager.cache("work").outbox()
    assert b'filename="budget-q4.csv"' in item.raw


async def test_ctrl_d_saves_a_draft_then_escape_closes_without_asking(demo_manager: AccountManager) -> None:
    cache = demo_manager.cache("work")
    drafts = cache.folder_by_role(Role.DRAFTS)
    assert drafts is not None
    before = cache.folder(drafts.id).total
    app = ComposeHost(demo_manager, "work")
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "compose-to", "mei@acme.example")
        await type_into(pilot, "compose-subject", "Unfinished business")
        await pilot.press("ctrl+d")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(n.startswith("Draft saved") for n in notifications(app))
        assert isinstance(app.screen, ComposeScreen)  # still open to keep writing
        await pilot.press("escape")  # everything is saved: no question
        await pilot.pause()
        assert app.result is None
    assert cache.folder(drafts.id).total == before + 1
    assert "Unfinished business" in [r.subject for r in cache.window(drafts.id, 0, 10)]


def test_compose_reply_snapshot(snap_compare: Any, demo: Any) -> None:
    """The reply screen over the demo's hostile message: pre-filled, quoted, and every byte of it inert."""

    async def reply(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.press("j", "j", "r")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(pilot.app.screen, ComposeScreen)

    assert snap_compare(demo.app(), terminal_size=(120, 36), run_before=reply)
