"""Hostile sizes never freeze the UI: a 2 MB one-line body, 50,000 short lines, 5 MB of HTML tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.ui.conftest import settle
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.reader_screen import ReaderScreen
from tui_mail.ui.widgets.reader import ReaderView

if TYPE_CHECKING:
    from conftest import Helpers

SIZE = (100, 30)
HEAD = (
    "From: Big Sender <big@example.com>\r\nTo: me@example.com\r\nSubject: {subject}\r\n"
    "Date: {date}\r\nMessage-ID: <{mid}@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: {ctype}; charset=utf-8\r\n\r\n"
)


def hostile(subject: str, date: str, ctype: str, body: bytes) -> bytes:
    mid = subject.replace(" ", "-")
    return HEAD.format(subject=subject, date=date, ctype=ctype, mid=mid).encode() + body


def one_line() -> bytes:
    return hostile("One long line", "Thu, 19 Nov 2026 10:00:00 +0000", "text/plain", b"x" * 2_000_000 + b"\r\n")


def many_lines() -> bytes:
    body = b"".join(b"short line %d\r\n" % i for i in range(50_000))
    return hostile("Fifty thousand lines", "Wed, 18 Nov 2026 10:00:00 +0000", "text/plain", body)


def html_tables() -> bytes:
    row = b"<tr>" + b"".join(b"<td>cell %d</td>" % i for i in range(10)) + b"</tr>\n"
    body = b"<html><body><table>" + row * (5_000_000 // len(row)) + b"</table></body></html>"
    return hostile("Huge HTML tables", "Tue, 17 Nov 2026 10:00:00 +0000", "text/html", body)


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_a_2mb_line_at_the_top_of_the_inbox_is_cut_with_a_marker(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [one_line(), ui.make_raw("Small one", date=1_700_000_000)])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "One long line" in text and "xxxxxxxxxx" in text
        assert app.reader.text.endswith("x\n… [line cut: 2,000,000 characters]")
        # The reader holds a few thousand characters of that line, not two million.
        assert len(app.reader.text) < 10_000
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("end")
        assert "[line cut: 2,000,000 characters]" in screen_text(app)


async def test_keys_pressed_while_a_big_body_renders_act_on_what_is_shown(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [one_line(), many_lines(), ui.make_raw("Small one", date=1_700_000_000)])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # No waiting for the render of the 2 MB message: move on at once, twice.
        await pilot.press("j", "j")
        await settle(app, pilot)
        assert app.message_list.current_row is not None
        assert app.message_list.current_row.subject == "Small one"
        assert app.reader.row is not None and app.reader.row.subject == "Small one"
        text = screen_text(app)
        assert "Hello." in text
        assert "line cut" not in text and "short line" not in text
        # d deletes the message the user sees, not one whose render was still running.
        await pilot.press("d")
        await settle(app, pilot)
        cache = box.manager.cache("test")
        trash = next(f for f in cache.folders() if f.name == "Trash")
        assert [r.subject for r in cache.window(trash.id, 0, 10)] == ["Small one"]


async def test_a_stale_render_is_dropped_when_the_reader_moved_on(tmp_path: Path, ui: Helpers) -> None:
    small = ui.make_raw("Small one", date=1_700_000_000)
    box = ui.build_mailbox(tmp_path, [many_lines(), small])
    app = box.app(preview_delay=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        reader = app.reader
        cache = box.manager.cache("test")
        big_row, small_row = app.message_list.row(0), app.message_list.row(1)
        assert big_row is not None and small_row is not None
        reader.show("test", big_row, cache.body(big_row.id))
        assert reader.rendering  # a big body goes to a worker
        reader.show("test", small_row, cache.body(small_row.id))
        await settle(app, pilot)
        assert reader.row is small_row
        assert "Hello." in reader.text and "short line" not in reader.text


async def test_fifty_thousand_lines_scroll_to_the_end(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [many_lines()])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        app.screen.query_one(ReaderView)
        assert "short line 0" in screen_text(app)
        await pilot.press("end")
        await settle(app, pilot)
        assert "short line 49999" in screen_text(app)


async def test_five_megabytes_of_html_tables_render_without_blocking_keys(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, [html_tables(), ui.make_raw("Small one", date=1_700_000_000)])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen)
        # While the HTML is converted, Escape still goes back and the list still moves.
        await pilot.press("escape", "j")
        assert not isinstance(app.screen, ReaderScreen)
        assert app.message_list.cursor == 1
        await settle(app, pilot)
        await pilot.press("k", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        assert "cell 9" in screen_text(app)


async def test_running_over_several_big_messages_shows_the_last_one(tmp_path: Path, ui: Helpers) -> None:
    def big(n: int) -> bytes:
        body = b"".join(b"message %d line %d\r\n" % (n, i) for i in range(5_000))
        return hostile(f"Big {n}", f"Mon, {10 + n} Nov 2026 10:00:00 +0000", "text/plain", body)

    box = ui.build_mailbox(tmp_path, [big(n) for n in range(5)])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j", "j", "j")  # each starts (or queues) a render; at most two threads run
        for _ in range(20):  # the queued render starts when one ends: wait until the reader is done
            await settle(app, pilot)
            if not app.reader.rendering:
                break
        assert app.reader.row is not None and app.reader.row.subject == "Big 0"
        assert "message 0 line 0" in app.reader.text and "message 1 " not in app.reader.text


async def test_reply_to_a_big_message_quotes_it_in_a_worker(tmp_path: Path, ui: Helpers) -> None:
    from textual.widgets import TextArea

    from tui_mail.ui.screens.compose import ComposeScreen

    box = ui.build_mailbox(tmp_path, [many_lines()])
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("r")  # the draft (quoting 50,000 lines) is built in a worker
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        body = app.screen.query_one("#compose-body", TextArea).text
        assert "> short line 0" in body and "> short line 49999" in body
