"""The reader: headers, body (quoted lines dimmed), notes and attachments of one message, all as inert text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ... import mime
from ...models import MessageRow
from ..bindings import READER_BINDINGS
from .safe_text import clean, clean_line

AttachmentInfo = mime.Attachment


@dataclass(slots=True)
class ReaderContent:
    """What the reader shows of a message body."""

    body: str = ""
    attachments: list[AttachmentInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warning: str = ""  # the sender's name pretends to be another address: shown first, in red


def render_content(raw: bytes) -> ReaderContent:
    """Parse a raw message for display; never raises (a broken message shows what can be shown plus a note)."""
    try:
        rendered = mime.render_message(raw)
    except Exception as e:  # the UI never crashes on a message
        return ReaderContent(notes=[f"This message could not be displayed ({type(e).__name__})."])
    notes = [n for n in rendered.notes if n != rendered.sender_warning]
    return ReaderContent(rendered.text, list(rendered.attachments), notes, rendered.sender_warning)


def body_text(body: str) -> Text:
    """The body as inert Text; quoted lines dimmed (deeper quotes dimmer)."""
    text = Text(end="")
    for line in clean(body).split("\n"):
        depth = mime.quote_depth(line)
        style = "" if depth == 0 else ("dim" if depth == 1 else "dim italic")
        text.append(line.expandtabs(8) + "\n", style=style)
    return text


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


class ReaderView(VerticalScroll, can_focus=True):
    """Shows one message; o opens and S saves an attachment (handled by the app through AttachmentRequest)."""

    BINDINGS = READER_BINDINGS

    DEFAULT_CSS = """
    ReaderView { padding: 0 1; }
    ReaderView #reader-headers { padding-bottom: 1; border-bottom: solid $primary 50%; margin-bottom: 1; }
    ReaderView #reader-notes { color: $warning; }
    ReaderView #reader-attachments { margin-top: 1; color: $secondary; }
    """

    class AttachmentRequest(Message):
        """The user asked to open (o) or save (S) an attachment of the shown message."""

        def __init__(self, account: str, message_id: int, attachments: list[AttachmentInfo], save: bool) -> None:
            super().__init__()
            self.account = account
            self.message_id = message_id
            self.attachments = attachments
            self.save = save

    def __init__(self, *, date_format: str = "%Y-%m-%d %H:%M", id: str | None = None) -> None:
        super().__init__(id=id)
        self.date_format = date_format
        self.account: str | None = None
        self.row: MessageRow | None = None
        self.content: ReaderContent | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="reader-headers", markup=False)
        yield Static("", id="reader-notes", markup=False)
        yield Static("", id="reader-body", markup=False)
        yield Static("", id="reader-attachments", markup=False)

    @property
    def message_id(self) -> int | None:
        return self.row.id if self.row else None

    def clear(self, note: str = "") -> None:
        self.account, self.row, self.content = None, None, None
        self.query_one("#reader-headers", Static).update(Text(note, style="dim"))
        for part in ("#reader-notes", "#reader-body", "#reader-attachments"):
            self.query_one(part, Static).update("")

    def show(self, account: str, row: MessageRow, raw: bytes | None, error: str | None = None) -> None:
        """Show a message; raw None means the body is not cached yet ("Downloading…" or the error)."""
        same = self.row is not None and self.row.id == row.id and self.account == account
        self.account, self.row = account, row
        self.query_one("#reader-headers", Static).update(self._headers(row))
        notes = self.query_one("#reader-notes", Static)
        body = self.query_one("#reader-body", Static)
        atts = self.query_one("#reader-attachments", Static)
        if raw is None:
            self.content = None
            notes.update(Text(clean_line(error), style="red") if error else "")
            body.update(Text("" if error else "Downloading…", style="italic dim"))
            atts.update("")
        else:
            self.content = render_content(raw)
            shown = Text(end="")
            if self.content.warning:
                shown.append(clean_line(self.content.warning) + "\n", style="bold red")
            shown.append("\n".join(clean_line(n) for n in self.content.notes))
            shown.rstrip()
            notes.update(shown)
            body.update(body_text(self.content.body))
            atts.update(self._attachments(self.content.attachments))
        if not same:
            self.scroll_home(animate=False)

    def _headers(self, row: MessageRow) -> Text:
        text = Text(end="")

        def line(label: str, value: str, style: str = "") -> None:
            if value:
                text.append(f"{label:<9}", style="bold")
                text.append(clean_line(value) + "\n", style=style)

        sender = f"{row.from_name} <{row.from_addr}>" if row.from_name and row.from_addr else row.sender
        if mime.lookalike_address(row.from_name, row.from_addr):  # the real address first, the name only quoted
            line("From:", f'{row.from_addr or "(no address)"} (name: "{row.from_name}")', "bold red")
        else:
            line("From:", sender)
        line("To:", row.to)
        line("Cc:", row.cc)
        if row.date:
            line("Date:", time.strftime(self.date_format, time.localtime(row.date)))
        line("Subject:", row.subject or "(no subject)", "bold")
        text.rstrip()
        return text

    @staticmethod
    def _attachments(atts: list[AttachmentInfo]) -> Text:
        if not atts:
            return Text("")
        text = Text("Attachments (o open · S save):\n", style="bold", end="")
        for n, a in enumerate(atts, 1):
            text.append(f"  [{n}] ", style="")
            text.append(clean_line(a.filename))
            details = ", ".join(x for x in (clean_line(a.content_type), human_size(a.size) if a.size else "") if x)
            if details:
                text.append(f"  ({details})", style="dim")
            text.append("\n")
        text.rstrip()
        return text

    def action_scroll_down(self) -> None:
        self.scroll_relative(y=1, animate=False)

    def action_scroll_up(self) -> None:
        self.scroll_relative(y=-1, animate=False)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

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
