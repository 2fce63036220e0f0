"""The virtual message list: a Line-API ScrollView that reads rows from the cache by window, never the whole folder."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from ...models import MessageRow
from ...store.cache import Cache
from ...store.list_order import ListOrder, thread_counts
from ...store.unified import UnifiedCache
from ..bindings import LIST_BINDINGS
from .safe_text import clean_line

PAGE_SIZE = 100  # rows fetched per window query (about two screens)
MAX_PAGES = 4  # pages kept in the LRU: at most 400 rows in memory, whatever the folder size
NARROW = 90  # below this width the list shows a short date and a narrower sender column
NARROW_DATE = "%y-%m-%d"
SERVER_MARK = "S"  # in search results: found on the server, its body not downloaded yet

log = logging.getLogger(__name__)


ESTIMATE_ROWS = 1000  # a folder shown at its top counts this many rows at once, the rest in a worker


@dataclass(frozen=True, slots=True)
class ListSource:
    """What the list shows: one folder (None: every folder) of one account's cache, optionally threaded and narrowed
    by a search query (plus `include`: rows a search on the server found)."""

    account: str
    cache: Cache | UnifiedCache  # UnifiedCache: several accounts' Inboxes (the unified inbox)
    folder_id: int | None
    threaded: bool = False
    query: str = ""
    include: tuple[int, ...] = ()
    order: ListOrder | None = None  # sort and collapsed threads (None: by date, threaded as `threaded` says)

    @property
    def list_order(self) -> ListOrder:
        return self.order if self.order is not None else ListOrder(threaded=self.threaded)

    def count(self) -> int:
        return self.cache.count(self.folder_id, self.query, self.include, order=self.list_order)

    def position(self, message_id: int) -> int | None:
        return self.cache.position(
            self.folder_id, message_id, query=self.query, include=self.include, order=self.list_order
        )

    def thread_head(self, row: MessageRow) -> int:
        """The row a collapsed thread of `row` shows (its newest message in the row's folder)."""
        if row.thread_id is None or not isinstance(self.cache, Cache):  # the unified inbox is flat
            return row.id
        found = self.cache.conn.execute(
            "SELECT id FROM messages WHERE thread_id=? AND +folder_id=? AND thread_head=1",
            (row.thread_id, row.folder_id),
        ).fetchone()
        return int(found[0]) if found else row.id

    @property
    def id_ordered(self) -> bool:
        """Sorted by a key no index walks in order (sender, subject, size) and not folded: a worker orders the ids
        once and pages slice them (re-sorting the folder per page would cost 40-140 ms a page at 100k)."""
        order = self.list_order
        return order.sort != "date" and not order.folding and isinstance(self.cache, Cache)

    @property
    def order_key(self) -> tuple[object, ...]:
        """What the list's id order depends on (the same key: the same ids, until the folder changes)."""
        return (self.account, id(self.cache), self.folder_id, self.query, self.include, self.list_order)

    def folds(self, row: MessageRow) -> bool:
        """The row stands for its whole collapsed thread."""
        return self.folder_id is not None and not self.query and self.list_order.is_collapsed(row.thread_id)


def thread_label(messages: int, unread: int) -> str:
    """What a collapsed thread's row says before its subject: `[5] ` or `[5, 2 unread] `."""
    return f"[{messages}, {unread} unread] " if unread else f"[{messages}] "


def flag_marks(row: MessageRow) -> str:
    """Four flag columns: N unread, ! flagged, A attachment, r answered."""
    return (
        ("N" if not row.seen else " ")
        + ("!" if row.flagged else " ")
        + ("A" if row.has_attachments else " ")
        + ("r" if row.answered else " ")
    )


class MessageList(ScrollView, can_focus=True):
    """Rows of a folder, newest first; virtual height = number of messages, rows fetched by window into an LRU."""

    BINDINGS = LIST_BINDINGS

    COMPONENT_CLASSES = {
        "message-list--cursor",
        "message-list--cursor-blurred",
        "message-list--unread",
        "message-list--flagged",
        "message-list--date",
        "message-list--flags",
        "message-list--empty",
    }

    DEFAULT_CSS = """
    MessageList {
        overflow-x: hidden;
        overflow-y: auto;
    }
    MessageList > .message-list--cursor { background: $accent; color: $text; }
    MessageList > .message-list--cursor-blurred { background: $accent 40%; }
    MessageList > .message-list--unread { text-style: bold; }
    MessageList > .message-list--flagged { color: $warning; }
    MessageList > .message-list--date { color: $text-muted; }
    MessageList > .message-list--flags { color: $secondary; }
    MessageList > .message-list--empty { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The cursor moved to a message (message_id None when the list is empty)."""

        def __init__(self, message_list: MessageList, message_id: int | None) -> None:
            super().__init__()
            self.message_list = message_list
            self.message_id = message_id

    class Recounted(Message):
        """A worker counted a search's rows (count None: it failed) and found the kept message's position."""

        def __init__(
            self,
            generation: int,
            source: ListSource,
            count: int | None,
            position: int | None,
            old_cursor: int,
            shift_scroll: bool,
        ) -> None:
            super().__init__()
            self.generation, self.source, self.count, self.position = generation, source, count, position
            self.old_cursor, self.shift_scroll = old_cursor, shift_scroll

    class Reordered(Message):
        """A worker ordered the list's ids (ids None: it failed); keep_id is the message the cursor stays on."""

        def __init__(
            self,
            generation: int,
            source: ListSource,
            ids: list[int] | None,
            index: dict[int, int] | None,
            keep_id: int | None,
            old_cursor: int,
            shift_scroll: bool,
        ) -> None:
            super().__init__()
            self.generation, self.source, self.ids, self.index = generation, source, ids, index
            self.keep_id, self.old_cursor, self.shift_scroll = keep_id, old_cursor, shift_scroll

    class Selected(Message):
        """Enter was pressed on a message."""

        def __init__(self, message_list: MessageList, message_id: int) -> None:
            super().__init__()
            self.message_list = message_list
            self.message_id = message_id

    def __init__(self, *, date_format: str = "%Y-%m-%d %H:%M", name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.source: ListSource | None = None
        self.date_format = date_format
        self.row_count = 0
        self._pages: OrderedDict[int, list[MessageRow | None]] = OrderedDict()
        self.thread_sizes: dict[int, tuple[int, int]] = {}  # collapsed thread id -> (messages, unread), per page
        self._g_pending: float = 0.0
        self._g_timer: Timer | None = None
        self.window_queries = 0  # how many window reads were made (tests and bench look at this)
        self.sync_running = False  # a sync of this account runs: an empty list is "loading", not "no messages"
        self._styles: dict[str, Style] | None = None
        self._strips: OrderedDict[tuple[int, bool, bool, int], Strip] = OrderedDict()
        self.tagged: set[int] = set()  # message ids tagged with v (drawn with a `*`)
        self.tag_anchor: int | None = None  # where the last tag was set (V tags from there to the cursor)
        self._recount_generation = 0
        self.recounting = False  # a worker is counting a search; row_count is the length shown before
        self.row_label: Callable[[MessageRow], str] | None = None  # account/folder column of lists spanning several
        self.row_label_width = 0
        # An id-ordered list (ListSource.id_ordered): its ids in order, their index, and what they were made for.
        self._order_ids: list[int] | None = None
        self._order_index: dict[int, int] = {}
        self._order_key: tuple[object, ...] | None = None
        self._reorder_generation = 0
        self.sorting = False  # a worker orders the list; what is on screen is the order before
        self._wanted: int | None = None  # the message the cursor goes to when the order arrives (position_in)

    def refresh_tags(self) -> None:
        """Redraw after the tag set changed."""
        self._strips.clear()
        self.refresh()

    # -- data --------------------------------------------------------------------------------------------------

    @property
    def cached_row_count(self) -> int:
        """Rows currently held in memory (bounded by PAGE_SIZE * MAX_PAGES)."""
        return sum(len(p) for p in self._pages.values())

    def set_source(
        self, source: ListSource | None, *, cursor: int = 0, scroll_y: int = 0, row_count: int | None = None
    ) -> None:
        """Show another folder (or nothing); reads only the count now (unless a worker counted already: row_count),
        rows as they are drawn. Tags are kept while the folder stays the same (a search narrows it)."""
        if (
            source is None
            or self.source is None
            or (source.account, source.folder_id)
            != (
                self.source.account,
                self.source.folder_id,
            )
        ):
            self.tagged.clear()
            self.tag_anchor = None
        previous = self.source
        self.source = source
        self._recount_generation += 1  # an answer for what was shown before is stale now
        self.recounting = False
        if source is not None and source.id_ordered and (source.order_key != self._order_key or self.sorting):
            self._show_while_sorting(source, previous, cursor)
            return
        self._pages.clear()
        self._strips.clear()
        self.thread_sizes.clear()
        self._reorder_generation += 1  # an order made for what was shown before is stale now
        self.sorting = False
        self._wanted = None
        if source is not None and source.id_ordered and self._order_ids is not None:
            row_count = len(self._order_ids)
        elif row_count is None and source is not None and self._count_in_worker(source):
            # A search nobody counted yet (Enter, a server search's extra rows): the length it had on screen
            # until the worker answers.
            self._start_recount(source, None, cursor, shift_scroll=False)
            row_count = self.row_count
        elif row_count is None:
            row_count = source.count() if source else 0
        if source is None or not source.id_ordered:
            self._order_ids, self._order_index, self._order_key = None, {}, None
        self.row_count = row_count
        self.virtual_size = Size(self.size.width, self.row_count)
        self.scroll_to(y=scroll_y, animate=False, force=True)
        self.cursor = max(0, min(cursor, self.row_count - 1))
        self.refresh()

    def set_row_count(self, row_count: int) -> None:
        """The exact length, counted by a worker after the list was shown with a bounded estimate."""
        if row_count == self.row_count or (self.source is not None and self.source.id_ordered):
            return  # an id-ordered list's length is its ids'.
        self.row_count = row_count
        self.virtual_size = Size(self.size.width, self.row_count)
        self.cursor = max(0, min(self.cursor, self.row_count - 1))
        self.refresh()

    def _show_while_sorting(self, source: ListSource, previous: ListSource | None, cursor: int) -> None:
        """A new sort of a list: the rows on screen stay (the same folder, the order before) until the worker has
        ordered the ids; another folder shows "Sorting…". The cursor then goes to the message it was on."""
        keep, self._wanted = self._wanted, None
        if keep is None:
            keep = self.current_id if previous is not None and self._same_list(previous, source) else None
        if previous is None or not self._same_list(previous, source):
            self._pages.clear()
            self._strips.clear()
            self.thread_sizes.clear()
            self.row_count = 0
            self.virtual_size = Size(self.size.width, 0)
            self.scroll_to(y=0, animate=False, force=True)
            self.cursor = 0
        self._order_ids, self._order_index, self._order_key = None, {}, None
        self._start_reorder(source, keep, cursor, shift_scroll=False)
        self.refresh()

    @staticmethod
    def _same_list(a: ListSource, b: ListSource) -> bool:
        return (a.account, a.folder_id, a.query, a.include) == (b.account, b.folder_id, b.query, b.include)

    def position_in(self, source: ListSource, message_id: int) -> int | None:
        """Where a message is in a list about to be shown, without ordering a folder on this thread (an id-ordered
        list not ordered yet: None, and the cursor goes to the message when the worker has ordered it)."""
        if source.id_ordered:
            if source.order_key == self._order_key:
                return self._order_index.get(message_id)
            self._wanted = message_id
            return None
        return source.position(message_id)

    def _start_reorder(self, source: ListSource, keep_id: int | None, old_cursor: int, *, shift_scroll: bool) -> None:
        self._reorder_generation += 1
        generation = self._reorder_generation
        self.sorting = True
        cache = source.cache
        assert isinstance(cache, Cache)

        def work() -> None:
            try:
                ids = cache.ordered_ids(source.folder_id, source.query, source.include, order=source.list_order)
                index = {mid: i for i, mid in enumerate(ids)}
            except Exception:  # a malformed query says so elsewhere; the list keeps what it shows
                log.exception("ordering the message list")
                ids, index = None, None
            self.post_message(self.Reordered(generation, source, ids, index, keep_id, old_cursor, shift_scroll))

        self.run_worker(work, name="order", group="list-order", exclusive=True, thread=True, exit_on_error=False)

    def on_message_list_reordered(self, event: Reordered) -> None:
        event.stop()
        if event.generation != self._reorder_generation or event.source is not self.source:
            return  # a newer sort, reload or another list: this answer is stale
        self.sorting = False
        if event.ids is None or event.index is None:
            self.refresh()
            return
        self._order_ids, self._order_index, self._order_key = event.ids, event.index, event.source.order_key
        self._pages.clear()
        self._strips.clear()
        self.thread_sizes.clear()
        pos = event.index.get(event.keep_id) if event.keep_id is not None else None
        if event.shift_scroll and self.cursor != event.old_cursor:  # the user moved meanwhile
            self._apply_count(len(event.ids), None, self.cursor, shift_scroll=False)
        else:
            self._apply_count(len(event.ids), pos, event.old_cursor, shift_scroll=event.shift_scroll)

    def set_loading(self, loading: bool) -> None:
        """Say whether a sync that may still bring this folder's rows is running."""
        if loading != self.sync_running:
            self.sync_running = loading
            if self.row_count == 0:
                self.refresh()

    def reload(self) -> None:
        """Re-read the folder (new mail, a flag change, a delete), keeping the cursor on the same message if it is
        still there, else on the same position. A search's count (an FTS query over the whole folder or account)
        is made in a worker: until it answers, the list keeps its length and re-reads only the rows on screen."""
        source = self.source
        if source is None:
            return
        keep_row = self.current_row
        old_cursor = self.cursor
        if source.id_ordered:  # reordered in a worker; the rows on screen stay in their order meanwhile
            self._start_reorder(source, keep_row.id if keep_row else None, old_cursor, shift_scroll=True)
            return
        self._pages.clear()
        self._strips.clear()
        self.thread_sizes.clear()
        if self._count_in_worker(source):
            self._start_recount(source, keep_row, old_cursor, shift_scroll=True)
            self.refresh()
            return
        self._apply_count(source.count(), self._position_of(source, keep_row), old_cursor, shift_scroll=True)

    @staticmethod
    def _count_in_worker(source: ListSource) -> bool:
        """A search is counted off the UI thread; a folder's own count is an index lookup and stays here."""
        return bool(source.query or source.include)

    @staticmethod
    def _position_of(source: ListSource, keep_row: MessageRow | None) -> int | None:
        """Where keep_row is in the list now (None: gone)."""
        if keep_row is None:
            return None
        pos = source.position(keep_row.id)
        if pos is None and source.folds(keep_row):  # new mail in its collapsed thread: stay on the thread
            pos = source.position(source.thread_head(keep_row))
        return pos

    def _start_recount(
        self, source: ListSource, keep_row: MessageRow | None, old_cursor: int, *, shift_scroll: bool
    ) -> None:
        self._recount_generation += 1
        generation = self._recount_generation
        self.recounting = True

        def work() -> None:
            try:
                count = source.count()
                pos = self._position_of(source, keep_row)
            except Exception:  # e.g. the account's cache went away: the list keeps what it shows
                log.exception("recounting the message list")
                self.post_message(self.Recounted(generation, source, None, None, old_cursor, shift_scroll))
                return
            self.post_message(self.Recounted(generation, source, count, pos, old_cursor, shift_scroll))

        self.run_worker(work, name="recount", group="list-recount", exclusive=True, thread=True, exit_on_error=False)

    def on_message_list_recounted(self, event: Recounted) -> None:
        event.stop()
        if event.generation != self._recount_generation or event.source is not self.source:
            return  # a newer reload or another folder/search: this answer is stale
        self.recounting = False
        if event.count is None:
            return
        self._pages.clear()
        self._strips.clear()
        self.thread_sizes.clear()
        if self.cursor != event.old_cursor:  # the user moved meanwhile: the cursor stays where they put it
            self._apply_count(event.count, None, self.cursor, shift_scroll=False)
        else:
            self._apply_count(event.count, event.position, event.old_cursor, shift_scroll=event.shift_scroll)

    def _apply_count(self, count: int, pos: int | None, old_cursor: int, *, shift_scroll: bool) -> None:
        self.row_count = count
        self.virtual_size = Size(self.size.width, self.row_count)
        new_cursor = old_cursor if pos is None else pos
        new_cursor = max(0, min(new_cursor, self.row_count - 1))
        # Scrolled down: keep the cursor where it was on screen when rows arrive above it. At the top: stay at
        # the top so new mail is seen.
        shift = new_cursor - old_cursor
        if shift_scroll and shift and self.scroll_offset.y > 0:
            self.scroll_to(y=max(0, self.scroll_offset.y + shift), animate=False, force=True)
        self.cursor = new_cursor
        self.refresh()

    def row(self, index: int) -> MessageRow | None:
        """The row at index, from the LRU or read with its window."""
        source = self.source
        if source is None or not 0 <= index < self.row_count:
            return None
        page_no = index // PAGE_SIZE
        page = self._pages.get(page_no)
        if page is None and self.sorting and source.id_ordered:
            return None  # not ordered yet: only the rows already read are shown
        if page is None and source.id_ordered and self._order_ids is not None:
            assert isinstance(source.cache, Cache)
            ids = self._order_ids[page_no * PAGE_SIZE : (page_no + 1) * PAGE_SIZE]
            page = source.cache.rows(ids, threaded=source.list_order.threaded)
            self.window_queries += 1
            self._pages[page_no] = page
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        elif page is None:
            page = list(
                source.cache.window(
                    source.folder_id,
                    page_no * PAGE_SIZE,
                    PAGE_SIZE,
                    query=source.query,
                    include=source.include,
                    order=source.list_order,
                )
            )
            self.window_queries += 1
            self._pages[page_no] = page
            folded = [r.thread_id for r in page if r is not None and r.thread_id is not None and source.folds(r)]
            if folded and source.folder_id is not None and isinstance(source.cache, Cache):
                self.thread_sizes.update(thread_counts(source.cache.conn, source.folder_id, folded))
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        offset = index - page_no * PAGE_SIZE
        return page[offset] if offset < len(page) else None

    @property
    def current_id(self) -> int | None:
        row = self.row(self.cursor)
        return row.id if row else None

    @property
    def current_row(self) -> MessageRow | None:
        return self.row(self.cursor)

    # -- cursor ------------------------------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self.row_count - 1)) if self.row_count else 0

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh_line(old)
        self.refresh_line(new)
        self.post_message(self.Highlighted(self, self.current_id))

    def _scroll_cursor_into_view(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, force=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.row_count)
        self._scroll_cursor_into_view()

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_go_top(self) -> None:
        self.cursor = 0

    def action_go_bottom(self) -> None:
        self.cursor = max(0, self.row_count - 1)

    def action_go_top_prefix(self) -> None:
        """First `g` arms, a second `g` within a second goes to the top (vim's `gg`)."""
        now = time.monotonic()
        if self._g_pending and now - self._g_pending < 1.0:
            self._g_pending = 0.0
            self.cursor = 0
        else:
            self._g_pending = now

    def action_page_down(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        self.cursor += height
        self.scroll_to(y=self.cursor, animate=False, force=True)

    def action_page_up(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        self.cursor -= height

    def action_open(self) -> None:
        row_id = self.current_id
        if row_id is not None:
            self.post_message(self.Selected(self, row_id))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int):
            self.cursor = round(self.scroll_offset.y) + y

    # -- drawing -----------------------------------------------------------------------------------------------

    def _format_date(self, ts: int, fmt: str | None = None) -> str:
        if not ts:
            return ""
        try:
            return time.strftime(fmt or self.date_format, time.localtime(ts))
        except (ValueError, OverflowError, OSError):
            return "?"

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._strips.clear()

    def on_focus(self) -> None:
        self.refresh_line(self.cursor)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor)

    def _style(self, name: str) -> Style:
        """Component styles, looked up once per style change (rich_style walks the DOM: too slow per line)."""
        if self._styles is None:
            names = (
                "message-list--cursor",
                "message-list--cursor-blurred",
                "message-list--unread",
                "message-list--flagged",
                "message-list--date",
                "message-list--flags",
                "message-list--empty",
            )
            self._styles = {n: self.get_component_rich_style(n) for n in names}
            self._styles["base"] = self.rich_style
        return self._styles[name]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        index = round(self.scroll_offset.y) + y
        base = self._style("base")
        if self.row_count == 0:
            if y == 0 and self.source is not None:
                if self.sorting:
                    text = "  Sorting…"
                elif self.sync_running and not self.source.query:
                    text = "  Loading newest messages…"
                else:
                    text = "  No messages" + (" match the filter" if self.source.query else " in this folder")
                return Strip([Segment(set_cell_size(text, width), base + self._style("message-list--empty"))], width)
            return Strip.blank(width, base)
        is_cursor = index == self.cursor
        key = (index, is_cursor, is_cursor and self.has_focus, width)
        strip = self._strips.get(key)
        if strip is not None:
            self._strips.move_to_end(key)
            return strip
        row = self.row(index)
        if row is None:
            return Strip.blank(width, base)
        strip = self._render_row(row, is_cursor, width, base)
        self._strips[key] = strip
        while len(self._strips) > 2 * PAGE_SIZE:
            self._strips.popitem(last=False)
        return strip

    def _render_row(self, row: MessageRow, is_cursor: bool, width: int, base: Style) -> Strip:
        style = base
        label, depth, unread = "", row.thread_depth, not row.seen
        if self.source is not None and row.thread_id is not None and self.source.folds(row):
            messages, unread_n = self.thread_sizes.get(row.thread_id, (1, 0))
            label, depth, unread = (thread_label(messages, unread_n) if messages > 1 else ""), 0, unread_n > 0
        if unread:
            style += self._style("message-list--unread")
        if row.flagged:
            style += self._style("message-list--flagged")
        if is_cursor:
            style += self._style("message-list--cursor" if self.has_focus else "message-list--cursor-blurred")
        flags = ("*" if row.id in self.tagged else " ") + flag_marks(row) + self._search_mark(row) + " "
        narrow = width < NARROW
        date = self._format_date(row.date, NARROW_DATE if narrow else None)
        date_w = max(cell_len(date), 8 if narrow else 10)
        rest = max(0, width - len(flags) - date_w - 2)
        from_w = min(16, max(8, rest // 4)) if narrow else min(24, max(8, rest // 3))  # the subject gets the room
        label_w = min(self.row_label_width, 10 if narrow else 20) if self.row_label is not None else 0
        if label_w:
            rest = max(0, rest - label_w - 1)
            from_w = min(from_w, max(8, rest // 3))
        subject_w = max(0, rest - from_w - 1)
        indent = ""
        if depth:
            indent = "  " * min(depth - 1, 6) + "↳ "
        subject = indent + label + (clean_line(row.subject) or "(no subject)")
        sender = clean_line(row.sender) or "(unknown sender)"
        segments = [
            Segment(flags, style + self._style("message-list--flags")),
            Segment(set_cell_size(date, date_w) + "  ", style + self._style("message-list--date")),
            *self._label_segments(row, label_w, style),
            Segment(set_cell_size(sender, from_w) + " ", style),
            Segment(set_cell_size(subject, subject_w), style),
        ]
        return Strip(segments).adjust_cell_length(width, style)

    def _search_mark(self, row: MessageRow) -> str:
        """While a search is shown, one more column: S for a hit whose body is not downloaded (a server result)."""
        if self.source is None or not self.source.query:
            return ""
        return SERVER_MARK if not row.has_body else " "

    def _label_segments(self, row: MessageRow, width: int, style: Style) -> list[Segment]:
        """The row's account/folder (inert text, cut with an ellipsis) when the list spans several."""
        if not width or self.row_label is None:
            return []
        label = clean_line(self.row_label(row))
        if cell_len(label) > width:
            label = set_cell_size(label, width - 1) + "…"
        return [Segment(set_cell_size(label, width) + " ", style + self._style("message-list--date"))]


__all__ = ["MAX_PAGES", "PAGE_SIZE", "SERVER_MARK", "ListSource", "MessageList", "flag_marks", "thread_label"]
