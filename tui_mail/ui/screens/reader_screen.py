"""The full-screen reader pushed on Enter: one message, q/Escape back."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from ...models import MessageRow
from ..bindings import READER_SCREEN_BINDINGS
from ..widgets.reader import ReaderView


class ReaderScreen(Screen[None]):
    """Shows one message full screen; the app's message actions (r, R, f, d, m, s, u) act on it."""

    BINDINGS = READER_SCREEN_BINDINGS

    def __init__(self, account: str, row: MessageRow, raw: bytes | None, *, date_format: str) -> None:
        super().__init__()
        self.account = account
        self.row = row
        self.raw = raw
        self.date_format = date_format

    def compose(self) -> ComposeResult:
        yield ReaderView(date_format=self.date_format, id="reader-full")
        yield Footer()

    @property
    def reader(self) -> ReaderView:
        return self.query_one(ReaderView)

    def on_mount(self) -> None:
        self.reader.show(self.account, self.row, self.raw)
        self.reader.focus()

    @property
    def message_id(self) -> int:
        return self.row.id

    def action_close(self) -> None:
        self.dismiss(None)
