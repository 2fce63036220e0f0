"""Read the TOML config into typed, validated dataclasses; every error is one sentence naming file, account and key."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

Security = Literal["tls", "starttls", "none"]
Protocol = Literal["imap", "pop3"]
Download = Literal["full", "headers"]

SECURITIES: tuple[str, ...] = ("tls", "starttls", "none")
DEFAULT_PORTS: dict[tuple[str, str], int] = {
    ("imap", "tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
    ("pop3", "tls"): 995,
    ("pop3", "starttls"): 110,
    ("pop3", "none"): 110,
    ("smtp", "tls"): 465,
    ("smtp", "starttls"): 587,
    ("smtp", "none"): 25,
}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to reach and log in to one server."""

    host: str
    port: int
    security: Security = "tls"
    username: str = ""
    password_command: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0
    auth: bool = True  # SMTP only: false for a relay that needs no login


@dataclass(frozen=True, slots=True)
class Pop3Options:
    """POP3 download policy."""

    leave_on_server: bool = True
    delete_after_days: int | None = None


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One account."""

    name: str
    email: str
    protocol: Protocol
    incoming: ServerConfig
    display_name: str = ""
    smtp: ServerConfig | None = None
    pop3: Pop3Options = field(default_factory=Pop3Options)
    download: Download = "full"
    poll_interval: int = 300  # seconds between background syncs (POP3 polling, IMAP without IDLE)
    idle: bool = True

    @property
    def keyring_service(self) -> str:
        """Service name under which this account's password lives in the OS keyring."""
        return f"tui-mail:{self.name}"


@dataclass(frozen=True, slots=True)
class UiConfig:
    """Presentation options."""

    theme: str = "textual-dark"
    threads: bool = True
    preview_pane: bool = True
    date_format: str = "%Y-%m-%d %H:%M"
    cursor_blink: bool = True
    keys: str = "default"  # "default" or "mutt" (a preset of bindings, under the user's [keymap])
    sort: str = "date"  # the list's order: "date", "sender", "subject" or "size" (threads by their newest message)
    sort_reverse: bool = False  # oldest first, Z to A, smallest first
    undo_send: int = 0  # seconds a sent message waits in the outbox with an Undo key; 0 = off


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    path: Path | None
    accounts: tuple[AccountConfig, ...]
    ui: UiConfig = field(default_factory=UiConfig)
    keymap: dict[str, str] = field(default_factory=dict)
    # load_config(partial=True): account name -> the sentence that says what is wrong with it. Such an account is
    # in `accounts` as a placeholder (name only), so its cache stays readable; it never connects.
    broken: dict[str, str] = field(default_factory=dict)
    openers: dict[str, str] = field(default_factory=dict)  # MIME type (or type/*) -> command opening a file

    def account(self, name: str) -> AccountConfig:
        """The account with this name, or a ConfigError naming the ones that exist."""
        for acc in self.accounts:
            if acc.name == name:
                return acc
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise ConfigError(f"There is no account named {name!r} (accounts: {known}).")


