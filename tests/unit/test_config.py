"""A bad config gets one sentence naming file, account and key, and exit code 2 — never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui_mail.config import load_config
from tui_mail.errors import ConfigError

GOOD = """
[[accounts]]
name = "work"
email = "alice@example.org"
display_name = "Alice Example"
protocol = "imap"
[accounts.incoming]
host = "imap.example.org"
port = 993
security = "tls"
username = "alice"
ca_file = "ca.pem"
[accounts.smtp]
host = "smtp.example.org"
port = 465
security = "tls"

[[accounts]]
name = "home"
email = "bob@example.net"
protocol = "pop3"
[accounts.incoming]
host = "pop.example.net"
security = "starttls"
[accounts.pop3]
leave_on_server = false
delete_after_days = 14

[keymap]
reply = "r,ctrl+r"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_is_typed_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    work, home = cfg.accounts
    assert work.incoming.port == 993 and work.smtp is not None and work.smtp.username == "alice"
    assert work.incoming.ca_file == str(tmp_path / "ca.pem")  # relative to the config file
    assert home.incoming.port == 110  # default for POP3 + STARTTLS
    assert home.incoming.username == "bob@example.net"  # defaults to the email
    assert home.pop3.leave_on_server is False and home.pop3.delete_after_days == 14
    assert cfg.keymap == {"reply": "r,ctrl+r"}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace('email = "alice@example.org"\n', ""), "account 'work': key 'email' is missing"),
        (lambda t: t.replace("port = 993", 'port = "993"'), "key 'port' must be a whole number, not str"),
        (lambda t: t.replace('protocol = "imap"', 'protocol = "smtp"'), "key 'protocol' must be one of 'imap', 'pop3'"),
        (
            lambda t: t.replace('security = "tls"\nusername', 'security = "ssl"\nusername'),
            "key 'security' must be one of",
        ),
        (lambda t: t.replace("[[accounts]]\nname", "[[accounts]\nname", 1), "TOML syntax error"),
        (lambda t: t.replace('username = "alice"', 'password = "hunter2"'), "key 'password' is not allowed"),
        (
            lambda t: t.replace("leave_on_server = false", "leave_on_server = 1"),
            "key 'leave_on_server' must be true or false",
        ),
        (lambda t: t.replace('name = "home"', 'name = "work"'), "is used by two accounts"),
        (lambda t: t.replace("display_name", "dispaly_name"), "key 'dispaly_name' is not a known setting"),
        (
            lambda t: t + '\n[ui]\nsort = "from"\n',
            "key 'sort' must be one of 'date', 'sender', 'subject', 'size', not 'from'",
        ),
    ],
)
def test_bad_config_one_sentence(tmp_path: Path, edit, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_cli_bad_config_exit_2_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("port = 993", "port = true"))
    proc = subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(path), "folders", "work"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "key 'port' must be a whole number, not a boolean" in proc.stderr


def test_cli_missing_config_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(tmp_path / "nope.toml"), "sync"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_unknown_account(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    proc = subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(path), "folders", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no account named 'nosuch'" in proc.stderr
