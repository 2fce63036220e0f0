"""Enter in the search box against the real Dovecot with download = "headers": hits whose bodies are not downloaded
are marked as server results in the list; offline, the search says it looked at the downloaded mail only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import screen_text, settle
from tui_mail.accounts import AccountManager
from tui_mail.config import Config
from tui_mail.ui.app import MailApp
from tui_mail.ui.search import OFFLINE_NOTE

pytestmark = pytest.mark.servers

SIZE = (120, 30)


def message(n: int, subject: str, body: str) -> bytes:
    return (
        f"From: Carol <carol@example.test>\r\nTo: me@example.test\r\nSubject: {subject}\r\n"
        f"Date: Mon, {n + 1:02d} Nov 2026 09:00:00 +0000\r\nMessage-ID: <ui-search-{n}@example.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def marked(app: MailApp, subject: str) -> bool:
    """Whether the list's line of this subject carries the server-result mark (the column before the date)."""
    (line,) = [line for line in screen_text(app).splitlines() if subject in line]
    return line.split("2026-11-")[0].rstrip().endswith("S")


def said(app: MailApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_server_hits_are_marked_and_offline_search_says_so(tmp_path: Path, imap_server: Any) -> None:
    user = imap_server.add_user()
    imap_server.deliver_many(
        user, [message(1, "Budget 2027", "The marmalade budget is approved."), message(2, "Lunch", "Pizza?")]
    )
    account = imap_server.imap_account(user, download="headers")
    config = Config(path=None, accounts=(account,))
    manager = AccountManager(config, data_dir=tmp_path, password_source=lambda _a, _s: user.password)
    app = MailApp(config, manager, show_clock=False, preview_delay=3600, push=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)  # the sync at start: headers only
            imap_server.deliver(user, message(9, "Late news", "the marmalade shipment"))  # after the sync
            await pilot.press("slash", *"marmalade", "enter")
            await settle(app, pilot)
            text = screen_text(app)
            assert "Budget 2027" in text and "Late news" in text and "Lunch" not in text
            assert marked(app, "Budget 2027") and marked(app, "Late news")
    finally:
        manager.close()

    offline = AccountManager(config, data_dir=tmp_path, password_source=lambda _a, _s: user.password, offline=True)
    app = MailApp(config, offline, show_clock=False, preview_delay=3600, push=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert not marked(app, "Lunch")  # no search shown: no mark column
            await pilot.press("slash", *"news", "enter")
            await settle(app, pilot)
            assert OFFLINE_NOTE in said(app)
            assert marked(app, "Late news")  # stored by the server search, its body still on the server
    finally:
        offline.close()


async def test_enter_in_the_unified_inbox_searches_each_imap_server_and_merges_the_hits(
    tmp_path: Path, imap_server: Any
) -> None:
    ann, bob = imap_server.add_user(), imap_server.add_user()
    imap_server.deliver_many(ann, [message(1, "Ann's budget", "marmalade for Ann"), message(2, "Lunch", "Pizza?")])
    imap_server.deliver_many(bob, [message(3, "Bob's budget", "marmalade for Bob"), message(4, "Tea", "Earl Grey")])
    config = Config(
        path=None,
        accounts=(imap_server.imap_account(ann, download="headers"), imap_server.imap_account(bob, download="headers")),
    )
    passwords = {ann.name: ann.password, bob.name: bob.password}
    manager = AccountManager(config, data_dir=tmp_path, password_source=lambda a, _s: passwords[a.name])
    app = MailApp(config, manager, show_clock=False, preview_delay=3600, push=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)  # both synced: headers only
            imap_server.deliver(bob, message(5, "Late news", "the marmalade shipment"))  # after the sync
            await pilot.press("0")
            await settle(app, pilot)
            await pilot.press("slash", *"marmalade", "enter")
            await settle(app, pilot)
            text = screen_text(app)
            for subject in ("Ann's budget", "Bob's budget", "Late news"):
                assert subject in text and marked(app, subject)
            assert "Lunch" not in text and "Tea" not in text
            assert app.message_list.row_count == 3  # each hit once
            # Another search: the first one's answers do not come back into it.
            await pilot.press("slash", "ctrl+u", *"earl", "enter")
            await settle(app, pilot)
            text = screen_text(app)
            assert "Tea" in text and "budget" not in text and app.message_list.row_count == 1
    finally:
        manager.close()
