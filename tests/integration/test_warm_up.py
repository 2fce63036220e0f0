"""Connecting while the UI loads: AccountManager.warm_up logs in in the background, the first sync uses that
connection, a refused login is reported once (never tried twice), and the password is looked up once per account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui_mail import paths
from tui_mail.accounts import AccountManager
from tui_mail.backends.imap import ImapBackend
from tui_mail.config import AccountConfig, Config, ServerConfig
from tui_mail.errors import AuthError
from tui_mail.store.lock import AccountLock

pytestmark = pytest.mark.servers

RAW = b"From: a@example.test\r\nSubject: warm hello\r\nMessage-ID: <warm@x>\r\n\r\nhello\r\n"


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every login the IMAP backend makes (one entry per connection opened)."""
    opened: list[str] = []
    real = ImapBackend._open

    def counted(self: ImapBackend) -> Any:
        opened.append(self.account.name)
        return real(self)

    monkeypatch.setattr(ImapBackend, "_open", counted)
    return opened


def _inbox_subjects(manager: AccountManager, name: str) -> list[str]:
    inbox = manager.cache(name).folder_by_name("INBOX")
    return [] if inbox is None else [r.subject for r in manager.cache(name).window(inbox.id, 0, 50)]


def _manager(account: AccountConfig, tmp_path: Path, password: str, asked: list[str]) -> AccountManager:
    def source(acc: AccountConfig, _server: ServerConfig) -> str:
        asked.append(acc.name)
        return password

    return AccountManager(Config(path=None, accounts=(account,)), data_dir=tmp_path, password_source=source)


def test_the_first_sync_uses_the_connection_made_while_the_ui_loaded(
    tmp_path: Path, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_server.deliver(imap_user, RAW)
    opened, asked = _counting(monkeypatch), []
    manager = _manager(imap_server.imap_account(imap_user), tmp_path, imap_user.password, asked)
    try:
        for thread in manager.warm_up():
            thread.join(30)
        assert opened == [imap_user.name]
        # The newest page of the never-synced Inbox is already in the cache: the UI's first screen reads it there.
        assert _inbox_subjects(manager, imap_user.name) == ["warm hello"]
        manager.sync(imap_user.name)
        assert opened == [imap_user.name]  # no second login
        assert _inbox_subjects(manager, imap_user.name) == ["warm hello"]  # and no duplicate
        [row] = manager.cache(imap_user.name).window(manager.cache(imap_user.name).folder_by_name("INBOX").id, 0, 5)  # type: ignore[union-attr]
        manager.fetch_body(imap_user.name, row.id)  # the interactive connection: a second login, same password
        assert asked == [imap_user.name]  # the keyring (or password_command) was asked once
    finally:
        manager.close()


def test_a_refused_login_while_the_ui_loaded_is_reported_by_the_first_sync_without_a_second_try(
    tmp_path: Path, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened, asked = _counting(monkeypatch), []
    manager = _manager(imap_server.imap_account(imap_user), tmp_path, "not-the-password", asked)
    try:
        for thread in manager.warm_up():
            thread.join(30)
        with pytest.raises(AuthError, match="rejected the username or password"):
            manager.sync(imap_user.name)
        assert len(opened) == 1  # the server saw one failed login, not two
        with pytest.raises(AuthError):  # the user presses $ again: a new attempt (they may have fixed it)
            manager.sync(imap_user.name)
        assert len(opened) == 2 and len(asked) == 2  # and the password is looked up again after a refusal
    finally:
        manager.close()


def test_warm_up_does_nothing_offline(tmp_path: Path, imap_server: Any, imap_user: Any) -> None:
    account = imap_server.imap_account(imap_user)
    manager = AccountManager(Config(path=None, accounts=(account,)), data_dir=tmp_path, offline=True)
    try:
        assert manager.warm_up() == []
    finally:
        manager.close()


def test_while_another_tui_mail_syncs_the_account_warm_up_only_connects(
    tmp_path: Path, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_server.deliver(imap_user, RAW)
    manager = _manager(imap_server.imap_account(imap_user), tmp_path, imap_user.password, [])
    lock_path = tmp_path / (paths.cache_path(imap_user.name).name + ".lock")
    other = AccountLock(lock_path, imap_user.name)  # another process's hold on the account (its own open file)
    other.acquire(0)
    try:
        for thread in manager.warm_up():
            thread.join(30)
        assert _inbox_subjects(manager, imap_user.name) == []  # one writer per account: nothing written
    finally:
        other.release()
    try:
        manager.sync(imap_user.name)
        assert _inbox_subjects(manager, imap_user.name) == ["warm hello"]
    finally:
        manager.close()


def test_an_account_synced_before_shows_its_cache_and_connects_only_with_the_sync(
    tmp_path: Path, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_server.deliver(imap_user, RAW)
    first = _manager(imap_server.imap_account(imap_user), tmp_path, imap_user.password, [])
    first.sync(imap_user.name)
    first.close()
    opened = _counting(monkeypatch)
    again = _manager(imap_server.imap_account(imap_user), tmp_path, imap_user.password, [])
    try:
        for thread in again.warm_up():
            thread.join(30)
        assert opened == []  # nothing competes with painting the cached Inbox
        again.sync(imap_user.name)
        assert opened == [imap_user.name]
    finally:
        again.close()
