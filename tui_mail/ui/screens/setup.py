"""Account setup: a form that tests the connection, stores the password in the keyring and writes the config."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from ...config import DEFAULT_PORTS, AccountConfig, Config, load_config, parse_config
from ...errors import ConfigError, CredentialError, MailError

log = logging.getLogger(__name__)

PROTOCOLS = (("IMAP (folders on the server)", "imap"), ("POP3 (download the inbox)", "pop3"))
SECURITY_CHOICES = (("TLS (recommended)", "tls"), ("STARTTLS", "starttls"), ("None (unencrypted)", "none"))
_NAME_OK = re.compile(r"^[\w.@+-][\w .@+-]*$")


def toml_string(value: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(value: str | int | bool) -> str:
    """One TOML scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return toml_string(value)


def toml_table(header: str, values: dict[str, str | int | bool | None]) -> str:
    """A `[header]` (or `[[header]]`) block with one `key = value` line per value that is not None."""
    lines = [header]
    lines += [f"{key} = {toml_value(value)}" for key, value in values.items() if value is not None]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class AccountForm:
    """What the setup form collected (no password: that goes to the keyring)."""

    name: str
    email: str
    display_name: str
    protocol: str
    host: str
    port: int
    security: str
    username: str
    password_command: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    ca_file: str = ""
    smtp_auth: bool = True

    def to_toml(self) -> str:
        """The account as an `[[accounts]]` TOML block."""
        command = self.password_command or None
        return "\n".join(
            [
                toml_table(
                    "[[accounts]]",
                    {
                        "name": self.name,
                        "email": self.email,
                        "display_name": self.display_name or None,
                        "protocol": self.protocol,
                    },
                ),
                toml_table(
                    "[accounts.incoming]",
                    {
                        "host": self.host,
                        "port": self.port,
                        "security": self.security,
                        "username": self.username,
                        "password_command": command,
                        "ca_file": self.ca_file or None,
                    },
                ),
                toml_table(
                    "[accounts.smtp]",
                    {
                        "host": self.smtp_host,
                        "port": self.smtp_port,
                        "security": self.smtp_security,
                        "username": self.username if self.smtp_auth else None,
                        "password_command": command if self.smtp_auth else None,
                        "ca_file": self.ca_file or None,
                        "auth": None if self.smtp_auth else False,
                    },
                ),
            ]
        )

    def to_account(self, config_path: Path) -> AccountConfig:
        """The account as the config file will hold it (validated the same way); ConfigError if it is not."""
        import tomllib

        return parse_config(tomllib.loads(self.to_toml()), config_path).accounts[0]


def write_account(config_path: Path, form: AccountForm) -> Config:
    """Add the account to the config file (creating it, mode 600) and return the loaded config.

    An existing file gets the new `[[accounts]]` block appended; if the result does not load, the old file is put
    back and the ConfigError is raised.
    """
    config_path = config_path.expanduser()
    config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    old: str | None = config_path.read_text(encoding="utf-8") if config_path.exists() else None
    if old is None:
        text = "# tui-mail configuration (written by the setup screen). Passwords are not stored here.\n\n"
    else:
        text = old if old.endswith("\n") else old + "\n"
        text += "\n"
    text += form.to_toml()
    tmp = config_path.with_name(config_path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, config_path)
    try:
        return load_config(config_path)
    except ConfigError:
        if old is None:
            config_path.unlink(missing_ok=True)
        else:
            config_path.write_text(old, encoding="utf-8")
        raise


def _domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower() if "@" in email else ""


