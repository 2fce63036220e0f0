"""A mistake in one account's settings does not empty the UI: the others load, the broken one keeps its cache
readable and its sentence in the status line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.config import load_config
from tui_mail.errors import ConfigError
from tui_mail.mime import parse_envelope
from tui_mail.models import Role
from tui_mail.store.cache import NewMessage
from tui_mail.ui.app import MailApp

if TYPE_CHECKING:
    from conftest import Helpers

CONFIG = """
[[accounts]]
name = "work"
email = "alice@example.org"
protocol = "imap"
[accounts.incoming]
host = "imap.example.org"

[[accounts]]
name = "home"
email = "bob@example.net"
protocol = "pop3"
[accounts.incoming]
host = "pop.example.net"
port = "nine-nine-five"
"""

SENTENCE = "account 'home' [incoming]: key 'port' must be"


def test_strict_loading_still_fails_and_partial_loading_keeps_the_valid_accounts(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    with pytest.raises(ConfigError, match="key 'port'"):
        load_config(path)
    config = load_config(path, partial=True)
    assert [a.name for a in config.accounts] == ["work", "home"]
    assert set(config.broken) == {"home"}
    assert SENTENCE in config.broken["home"] and str(path) in config.broken["home"]
    assert config.account("work").incoming.host == "imap.example.org"


async def test_the_broken_account_shows_its_cache_and_keeps_its_sentence(tmp_path: Path, ui: Helpers) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path, partial=True)
    manager = AccountManager(config, data_dir=tmp_path / "data", offline=True)
    cache = manager.cache("home")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    raw = ui.make_raw("Kept from last week")
    cache.store_messages(inbox.id, [NewMessage(parse_envelope(raw), raw=raw, pop_uidl="u1")])
    app = MailApp(config, manager, sync_on_start=True, show_clock=False, preview_delay=0, cursor_blink=False)
    seen: list[str] = []
    original = app.notify

    def notify(message: str, *args: Any, **kw: Any) -> None:
        seen.append(str(message))
        original(message, *args, **kw)

    app.notify = notify  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "work" in ui.screen_text(app) and "home" in ui.screen_text(app)
            await pilot.press("2")
            await pilot.pause()
            assert "Kept from last week" in ui.screen_text(app)  # its cache is readable
            status = str(app.status.content)
            assert SENTENCE in status and "offline" not in status
            assert sum(SENTENCE in n for n in seen) == 1  # said once, kept in the status line
            await pilot.press("dollar_sign")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert SENTENCE in str(app.status.content)
            assert sum(SENTENCE in n for n in seen) == 2  # $ says it again
            await pilot.press("1")
            await pilot.pause()
            assert "offline" in str(app.status.content)  # the valid account is only offline
    finally:
        manager.close()


async def test_a_config_file_that_does_not_load_keeps_its_sentence_in_the_status_line(tmp_path: Path) -> None:
    from tui_mail.config import Config

    error = f"{tmp_path / 'config.toml'}: TOML syntax error: Expected '=' after a key (at line 3, column 6)."
    empty = Config(path=None, accounts=())
    manager = AccountManager(empty, data_dir=tmp_path, offline=True)
    app = MailApp(empty, manager, config_error=error, sync_on_start=False, show_clock=False, cursor_blink=False)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause()
        assert error in str(app.status.content)
        assert app.is_running
