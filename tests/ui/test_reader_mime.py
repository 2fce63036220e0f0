"""Pilot tests: what the reader shows of hostile or unusual MIME (a spoofed sender, attachments of a hidden
alternative)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui_mail.ui.app import MailApp

if TYPE_CHECKING:
    from conftest import Helpers

SIZE = (120, 40)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "malformed"


async def open_first(app: MailApp, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


async def test_reader_shows_the_real_address_of_a_spoofed_sender(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [(FIXTURES / "spoofed_sender.eml").read_bytes()])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_first(app, pilot)
        text = ui.screen_text(app)
        assert 'evil@attacker.example (name: "support@paypal.com")' in text
        assert "Careful: the sender's name shows support@paypal.com, but this message comes from" in text
    box.manager.close()


async def test_reader_lists_the_photos_of_apple_mails_hidden_html_branch(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [(FIXTURES / "apple_alternative.eml").read_bytes()])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_first(app, pilot)
        text = ui.screen_text(app)
        assert "Two photos attached." in text
        assert "[1] one.png" in text and "[2] two.jpg" in text
    box.manager.close()
