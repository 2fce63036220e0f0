"""Pilot test against the real Dovecot: the command palette moves a POP3 account to IMAP in a worker (progress, then
counts per folder) and then removes the POP3 account from the config file, its mail left on this computer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import settle
from tui_mail.accounts import AccountManager
from tui_mail.config import load_config
from tui_mail.models import Role
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.migrate import MigrateScreen

pytestmark = pytest.mark.servers
SIZE = (120, 40)


def _msg(n: int) -> bytes:
    return (
        b"From: Person %d <p%d@example.test>\r\nTo: home@example.test\r\nSubject: old mail %d\r\n"
        b"Date: Tue, %d Oct 2025 10:00:00 +0000\r\nMessage-ID: <ui-old-%d@example.test>\r\n\r\nBody %d\r\n"
        % (n, n, n, 1 + n, n, n)
    )


def _config(path: Path, server: Any, pop_user: Any, imap_user: Any) -> None:
    def account(name: str, protocol: str, user: Any, port: int) -> str:
        return (
            f'[[accounts]]\nname = "{name}"\nemail = "{user.email}"\nprotocol = "{protocol}"\n'
            f'[accounts.incoming]\nhost = "{server.host}"\nport = {port}\nsecurity = "tls"\n'
            f'username = "{user.name}"\nca_file = "{server.ca_file}"\n'
            f'password_command = "printf %s {user.password}"\n'
        )

    path.write_text(
        "# both accounts\n"
        + account("home", "pop3", pop_user, server.pop3s_port)
        + "\n"
        + account("work", "imap", imap_user, server.imaps_port),
        encoding="utf-8",
    )


def status_of(app: MailApp) -> str:
    return str(app.screen.query_one("#migrate-status").render())


async def test_palette_moves_a_pop3_account_then_removes_it_from_the_config(tmp_path: Path, dovecot: Any) -> None:
    pop_user, imap_user = dovecot.add_user(), dovecot.add_user()
    dovecot.deliver_many(pop_user, [_msg(n) for n in range(5)])
    path = tmp_path / "config.toml"
    _config(path, dovecot, pop_user, imap_user)
    config = load_config(path)
    manager = AccountManager(config, data_dir=tmp_path / "data")
    manager.sync("home")
    cache_file = manager.cache("home").path
    app = MailApp(config, manager, config_path=path, sync_on_start=False, show_clock=False, preview_delay=0, push=False)
    app.cursor_blink = False
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(app, pilot)
            await pilot.press("ctrl+k", *"Move a POP3")
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, MigrateScreen)
            await pilot.click("#migrate-start")
            await settle(app, pilot)
            while app.screen.running:  # type: ignore[attr-defined]
                await settle(app, pilot)
            text = status_of(app)
            assert "INBOX → Old POP/Inbox: 5 uploaded, 0 there already, 5 in all" in text
            assert "All 5 messages of home are on work." in text
            await pilot.click("#migrate-remove")
            await settle(app, pilot)
            assert not isinstance(app.screen, MigrateScreen)
            assert [a.name for a in load_config(path).accounts] == ["work"]
            assert path.read_text(encoding="utf-8").startswith("# both accounts\n")
            assert [a.name for a in app.accounts] == ["work"]
            said = " ".join(str(n.message) for n in app._notifications)
            assert f"its mail stays in {cache_file}" in said
            assert cache_file.exists()
            pane = "\n".join(
                str(app.folder_pane.get_option_at_index(i).prompt) for i in range(app.folder_pane.option_count)
            )
            assert "home" not in pane and "All inboxes" not in pane  # one account left: no unified entry
            # The manager of the old config closed its server connections (the new one opens its own).
            assert app.manager is not manager
            assert all(
                a.sync_backend is None and a.io_backend is None and a.idle_backend is None
                for a in manager._accounts.values()
            )
    finally:
        manager.close()
        app.manager.close()
    # the server has the mail; the old cache still holds it
    from tui_mail.store.cache import Cache

    home = Cache(cache_file)
    inbox = home.folder_by_role(Role.INBOX)
    assert inbox is not None and home.count(inbox.id) == 5
    home.close()
