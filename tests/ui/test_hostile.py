"""Hostile mail: markup, ANSI/OSC escapes and bidi overrides in headers, bodies and file names stay inert text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import Input

from tests.ui.conftest import settle
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.folder_picker import DirectoryScreen
from tui_mail.ui.screens.reader_screen import ReaderScreen

if TYPE_CHECKING:
    from conftest import Helpers

SIZE = (120, 40)
ESC = "\x1b"
BIDI = "\u202e"
OSC_TITLE = "\x1b]0;pwned-title\x07"
SUBJECT = f"[bold]x[/] \x1b[31mred{ESC}[0m {OSC_TITLE}{BIDI}gpj.exe"
SENDER = '"[@click=app.quit]x" <evil@example.com>'
BODY = (
    "Body [bold]bold?[/] and [@click=app.quit]click me[/]\n"
    f"ansi {ESC}[31mRED{ESC}[0m end\n"
    f"title {OSC_TITLE} end\n"
    f"clear {ESC}[2J{ESC}[H end\n"
    f"bidi {BIDI}txt.exe end\n"
    "> quoted [link](http://x)\n"
)


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_inert(text: str) -> None:
    assert ESC not in text
    assert "\x07" not in text
    assert BIDI not in text
    assert "pwned-title" not in text or "]0;" not in text


async def test_hostile_headers_and_body_show_literally_and_the_app_survives(tmp_path: Path, ui: Helpers) -> None:
    raw = ui.make_raw(SUBJECT, sender=SENDER, body=BODY)
    box = ui.build_mailbox(tmp_path, [raw, ui.make_raw("A normal message", date=1_700_000_000)])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "[bold]x[/]" in text
        assert "[@click=app.quit]x" in text
        assert "red" in text and "gpj.exe" in text
        assert_inert(text)
        # The reader pane shows the body literally too.
        assert "Body [bold]bold?[/] and [@click=app.quit]click me[/]" in text
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        text = screen_text(app)
        assert "Subject: [bold]x[/]" in text
        assert "[@click=app.quit]click me[/]" in text
        assert "ansi RED end" in text
        assert "bidi txt.exe end" in text
        assert_inert(text)
        # Clicking the "link" text does nothing: it is not markup.
        await pilot.click(offset=(20, 8))
        await pilot.press("j", "k", "q")
        await settle(app, pilot)
        assert app.is_running
        assert app.return_code is None


async def test_hostile_attachment_name_cannot_escape_the_directory(tmp_path: Path, ui: Helpers) -> None:
    raw = ui.make_raw(
        "Invoice", body="See attached.\n", attachments=[("../../../../tmp/evil\x1b[31m.sh", b"#!/bin/sh\necho pwned\n")]
    )
    box = ui.build_mailbox(tmp_path / "cache", [raw])
    target = tmp_path / "downloads"
    target.mkdir()
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert_inert(screen_text(app))
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, DirectoryScreen)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await settle(app, pilot)
        saved = list(target.iterdir())
        assert len(saved) == 1
        assert saved[0].parent == target
        assert ESC not in saved[0].name and "/" not in saved[0].name
        assert saved[0].read_bytes().startswith(b"#!/bin/sh")
        assert not Path("/tmp/evil.sh").exists()
        assert app.is_running


async def test_broken_message_shows_a_note_instead_of_crashing(tmp_path: Path, ui: Helpers) -> None:
    broken = (
        b"From: =?utf-8?B?////?= <x@y>\r\nSubject: =?x-unknown?Q?=FF=FE?= broken\r\n"
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\xff\xfe\x00garbage"
    )
    box = ui.build_mailbox(tmp_path, [broken])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        assert_inert(screen_text(app))
        await pilot.press("q")
        assert app.is_running
