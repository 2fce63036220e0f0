"""The reader: headers, body (quoted lines dimmed), notes and attachments of one message, drawn line by line.

Everything proportional to a message's size (MIME parsing, sanitizing, cutting monster lines, wrapping) runs in a
thread worker; the widget only draws the lines in view (Line API), so a 2 MB one-line body never blocks a key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import count
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ... import mime
from ...models import MessageRow
from ...store.cache import Cache
from ..bindings import READER_BINDINGS
from .reader_lines import (
    MAX_HEADER,
    Line,
    Prepared,
    ReaderContent,
    cut,
    gc_paused,
    human_size,
    prepare,
    render_content,
    wrap_lines,
)
from .safe_text import clean_line

if TYPE_CHECKING:
    from .reader_lines import AttachmentInfo

__all__ = ["ReaderContent", "ReaderView", "human_size", "render_content"]

SYNC_BYTES = 16 * 1024  # messages up to this size are prepared at once (no flash of "Rendering…")
SYNC_WRAP_CHARS = 64 * 1024  # text up to this size is wrapped at once on a resize
MAX_RENDERS = 2  # render threads at once (the newest request waits when both run)

_tokens = count(1)


def cache_reader(cache: Cache, message_id: int) -> Callable[[], bytes | None]:
    """Reads a body from the cache in the calling (worker) thread, on that thread's own connection."""
    return lambda: cache.body(message_id)