class SetupScreen(ModalScreen[Config | None]):
    """Set up an account. Dismisses with the loaded Config, or None when cancelled. Modal: the keys of the
    mail view (q, d, m, ...) do not reach through it."""

    DEFAULT_CSS = """
    SetupScreen {
        background: $background;
    }
    SetupScreen #setup-test-result {
        padding: 1 2 0 2;
        height: auto;
    }
    SetupScreen #setup-test-result.-ok {
        color: $success;
    }
    SetupScreen #setup-test-result.-failed {
        color: $error;
    }
    SetupScreen #setup-title {
        height: 1;
        background: $primary;
        color: $text;
        padding: 0 1;
        text-style: bold;
    }
    SetupScreen #setup-intro {
        padding: 1 2 0 2;
        color: $text-muted;
    }
    SetupScreen .setup-grid {
        grid-size: 2;
        grid-columns: 22 1fr;
        grid-rows: 1;
        grid-gutter: 1 0;
        height: auto;
        padding: 1 2 0 2;
    }
    SetupScreen .setup-grid Input, SetupScreen .setup-grid Select {
        max-width: 70;
    }
    SetupScreen .setup-grid Input {
        background: $boost;
    }
    SetupScreen .setup-grid Input:focus {
        background: $primary 25%;
    }
    SetupScreen .setup-section {
        padding: 1 2 0 2;
        text-style: bold;
        color: $accent;
    }
    SetupScreen Label {
        height: 1;
        width: 100%;
        text-align: right;
        padding-right: 1;
        color: $text-muted;
    }
    SetupScreen #setup-error {
        display: none;
        padding: 1 2 0 2;
        color: $error;
        text-style: bold;
        height: auto;
    }
    SetupScreen #setup-error.-shown {
        display: block;
    }
    SetupScreen #setup-buttons {
        height: auto;
        padding: 1 2;
    }
    SetupScreen #setup-buttons Button {
        margin-right: 2;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="setup.save"),
        Binding("escape", "cancel", "Cancel", id="setup.cancel"),
        Binding("ctrl+t", "test_connection", "Test connection", priority=True, id="setup.test"),
    ]

    def __init__(self, config_path: Path) -> None:
        super().__init__()
        self.config_path = Path(config_path)
        # What we filled in automatically; a field the user changed is never overwritten.
        self._auto: dict[str, str] = {}
        self._taken: set[str] = set()
        try:
            if self.config_path.exists():
                self._taken = {a.name for a in load_config(self.config_path, partial=True).accounts}
        except ConfigError:
            pass  # saving says what is wrong with the file

    def _free_name(self) -> str:
        """A name suggestion no account has yet."""
        for name in ("personal", "work", "home"):
            if name not in self._taken:
                return name
        n = len(self._taken) + 1
        while f"account {n}" in self._taken:
            n += 1
        return f"account {n}"

    def compose(self) -> ComposeResult:
        title = "add another account" if self._taken else "set up your first account"
        yield Static(Text(f"tui-mail — {title}"), id="setup-title")
        yield Static(id="setup-error")
        with VerticalScroll():
            yield Static(
                Text(
                    f"The settings are written to {self.config_path}. The password goes to the system keyring "
                    "(or give a command that prints it, such as 'pass show mail/work')."
                ),
                id="setup-intro",
            )
            yield Static("Account", classes="setup-section")
            with Grid(classes="setup-grid"):
                yield Label("Account name")
                yield Input(value=self._free_name(), id="setup-name", compact=True)
                yield Label("Email address")
                yield Input(placeholder="you@example.org", id="setup-email", compact=True)
                yield Label("Your name")
                yield Input(placeholder="shown in From: (optional)", id="setup-display-name", compact=True)
                yield Label("Protocol")
                yield Select(PROTOCOLS, value="imap", allow_blank=False, id="setup-protocol", compact=True)
            yield Static("Incoming server", classes="setup-section")
            with Grid(classes="setup-grid"):
                yield Label("Host")
                yield Input(placeholder="imap.example.org", id="setup-host", compact=True)
                yield Label("Security")
                yield Select(SECURITY_CHOICES, value="tls", allow_blank=False, id="setup-security", compact=True)
                yield Label("Port")
                yield Input(value="993", type="integer", id="setup-port", compact=True)
                yield Label("Username")
                yield Input(placeholder="defaults to the email address", id="setup-username", compact=True)
                yield Label("Password")
                yield Input(
                    password=True, placeholder="stored in the system keyring", id="setup-password", compact=True
                )
                yield Label("or password command")
                yield Input(placeholder="e.g. pass show mail/personal", id="setup-password-command", compact=True)
                yield Label("CA file")
                yield Input(placeholder="a private CA's certificate (optional)", id="setup-ca-file", compact=True)
            yield Static("Outgoing server (SMTP)", classes="setup-section")
            with Grid(classes="setup-grid"):
                yield Label("Host")
                yield Input(placeholder="smtp.example.org", id="setup-smtp-host", compact=True)
                yield Label("Security")
                yield Select(SECURITY_CHOICES, value="tls", allow_blank=False, id="setup-smtp-security", compact=True)
                yield Label("Port")
                yield Input(value="465", type="integer", id="setup-smtp-port", compact=True)
                yield Label("")
                yield Checkbox("Server needs no login", id="setup-smtp-noauth", compact=True)
            yield Static(id="setup-test-result")
            with Horizontal(id="setup-buttons"):
                yield Button("Save", variant="primary", id="setup-save")
                yield Button("Test connection", id="setup-test")
                yield Button("Cancel", id="setup-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self._auto = {"setup-port": "993", "setup-smtp-port": "465", "setup-host": "", "setup-smtp-host": ""}
        self.query_one("#setup-email", Input).focus()

    # -- helpers ---------------------------------------------------------------------------------------------------

    def value(self, field: str) -> str:
        """The stripped text of an Input, or the value of a Select."""
        widget = self.query_one(f"#setup-{field}")
        if isinstance(widget, Select):
            return str(widget.value)
        assert isinstance(widget, Input)
        return widget.value.strip()

    def _set_auto(self, widget_id: str, value: str) -> None:
        """Fill a field with a default unless the user typed something of their own there."""
        widget = self.query_one(f"#{widget_id}", Input)
        if widget.value.strip() == self._auto.get(widget_id, "") or not widget.value.strip():
            widget.value = value
            self._auto[widget_id] = value

    def _update_defaults(self) -> None:
        protocol = self.value("protocol")
        self._set_auto("setup-port", str(DEFAULT_PORTS[(protocol, self.value("security"))]))
        self._set_auto("setup-smtp-port", str(DEFAULT_PORTS[("smtp", self.value("smtp-security"))]))
        domain = _domain(self.value("email"))
        if domain:
            self._set_auto("setup-host", f"{'imap' if protocol == 'imap' else 'pop'}.{domain}")
            self._set_auto("setup-smtp-host", f"smtp.{domain}")

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self.is_mounted and self._auto:
            self._update_defaults()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "setup-email" and self._auto:
            self._update_defaults()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "setup-save":
            self.action_save()
        elif event.button.id == "setup-test":
            self.action_test_connection()
        else:
            self.action_cancel()

    def _error(self, message: str, focus: str | None = None) -> None:
        error = self.query_one("#setup-error", Static)
        error.update(Text(message))
        error.set_class(bool(message), "-shown")
        if focus:
            self.query_one(f"#setup-{focus}").focus()

    def form(self) -> AccountForm:
        """The validated form; ValueError(one sentence, field id) when something is wrong."""
        name = self.value("name")
        if not name:
            raise _Invalid("Give the account a name, for example 'personal' or 'work'.", "name")
        if not _NAME_OK.match(name):
            raise _Invalid("The account name may use letters, digits, spaces and . _ @ + - only.", "name")
        email = self.value("email")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise _Invalid("Enter a valid email address, like you@example.org.", "email")
        ports: dict[str, int] = {}
        for field, label in (("port", "incoming"), ("smtp-port", "SMTP")):
            text = self.value(field)
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise _Invalid(f"The {label} port must be a number between 1 and 65535.", field)
            ports[field] = int(text)
        for field, label in (("host", "incoming"), ("smtp-host", "SMTP")):
            host = self.value(field)
            if not host or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
                raise _Invalid(f"Enter the {label} server's host name, like mail.example.org.", field)
        smtp_auth = not self.query_one("#setup-smtp-noauth", Checkbox).value
        if not self.value("password") and not self.value("password-command"):
            raise _Invalid("Enter the password, or a command that prints it.", "password")
        return AccountForm(
            name=name,
            email=email,
            display_name=self.value("display-name"),
            protocol=self.value("protocol"),
            host=self.value("host"),
            port=ports["port"],
            security=self.value("security"),
            username=self.value("username") or email,
            password_command=self.value("password-command"),
            smtp_host=self.value("smtp-host"),
            smtp_port=ports["smtp-port"],
            smtp_security=self.value("smtp-security"),
            ca_file=self.value("ca-file"),
            smtp_auth=smtp_auth,
        )

    # -- actions ---------------------------------------------------------------------------------------------------

    def action_save(self) -> None:
        try:
            form = self.form()
        except _Invalid as e:
            self._error(str(e), e.field)
            return
        if self.config_path.exists():
            try:
                existing = load_config(self.config_path)
            except ConfigError as e:
                self._error(str(e))
                return
            if any(a.name == form.name for a in existing.accounts):
                self._error(f"There is already an account named {form.name!r}; choose another name.", "name")
                return
        password = self.query_one("#setup-password", Input).value
        if password and not form.password_command:
            from ...credentials import set_password  # keyring is slow to import; only needed here

            try:
                set_password(form.name, password, username=form.username)
            except CredentialError as e:
                self._error(f"{e} Enter a password command below instead.", "password-command")
                return
        try:
            config = write_account(self.config_path, form)
        except (ConfigError, OSError) as e:
            self._error(str(e) if isinstance(e, ConfigError) else f"Cannot write {self.config_path} ({e.strerror}).")
            return
        self.query_one("#setup-password", Input).value = ""
        self.dismiss(config)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_test_connection(self) -> None:
        """Log in to both servers with what the form says (in a thread worker); the sentence shows below."""
        try:
            form = self.form()
            account = form.to_account(self.config_path)
        except _Invalid as e:
            self._error(str(e), e.field)
            return
        except ConfigError as e:
            self._error(str(e))
            return
        self._error("")
        password = self.query_one("#setup-password", Input).value
        self._show_test("Testing the connection…", None)
        self.run_worker(
            partial(self._test_work, account, password),
            name="setup test",
            group="setup-test",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _test_work(self, account: AccountConfig, password: str) -> None:
        from ...probe import check_account

        try:
            if not password:
                from ...credentials import get_password

                password = get_password(account, account.incoming)
            text = check_account(account, password)
        except MailError as e:
            text = str(e)
        except Exception:
            log.exception("testing the connection of %s", account.name)
            text = "The connection test failed unexpectedly; see the log."
        self.app.call_from_thread(self._show_test, text, text.startswith("Connection OK"))

    def _show_test(self, text: str, ok: bool | None) -> None:
        result = self.query_one("#setup-test-result", Static)
        result.update(Text(text))
        result.set_class(ok is True, "-ok")
        result.set_class(ok is False, "-failed")


class _Invalid(ValueError):
    """A form error: one sentence plus the field to focus."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field
