"""Where passwords come from, and the one sentence a user gets when there is none."""

from __future__ import annotations

import keyring
import keyring.errors
import pytest

from tui_mail.config import parse_config
from tui_mail.credentials import get_password, set_password
from tui_mail.errors import CredentialError


def account(**incoming: object):  # type: ignore[no-untyped-def]
    cfg = parse_config(
        {
            "accounts": [
                {
                    "name": "work",
                    "email": "me@example.test",
                    "protocol": "imap",
                    "incoming": {"host": "imap.example.test", "username": "me", **incoming},
                    "smtp": {"host": "smtp.example.test"},
                }
            ]
        }
    )
    return cfg.accounts[0]


def test_keyring_round_trip() -> None:
    acc = account()
    set_password(acc, "s3cret")
    assert get_password(acc) == "s3cret"
    assert get_password(acc, acc.smtp) == "s3cret"  # SMTP falls back to the incoming login


def test_password_command_wins_and_failures_hide_output() -> None:
    assert get_password(account(password_command="printf 'pw1\\nignored'")) == "pw1"
    with pytest.raises(CredentialError) as info:
        get_password(account(password_command="echo leaked-secret; exit 3"))
    assert "exit code 3" in str(info.value) and "leaked-secret" not in str(info.value)


def test_missing_password_says_what_to_do() -> None:
    with pytest.raises(CredentialError, match="tui-mail password set work"):
        get_password(account())


def test_no_keyring_backend_is_one_clear_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backend(*_a: object) -> None:
        raise keyring.errors.NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", no_backend)
    with pytest.raises(CredentialError, match=r"No OS keyring is available.*password_command"):
        get_password(account())