class _Reader:
    """Walks a parsed TOML table with error messages that say where the problem is."""

    def __init__(self, path: Path | None, where: str) -> None:
        self.path = path
        self.where = where

    def fail(self, key: str, problem: str) -> ConfigError:
        file = str(self.path) if self.path else "config"
        return ConfigError(f"{file}: {self.where}: key {key!r} {problem}.")

    def get(self, table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; do not accept true for a port.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"must be {_kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_name(kinds)}, not {type(value).__name__}")
        return value

    def choice(self, table: dict[str, Any], key: str, choices: tuple[str, ...], default: Any = ...) -> Any:
        value = self.get(table, key, str, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
        return value

    def table(self, table: dict[str, Any], key: str, required: bool = True) -> dict[str, Any] | None:
        if key not in table:
            if required:
                raise self.fail(key, "is missing (a [table] is needed)")
            return None
        value = table[key]
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def unknown(self, table: dict[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(key, "is not a known setting (typo?)")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", bool: "true or false", float: "a number", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_SERVER_KEYS = {"host", "port", "security", "username", "password_command", "ca_file", "timeout", "auth"}


def _server(r: _Reader, t: dict[str, Any], kind: str, fallback_user: str = "") -> ServerConfig:
    if "password" in t:
        raise r.fail("password", "is not allowed: store it with 'tui-mail password set' or use password_command")
    r.unknown(t, _SERVER_KEYS)
    host = r.get(t, "host", str)
    if not host.strip():
        raise r.fail("host", "is empty")
    security = r.choice(t, "security", SECURITIES, "tls")
    port = r.get(t, "port", int, DEFAULT_PORTS[(kind, security)])
    if not 0 < port < 65536:
        raise r.fail("port", f"must be between 1 and 65535, not {port}")
    username = r.get(t, "username", str, fallback_user)
    ca_file = r.get(t, "ca_file", str, None)
    if ca_file is not None:
        ca_path = Path(ca_file).expanduser()
        if r.path is not None and not ca_path.is_absolute():
            ca_path = r.path.parent / ca_path
        ca_file = str(ca_path)
    timeout = float(r.get(t, "timeout", (int, float), 30.0))
    return ServerConfig(
        host=host.strip(),
        port=port,
        security=security,
        username=username,
        password_command=r.get(t, "password_command", str, None),
        ca_file=ca_file,
        timeout=timeout,
        auth=r.get(t, "auth", bool, True),
    )


_ACCOUNT_KEYS = {
    "name",
    "email",
    "display_name",
    "protocol",
    "incoming",
    "smtp",
    "pop3",
    "download",
    "poll_interval",
    "idle",
}


def _account(path: Path | None, index: int, t: dict[str, Any]) -> AccountConfig:
    r = _Reader(path, f"account #{index + 1}")
    name = r.get(t, "name", str)
    if not name.strip():
        raise r.fail("name", "is empty")
    r = _Reader(path, f"account {name!r}")
    r.unknown(t, _ACCOUNT_KEYS)
    email = r.get(t, "email", str)
    if "@" not in email:
        raise r.fail("email", f"must be an email address, not {email!r}")
    protocol = r.choice(t, "protocol", ("imap", "pop3"))
    inc = r.table(t, "incoming")
    assert inc is not None
    incoming = _server(_Reader(path, f"account {name!r} [incoming]"), inc, protocol, email)
    smtp_t = r.table(t, "smtp", required=False)
    smtp = (
        _server(_Reader(path, f"account {name!r} [smtp]"), smtp_t, "smtp", incoming.username)
        if smtp_t is not None
        else None
    )
    pop3_t = r.table(t, "pop3", required=False) or {}
    pr = _Reader(path, f"account {name!r} [pop3]")
    pr.unknown(pop3_t, {"leave_on_server", "delete_after_days"})
    days = pr.get(pop3_t, "delete_after_days", int, None)
    if days is not None and days < 0:
        raise pr.fail("delete_after_days", "must not be negative")
    pop3 = Pop3Options(leave_on_server=pr.get(pop3_t, "leave_on_server", bool, True), delete_after_days=days)
    poll = r.get(t, "poll_interval", int, 300)
    if poll < 10:
        raise r.fail("poll_interval", "must be at least 10 seconds")
    return AccountConfig(
        name=name,
        email=email,
        display_name=r.get(t, "display_name", str, ""),
        protocol=protocol,
        incoming=incoming,
        smtp=smtp,
        pop3=pop3,
        download=r.choice(t, "download", ("full", "headers"), "full"),
        poll_interval=poll,
        idle=r.get(t, "idle", bool, True),
    )


def _placeholder(t: dict[str, Any]) -> AccountConfig | None:
    """A stand-in for an account whose settings are wrong: its name (so its cache opens), nothing to connect to."""
    name = t.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    protocol: Protocol = "pop3" if t.get("protocol") == "pop3" else "imap"
    email = str(t.get("email") or "")
    return AccountConfig(name=name, email=email, protocol=protocol, incoming=ServerConfig("", 0), idle=False)


def parse_config(data: dict[str, Any], path: Path | None = None, *, partial: bool = False) -> Config:
    """Validate an already-parsed TOML document. partial: an account with a mistake does not fail the whole file;
    it is listed in Config.broken with its sentence (the other accounts load)."""
    r = _Reader(path, "top level")
    r.unknown(data, {"accounts", "ui", "keymap", "openers"})
    raw_accounts = r.get(data, "accounts", list, [])
    accounts: list[AccountConfig] = []
    broken: dict[str, str] = {}
    for i, item in enumerate(raw_accounts):
        if not isinstance(item, dict):
            raise r.fail("accounts", "must be a list of [[accounts]] tables")
        try:
            acc = _account(path, i, item)
            if any(a.name == acc.name for a in accounts):
                raise _Reader(path, f"account {acc.name!r}").fail("name", "is used by two accounts")
        except ConfigError as e:
            stand_in = _placeholder(item) if partial else None
            if stand_in is None or any(a.name == stand_in.name for a in accounts):
                raise
            acc, broken[stand_in.name] = stand_in, str(e)
        accounts.append(acc)
    ui_t = r.table(data, "ui", required=False) or {}
    ur = _Reader(path, "[ui]")
    ur.unknown(
        ui_t,
        {
            "theme",
            "threads",
            "preview_pane",
            "date_format",
            "cursor_blink",
            "keys",
            "undo_send",
            "sort",
            "sort_reverse",
        },
    )
    undo_send = ur.get(ui_t, "undo_send", int, 0)
    if not 0 <= undo_send <= 300:
        raise ur.fail("undo_send", "must be between 0 (off) and 300 seconds")
    ui = UiConfig(
        theme=ur.get(ui_t, "theme", str, "textual-dark"),
        threads=ur.get(ui_t, "threads", bool, True),
        preview_pane=ur.get(ui_t, "preview_pane", bool, True),
        date_format=ur.get(ui_t, "date_format", str, "%Y-%m-%d %H:%M"),
        cursor_blink=ur.get(ui_t, "cursor_blink", bool, True),
        keys=ur.choice(ui_t, "keys", ("default", "mutt"), "default"),
        undo_send=undo_send,
        sort=ur.choice(ui_t, "sort", ("date", "sender", "subject", "size"), "date"),
        sort_reverse=ur.get(ui_t, "sort_reverse", bool, False),
    )
    keymap_t = r.table(data, "keymap", required=False) or {}
    kr = _Reader(path, "[keymap]")
    keymap = {str(k): kr.get(keymap_t, k, str) for k in keymap_t}
    openers_t = r.table(data, "openers", required=False) or {}
    orr = _Reader(path, "[openers]")
    openers = {str(k).lower(): orr.get(openers_t, k, str) for k in openers_t}
    return Config(path=path, accounts=tuple(accounts), ui=ui, keymap=keymap, broken=broken, openers=openers)


def load_config(path: Path, *, partial: bool = False) -> Config:
    """Read and validate the config file at path; raises ConfigError with one sentence. partial: see parse_config."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: the config file does not exist.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not valid UTF-8.") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror}).") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}.") from None
    return parse_config(data, path, partial=partial)
