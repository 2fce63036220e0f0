"""First-run setup: the form fills sensible defaults, writes a loadable config without the password, and says
in one sentence what is wrong."""

from __future__ import annotations

import stat
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from textual.app import App
from textual.widgets import Input, Select, Static

from tests.servers import MemoryKeyring
from tui_mail.config import Config, load_config
from tui_mail.ui.screens.setup import SetupScreen


class _NoKeyring(keyring.backend.KeyringBackend):
    """A system without any keyring backend."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.NoKeyringError("no backend")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.NoKeyringError("no backend")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.NoKeyringError("no backend")


class SetupHost(App[None]):
    def __init__(self, config_path: Path) -> None:
        super().__init__()
        self.config_path = config_path
        self.result: Config | str | None = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(SetupScreen(self.config_path), self._done)

    def _done(self, result: Config | None) -> None:
        self.result = result


async def _type(pilot, widget_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    widget = pilot.app.screen.query_one(f"#{widget_id}", Input)
    widget.focus()
    await pilot.pause()
    widget.value = ""
    await pilot.press(*text)


def _error(app: App[None]) -> str:
    return str(app.screen.query_one("#setup-error", Static).render())


async def test_setup_writes_loadable_config_and_keeps_password_in_keyring(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    config_path = tmp_path / "conf" / "config.toml"
    app = SetupHost(config_path)
    async with app.run_test(size=(110, 50)) as pilot:
        await _type(pilot, "setup-name", "work")
        await _type(pilot, "setup-email", "ann@example.org")
        await _type(pilot, "setup-display-name", 'Ann "The Boss" Lee')
        await pilot.pause()
        screen = app.screen
        # Sensible defaults follow the email domain.
        assert screen.query_one("#setup-host", Input).value == "imap.example.org"
        assert screen.query_one("#setup-port", Input).value == "993"
        assert screen.query_one("#setup-smtp-host", Input).value == "smtp.example.org"
        assert screen.query_one("#setup-smtp-port", Input).value == "465"
        screen.query_one("#setup-smtp-security", Select).value = "starttls"
        await pilot.pause()
        assert screen.query_one("#setup-smtp-port", Input).value == "587"
        await _type(pilot, "setup-password", "hunter2-secret")
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert isinstance(app.result, Config)
    text = config_path.read_text()
    assert "hunter2-secret" not in text and "password =" not in text
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    config = load_config(config_path)
    acc = config.account("work")
    assert (acc.email, acc.display_name, acc.protocol) == ("ann@example.org", 'Ann "The Boss" Lee', "imap")
    assert (acc.incoming.host, acc.incoming.port, acc.incoming.security) == ("imap.example.org", 993, "tls")
    assert acc.smtp is not None and (acc.smtp.host, acc.smtp.port, acc.smtp.security) == (
        "smtp.example.org",
        587,
        "starttls",
    )
    assert acc.incoming.username == "ann@example.org"
    assert memory_keyring.passwords == {("tui-mail:work", "ann@example.org"): "hunter2-secret"}


async def test_protocol_and_security_change_the_default_port_but_not_a_typed_one(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    app = SetupHost(tmp_path / "config.toml")
    async with app.run_test(size=(110, 50)) as pilot:
        await _type(pilot, "setup-email", "bo@mail.example")
        screen = app.screen
        screen.query_one("#setup-protocol", Select).value = "pop3"
        await pilot.pause()
        assert screen.query_one("#setup-port", Input).value == "995"
        assert screen.query_one("#setup-host", Input).value == "pop.mail.example"
        screen.query_one("#setup-security", Select).value = "starttls"
        await pilot.pause()
        assert screen.query_one("#setup-port", Input).value == "110"
        await _type(pilot, "setup-port", "1110")
        screen.query_one("#setup-security", Select).value = "tls"
        await pilot.pause()
        assert screen.query_one("#setup-port", Input).value == "1110"


async def test_invalid_input_is_one_sentence_and_writes_nothing(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    config_path = tmp_path / "config.toml"
    app = SetupHost(config_path)
    async with app.run_test(size=(110, 50)) as pilot:
        await _type(pilot, "setup-email", "not-an-address")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert _error(app) == "Enter a valid email address, like you@example.org."
        assert app.screen.focused is app.screen.query_one("#setup-email")
        await _type(pilot, "setup-email", "ann@example.org")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert _error(app) == "Enter the password, or a command that prints it."
        assert isinstance(app.screen, SetupScreen)
    assert not config_path.exists()
    assert app.result == "not dismissed"


async def test_without_a_keyring_it_says_so_and_a_password_command_works(tmp_path: Path) -> None:
    keyring.set_keyring(_NoKeyring())
    config_path = tmp_path / "config.toml"
    app = SetupHost(config_path)
    async with app.run_test(size=(110, 50)) as pilot:
        await _type(pilot, "setup-email", "ann@example.org")
        await _type(pilot, "setup-password", "pw")
        await pilot.press("ctrl+s")
        await pilot.pause()
        message = _error(app)
        assert "No OS keyring is available" in message and "password command" in message
        assert app.screen.focused is app.screen.query_one("#setup-password-command")
        assert not config_path.exists()
        await _type(pilot, "setup-password-command", "pass show mail/personal")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert isinstance(app.result, Config)
    acc = load_config(config_path).account("personal")
    assert acc.incoming.password_command == "pass show mail/personal"
    assert acc.smtp is not None and acc.smtp.password_command == "pass show mail/personal"
    assert "pw" not in config_path.read_text().replace("password_command", "")
