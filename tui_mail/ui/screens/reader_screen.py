"""The full-screen reader pushed on Enter: one message; j/k next/previous, Space pages then next unread, q back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.screen import Screen

from ...models import MessageRow
from ..bindings import FULL_READER_BINDINGS, READER_SCREEN_BINDINGS
from ..widgets.key_footer import KeyFooter
from ..widgets.reader import ReaderView

if TYPE_CHECKING:
    from ..app import MailApp

NEXT_UNREAD_SCAN = 5000  # rows looked at for the next unread message


class FullReaderView(ReaderView):
    """The reader of the full screen: j/k and Space move between messages (arrows still scroll)."""

    BINDINGS = FULL_READER_BINDINGS


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
        yield FullReaderView(date_format=self.date_format, id="reader-full")
        yield KeyFooter()

    @property
    def reader(self) -> ReaderView:
        return self.query_one(ReaderView)

    def on_mount(self) -> None:
        if self.raw is not None:
            self.reader.show(self.account, self.row, self.raw)
        else:  # from the cache (in the reader's worker when big), downloaded when missing
            self._show_cached(self.row)
        self.reader.focus()

    def _show_cached(self, row: MessageRow) -> None:
        app: Any = self.app
        account = self.account
        self.reader.show_message(account, row, app.cache(account), lambda: app.fetch_body(account, row.id))

    @property
    def message_id(self) -> int:
        return self.row.id

    def action_close(self) -> None:
        self.dismiss(None)

    # -- moving between messages (in the order of the list the message was opened from) ------------------------

    @property
    def mail_app(self) -> MailApp:
        return cast("MailApp", self.app)

    def _show_index(self, index: int) -> bool:
        ml = self.mail_app.message_list
        source = ml.source
        row = ml.row(index)
        if row is None or source is None:
            return False
        account, row = self.mail_app.resolve_row(source.account, row)  # the unified inbox spans accounts
        if self.mail_app.list_key(source.account, self.account, self.row.id) is None:
            return False
        ml.cursor = index
        self.account = account
        self.show_row(row)
        return True

    def show_row(self, row: MessageRow) -> None:
        """Show another message of the same account here (marks it read; downloads its body when needed)."""
        app: Any = self.mail_app
        self.row = row
        self.raw = None
        self._show_cached(row)
        if not row.seen:
            account, message_id = self.account, row.id
            app.run_action_worker(account, "read", lambda: app.manager.mark_read(account, [message_id], True))

    def _list_index(self) -> int | None:
        ml = self.mail_app.message_list
        if ml.source is None:
            return None
        key = self.mail_app.list_key(ml.source.account, self.account, self.row.id)
        if key is None:
            return None
        if ml.current_id == key:
            return ml.cursor
        return ml.position_in(ml.source, key)

    def action_step(self, delta: int) -> None:
        index = self._list_index()
        if index is None or not self._show_index(index + delta):
            self.notify("No next message." if delta > 0 else "No previous message.", markup=False, timeout=2)

    def action_page_or_next_unread(self) -> None:
        """Space: page down; at the end of the message, go to the next unread one (mutt's habit)."""
        reader = self.reader
        if not reader.at_end:
            reader.action_page_down()
            return
        index = self._list_index()
        ml = self.mail_app.message_list
        if index is not None:
            for i in range(index + 1, min(ml.row_count, index + 1 + NEXT_UNREAD_SCAN)):
                row = ml.row(i)
                if row is not None and not row.seen:
                    self._show_index(i)
                    return
        self.notify("No more unread messages.", markup=False, timeout=2)
