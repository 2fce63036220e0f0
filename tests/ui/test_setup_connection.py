"""The setup screen has what a real account needs (CA file, SMTP without login), tests the connection before
saving with the exact sentence, knows a second account from the first, and keeps the mail view's keys out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from textual.app import App
from textual.widgets import Checkbox, Input, Select, Static

from tests.servers import MemoryKeyring
from tui_mail.config import Config, load_config
from tui_mail.ui.screens.setup import SetupScreen

if TYPE_CHECKING:
    from conftest import Mailbox


class SetupHost(App[None]):
    def __init__(self, config_path: Path) -> None:
        super().__init__()
        self.config_path = config_path
        self.result: Config | str | None = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(SetupScreen(self.config_path), self._done)

    def _done(self, result: Config | None) -> None:
        self.result = result


async def _type(pilot: Any, widget_id: str, text: str) -> None:
    """Fill a field as if typed (paths and hosts are long: set at once rather than key by key)."""
    widget = pilot.app.screen.query_one(f"#{widget_id}", Input)
    widget.focus()
    widget.value = text
    await pilot.pause()


def _text(app: App[Any], widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}", Static).render())


async def _fill(pilot: Any, dovecot: Any, smtp_server: Any, user: Any, password: str) -> None:
    await _type(pilot, "setup-name", "live")
    await _type(pilot, "setup-email", user.email)
    await _type(pilot, "setup-host", dovecot.host)
    await _type(pilot, "setup-port", str(dovecot.imaps_port))
    await _type(pilot, "setup-username", user.name)
    await _type(pilot, "setup-password", password)
    await _type(pilot, "setup-ca-file", str(dovecot.ca_file))
    await _type(pilot, "setup-smtp-host", smtp_server.host)
    pilot.app.screen.query_one("#setup-smtp-security", Select).value = "starttls"
    await pilot.pause()
    await _type(pilot, "setup-smtp-port", str(smtp_server.port))


@pytest.mark.servers
async def test_test_connection_says_the_exact_sentence_before_saving(
    tmp_path: Path, dovecot: Any, smtp_server: Any, mail_user: Any, memory_keyring: MemoryKeyring
) -> None:
    config_path = tmp_path / "config.toml"
    app = SetupHost(config_path)
    async with app.run_test(size=(110, 60)) as pilot:
        await _fill(pilot, dovecot, smtp_server, mail_user, "wrong-pw-123")
        await pilot.press("ctrl+t")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = _text(app, "setup-test-result")
        assert "rejected the username or password" in result and "wrong-pw-123" not in result
        assert not config_path.exists()  # nothing saved by a test

        await _type(pilot, "setup-password", mail_user.password)
        await _type(pilot, "setup-ca-file", "")  # the Dovecot's own CA is not trusted by default
        await pilot.press("ctrl+t")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "could not be verified" in _text(app, "setup-test-result")
        assert "set ca_file" in _text(app, "setup-test-result")

        await _type(pilot, "setup-ca-file", str(dovecot.ca_file))
        await pilot.press("ctrl+t")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert _text(app, "setup-test-result").startswith("Connection OK"), _text(app, "setup-test-result")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert isinstance(app.result, Config)
    acc = load_config(config_path).account("live")
    assert acc.incoming.ca_file == str(dovecot.ca_file)
    assert acc.smtp is not None and acc.smtp.ca_file == str(dovecot.ca_file) and acc.smtp.auth


async def test_smtp_without_login_is_written_as_auth_false(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    config_path = tmp_path / "config.toml"
    app = SetupHost(config_path)
    async with app.run_test(size=(110, 60)) as pilot:
        await _type(pilot, "setup-email", "ann@example.org")
        await _type(pilot, "setup-password", "pw")
        app.screen.query_one("#setup-smtp-noauth", Checkbox).value = True
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert isinstance(app.result, Config)
    acc = load_config(config_path).account("personal")
    assert acc.smtp is not None and acc.smtp.auth is False


async def test_a_second_account_says_so_and_suggests_a_free_name(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        '[[accounts]]\nname = "personal"\nemail = "a@example.org"\nprotocol = "imap"\n'
        '[accounts.incoming]\nhost = "imap.example.org"\n',
        encoding="utf-8",
    )
    app = SetupHost(config_path)
    async with app.run_test(size=(110, 60)) as pilot:
        await pilot.pause()
        assert "add another account" in _text(app, "setup-title")
        assert app.screen.query_one("#setup-name", Input).value not in ("", "personal")


async def test_the_setup_screen_owns_its_keys(demo: Mailbox, tmp_path: Path) -> None:
    app = demo.app()
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.pause()
        before = demo.manager.cache("work").pending_count()
        app.push_screen(SetupScreen(tmp_path / "config.toml"))
        await pilot.pause()
        app.screen.query_one("#setup-protocol", Select).focus()
        await pilot.pause()
        await pilot.press("q", "d", "m", "s", "u")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, SetupScreen)
        assert app.is_running
        assert demo.manager.cache("work").pending_count() == before  # nothing deleted, moved or flagged