class ReaderView(ScrollView, can_focus=True):
    """Shows one message; o opens and S saves an attachment (handled by the app through AttachmentRequest);
    h shows every header, e/v the raw source."""

    BINDINGS = READER_BINDINGS

    COMPONENT_CLASSES = {
        "reader--label",
        "reader--subject",
        "reader--rule",
        "reader--note",
        "reader--error",
        "reader--danger",
        "reader--dim",
        "reader--quote",
        "reader--quote2",
        "reader--attachments-title",
        "reader--attachment",
    }

    DEFAULT_CSS = """
    ReaderView { overflow-x: hidden; overflow-y: auto; }
    ReaderView > .reader--label { text-style: bold; }
    ReaderView > .reader--subject { text-style: bold; }
    ReaderView > .reader--rule { color: $primary 50%; }
    ReaderView > .reader--note { color: $warning; }
    ReaderView > .reader--error { color: $error; }
    ReaderView > .reader--danger { color: red; text-style: bold; }
    ReaderView > .reader--dim { color: $text-muted; text-style: italic; }
    ReaderView > .reader--quote { text-style: dim; }
    ReaderView > .reader--quote2 { text-style: dim italic; }
    ReaderView > .reader--attachments-title { color: $secondary; text-style: bold; }
    ReaderView > .reader--attachment { color: $secondary; }
    """

    class AttachmentRequest(Message):
        """The user asked to open (o) or save (S) an attachment of the shown message."""

        def __init__(self, account: str, message_id: int, attachments: list[AttachmentInfo], save: bool) -> None:
            super().__init__()
            self.account = account
            self.message_id = message_id
            self.attachments = attachments
            self.save = save

    class BodyReady(Message):
        """A worker finished preparing the message with this token (dropped when the reader moved on)."""

        def __init__(
            self, token: int, prepared: Prepared | None, raw: bytes | None, missing: Callable[[], None] | None
        ) -> None:
            super().__init__()
            self.token = token
            self.prepared = prepared
            self.raw = raw
            self.missing = missing

    class Wrapped(Message):
        """A worker wrapped the lines of the message with this token for a width."""

        def __init__(self, token: int, width: int, lines: list[Line]) -> None:
            super().__init__()
            self.token = token
            self.width = width
            self.lines = lines

    def __init__(self, *, date_format: str = "%Y-%m-%d %H:%M", id: str | None = None) -> None:
        super().__init__(id=id)
        self.date_format = date_format
        self.account: str | None = None
        self.row: MessageRow | None = None
        self.content: ReaderContent | None = None
        self.raw: bytes | None = None
        self.mode = "text"  # text, headers (every header) or source
        self.rendering = False  # a worker is preparing the body
        self.token = 0
        self._head: list[Line] = []
        self._lines: list[Line] = []  # logical lines below the headers
        self._display: list[Line] = []  # wrapped to _width
        self._width = 0
        self._styles: dict[str, Style] | None = None
        self._renders = 0  # render threads running
        self._queued: tuple[int, Callable[[], bytes | None], str, Callable[[], None] | None] | None = None

    @property
    def message_id(self) -> int | None:
        return self.row.id if self.row else None

    @property
    def text(self) -> str:
        """Every line the reader holds, as plain text (tests and the bench look at it)."""
        return "\n".join(line.label + line.text for line in self._head + self._lines)

    # -- content ---------------------------------------------------------------------------------------------------

    def clear(self, note: str = "") -> None:
        self.account, self.row, self.content, self.raw = None, None, None, None
        self.token = next(_tokens)
        self.rendering = False
        self._head = [Line(note, "dim")] if note else []
        self._set_lines([])

    def show(self, account: str, row: MessageRow, raw: bytes | None, error: str | None = None) -> None:
        """Show a message; raw None means the body is not cached yet ("Downloading…" or the error).

        The headers show at once; the body is prepared in a worker when it is big (a stale result is dropped)."""
        self._start(account, row)
        self.raw = raw
        if raw is None:
            self.content = None
            self.rendering = False
            self._set_lines([Line(clean_line(error), "error")] if error else [Line("Downloading…", "dim")])
        else:
            self._prepare(raw)

    def show_message(self, account: str, row: MessageRow, cache: Cache, missing: Callable[[], None]) -> None:
        """Show a message whose body may be in the cache: a small one is read now; a big one is read from the cache
        and prepared in the worker (the UI thread never copies megabytes). missing() runs when there is no body."""
        if 0 < row.size <= SYNC_BYTES:
            raw = cache.body(row.id)
            self.show(account, row, raw)
            if raw is None:
                missing()
            return
        self._start(account, row)
        self.raw = None
        self._render_body(cache_reader(cache, row.id), missing, f"Rendering… ({human_size(row.size)})")

    def _start(self, account: str, row: MessageRow) -> None:
        same = self.row is not None and self.row.id == row.id and self.account == account
        if not same:
            self.mode = "text"
        self.account, self.row = account, row
        self.token = next(_tokens)
        self._head = self._headers(row)
        if not same:
            self.scroll_home(animate=False)

    def set_mode(self, mode: str) -> None:
        """Switch between the text, all-headers and raw-source views of the shown message."""
        self.mode = mode
        if self.row is not None and self.raw is not None:
            self.token = next(_tokens)
            self._head = self._headers(self.row)
            self._prepare(self.raw)
            self.scroll_home(animate=False)

    def _prepare(self, raw: bytes) -> None:
        if len(raw) <= SYNC_BYTES:
            self._queued = None
            self.rendering = False
            self._prepared(self.token, prepare(raw, mode=self.mode), raw)
            return
        self._render_body(lambda: raw, None, f"Rendering… ({human_size(len(raw))})")

    def _render_body(self, load: Callable[[], bytes | None], missing: Callable[[], None] | None, note: str) -> None:
        self.rendering = True
        self.content = None
        self._set_lines([Line(note, "dim")])
        # At most MAX_RENDERS threads: a newer request starts beside a stale one still running (its result will be
        # dropped), else waits for one to end, instead of piling up threads when the cursor runs over big messages.
        self._queued = (self.token, load, self.mode, missing)
        if self._renders < MAX_RENDERS:
            self._launch_render()

    def _launch_render(self) -> None:
        if self._queued is None:
            return
        token, load, mode, missing = self._queued
        self._queued = None
        self._renders += 1

        def work() -> None:
            prepared, raw = None, None
            try:
                if token == self.token:  # still wanted when the thread starts
                    raw = load()
                    if raw is not None and token == self.token:
                        prepared = prepare(raw, mode=mode)
            finally:
                self.post_message(self.BodyReady(token, prepared, raw, missing))

        self.run_worker(work, name="reader render", group="reader-render", thread=True, exit_on_error=False)

    def on_reader_view_body_ready(self, event: ReaderView.BodyReady) -> None:
        event.stop()
        self._renders -= 1
        if event.token == self.token:
            if event.prepared is not None:
                self._prepared(event.token, event.prepared, event.raw)
            elif event.raw is None and event.missing is not None:  # not downloaded yet
                self.rendering = False
                self._set_lines([Line("Downloading…", "dim")])
                event.missing()
        self._launch_render()

    def _prepared(self, token: int, prepared: Prepared, raw: bytes | None) -> None:
        if token != self.token:
            return  # the reader moved on to another message
        self.rendering = False
        self.raw = raw
        self.content = prepared.content
        if prepared.headers and self.row is not None:
            self._head = [*prepared.headers, Line("", "rule")]
        self._set_lines(prepared.lines)

    def _headers(self, row: MessageRow) -> list[Line]:
        if self.mode == "source":
            return [Line("Raw source (e or v: back to the message)", "dim"), Line("", "rule")]
        out: list[Line] = []

        def line(label: str, value: str, style: str = "") -> None:
            if value:
                out.append(Line(cut(clean_line(value), MAX_HEADER), style, f"{label:<9}"))

        sender = f"{row.from_name} <{row.from_addr}>" if row.from_name and row.from_addr else row.sender
        if mime.lookalike_address(row.from_name, row.from_addr):  # the real address first, the name only quoted
            line("From:", f'{row.from_addr or "(no address)"} (name: "{row.from_name}")', "danger")
        else:
            line("From:", sender)
        line("To:", row.to)
        line("Cc:", row.cc)
        if row.date:
            line("Date:", time.strftime(self.date_format, time.localtime(row.date)))
        line("Subject:", row.subject or "(no subject)", "subject")
        out.append(Line("", "rule"))
        return out

    # -- lines -----------------------------------------------------------------------------------------------------

    def _set_lines(self, lines: list[Line]) -> None:
        self._lines = lines
        self._display = []
        self._width = 0
        self._rewrap()

    def _text_width(self) -> int:
        return max(10, (self.scrollable_content_region.width or self.size.width or 80) - 2)

    def _rewrap(self) -> None:
        width = self._text_width()
        lines = self._head + self._lines
        if sum(len(line.text) for line in self._lines[:2000]) <= SYNC_WRAP_CHARS and len(self._lines) <= 2000:
            self._wrapped(self.token, width, wrap_lines(lines, width))
            return
        token = self.token
        if not self._display:  # first wrap of a big text: show its head now, the rest when the worker is done
            self._wrapped(token, width, wrap_lines(lines[:200], width), final=False)

        def work() -> None:
            if token == self.token:  # stale requests (the reader moved on) end at once
                with gc_paused():
                    wrapped = wrap_lines(lines, width)
                if token == self.token:
                    self.post_message(self.Wrapped(token, width, wrapped))

        self.run_worker(work, name="reader wrap", group="reader-wrap", thread=True, exit_on_error=False)

    def on_reader_view_wrapped(self, event: ReaderView.Wrapped) -> None:
        event.stop()
        self._wrapped(event.token, event.width, event.lines)

    def _wrapped(self, token: int, width: int, lines: list[Line], final: bool = True) -> None:
        if token != self.token:
            return
        self._display = lines
        self._width = width if final else 0
        self.virtual_size = Size(width + 2, len(lines))
        self.refresh()

    def on_resize(self) -> None:
        width = self._text_width()
        if width != self._width and (self._lines or self._head):
            if self._width:  # wrapped for another width: wrap again (in a worker when big)
                self._rewrap()

    # -- drawing ---------------------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None

    def _style(self, name: str) -> Style:
        if self._styles is None:
            self._styles = {
                n.removeprefix("reader--"): self.get_component_rich_style(n) for n in self.COMPONENT_CLASSES
            }
            self._styles[""] = Style()
        return self._styles.get(name, self._styles[""])

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        index = round(self.scroll_offset.y) + y
        if not 0 <= index < len(self._display):
            return Strip.blank(width, base)
        line = self._display[index]
        if line.style == "rule":
            return Strip([Segment(" " + "─" * max(0, width - 2) + " ", base + self._style("rule"))], width)
        segments = [Segment(" ", base)]
        if line.label:
            segments.append(Segment(line.label, base + self._style("label")))
        segments.append(Segment(line.text, base + self._style(line.style)))
        return Strip(segments).crop_extend(0, width, base)

    # -- keys ------------------------------------------------------------------------------------------------------

    def action_scroll_down(self) -> None:
        self.scroll_relative(y=1, animate=False)

    def action_scroll_up(self) -> None:
        self.scroll_relative(y=-1, animate=False)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    @property
    def at_end(self) -> bool:
        """The last line is on screen (Space then moves on to the next unread message)."""
        return round(self.scroll_offset.y) >= round(self.max_scroll_y)

    def action_toggle_headers(self) -> None:
        self.set_mode("text" if self.mode == "headers" else "headers")

    def action_toggle_source(self) -> None:
        self.set_mode("text" if self.mode == "source" else "source")

    def _request(self, save: bool) -> None:
        if self.account and self.row and self.content and self.content.attachments:
            self.post_message(self.AttachmentRequest(self.account, self.row.id, self.content.attachments, save))
        else:
            self.notify("This message has no attachments.", markup=False)

    def action_open_attachment(self) -> None:
        self._request(save=False)

    def action_save_attachment(self) -> None:
        self._request(save=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open_attachment", "save_attachment"):
            return bool(self.content and self.content.attachments)
        return True
