"""Conversations and order in the list: `t` threads on/off, collapse/expand one thread (`-`) or all (`_`), thread
actions (mark read, delete, move), sort by date/sender/subject/size (`o`, `O` reverses), and `n`/`N` to the next or
previous message of the folder matching the last search."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App, SystemCommand

from ..models import MessageRow
from ..store.list_order import SORTS, ListOrder, order_by, thread_members
from .screens.folder_picker import CREATE, FolderPickerScreen, PickerScreen
from .screens.reader_screen import ReaderScreen
from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from ..config import AccountConfig
    from ..store.cache import Cache
    from .widgets.message_list import MessageList

log = logging.getLogger(__name__)

SORT_NAMES = {"date": "date", "sender": "sender", "subject": "subject", "size": "size"}


class ThreadsView(App[int]):
    """Mixed into MailApp. Collapsed threads are remembered per folder while the app runs (`_` sets them all)."""

    if TYPE_CHECKING:  # provided by MailApp and its other mixins
        manager: Any
        threaded: bool
        views: dict[str, Any]

        @property
        def account(self) -> AccountConfig | None: ...
        @property
        def message_list(self) -> MessageList: ...
        def cache(self, account: str) -> Cache: ...
        def run_action_worker(self, account: str, what: str, fn: Callable[[], object]) -> None: ...
        def confirm_delete_for_good(
            self, account: str, rows: Sequence[MessageRow], delete: Callable[[], None]
        ) -> None: ...
        def _target(self) -> tuple[str, MessageRow] | None: ...
        def _save_view(self) -> None: ...
        def _show_folder(self, account: str, view: Any) -> None: ...
        def _move_to_new_folder(self, account: str, ids: list[int], name: str, untag: bool) -> None: ...
        def update_status(self) -> None: ...

    sort_key = "date"
    sort_reverse = False
    fold_all = False  # every thread collapsed (except the ones toggled back)
    last_query = ""  # the last search applied to a list (n/N look for it)
    _flipped: dict[tuple[str, int | None], frozenset[int]]
    _hit_generation = 0

    def list_order(self, account: str, folder_id: int | None) -> ListOrder:
        """How the list of this folder is ordered and folded now."""
        flipped = getattr(self, "_flipped", {}).get((account, folder_id), frozenset()) if self.threaded else frozenset()
        return ListOrder(self.threaded, self.sort_key, self.sort_reverse, self.threaded and self.fold_all, flipped)

    def order_label(self) -> str:
        """The list's sort and thread mode for the status line ("sender↓ · threads", "date↑ · flat"), "" for the
        default (by date, newest first, threaded). ↓ is the key's natural direction (newest, A to Z, largest)."""
        if self.sort_key == "date" and not self.sort_reverse and self.threaded:
            return ""
        arrow = "↑" if self.sort_reverse else "↓"
        return f"{SORT_NAMES[self.sort_key]}{arrow} · {'threads' if self.threaded else 'flat'}"

    def _reshow(self, keep: int | None) -> None:
        """Show the list again in its new order or folding, the cursor on message `keep`."""
        acc = self.account
        if acc is None:
            return
        self._save_view()
        view = self.views[acc.name]
        if keep is not None:
            view.selected = keep
        self._show_folder(acc.name, view)

    def _head_of(self, row: MessageRow | None) -> int | None:
        """The row a collapsed thread shows (its newest message in the folder), or the row itself."""
        source = self.message_list.source
        if row is None or source is None:
            return row.id if row else None
        return source.thread_head(row)

    # -- threads on/off, collapse and expand --------------------------------------------------------------------

    def action_toggle_threads(self) -> None:
        """t: group the list by conversation, or list every message on its own."""
        self.threaded = not self.threaded
        self._reshow(self.message_list.current_id)
        self.update_status()
        self.notify("Threads on." if self.threaded else "Threads off.", markup=False, timeout=2)

    def _needs_threads(self) -> bool:
        if self.threaded:
            return True
        self.notify("Threads are off: press t to group the list by thread first.", markup=False, timeout=3)
        return False

    def action_fold_thread(self) -> None:
        """Collapse the thread under the cursor to one row, or expand it again (the cursor stays on it)."""
        ml = self.message_list
        source, row = ml.source, ml.current_row
        if not self._needs_threads() or source is None or row is None or row.thread_id is None:
            return
        if source.query or source.folder_id is None:
            self.notify("Search results list every hit; Escape goes back to the folder's threads.", markup=False)
            return
        if not hasattr(self, "_flipped"):
            self._flipped = {}
        key = (source.account, source.folder_id)
        self._flipped[key] = self._flipped.get(key, frozenset()) ^ {row.thread_id}
        self._reshow(self._head_of(row))

    def action_fold_all(self) -> None:
        """Collapse every thread of every folder, or expand them all (the cursor stays on its thread)."""
        if not self._needs_threads():
            return
        self.fold_all = not self.fold_all
        self._flipped = {}
        self._reshow(self._head_of(self.message_list.current_row))
        self.notify("All threads collapsed." if self.fold_all else "All threads expanded.", markup=False, timeout=2)

    # -- thread actions ---------------------------------------------------------------------------------------

    def thread_rows(self) -> tuple[str, list[MessageRow]] | None:
        """(account, rows) of the thread of the message acted on, in that message's folder, in tree order."""
        target = self._target()
        if target is None:
            return None
        account, row = target
        if row.thread_id is None:
            return account, [row]
        cache = self.cache(account)
        rows = [r for r in map(cache.message, thread_members(cache.conn, row.folder_id, row.thread_id)) if r]
        return account, rows or [row]

    def folded_rows(self) -> tuple[str, list[MessageRow]] | None:
        """The whole thread when the cursor is on a collapsed thread of several messages (what the row stands for)."""
        if self.screen is not self.screen_stack[0]:
            return None
        ml = self.message_list
        source, row = ml.source, ml.current_row
        if source is None or row is None or row.thread_id is None or not source.folds(row):
            return None
        found = self.thread_rows()
        return found if found is not None and len(found[1]) > 1 else None

    def apply_to_folded(self, what: str) -> bool:
        """d, m, s, u on a collapsed thread act on every message of it; False when the cursor is not on one."""
        found = self.folded_rows()
        if found is None:
            return False
        account, rows = found
        ids = [r.id for r in rows]
        if what == "delete":
            self.action_thread_delete()
        elif what == "move":
            self.action_thread_move()
        elif what == "flag":
            flagged = not all(r.flagged for r in rows)
            self.run_action_worker(account, "flag", lambda: self.manager.flag(account, ids, flagged))
        elif what == "toggle_read":
            read = not all(r.seen for r in rows)
            self.run_action_worker(account, "mark", lambda: self.manager.mark_read(account, ids, read))
        else:
            return False
        return True

    def action_thread_read(self) -> None:
        """Mark every message of the thread (in this folder) read."""
        found = self.thread_rows()
        if found is None:
            return
        account, rows = found
        ids = [r.id for r in rows if not r.seen]
        if not ids:
            self.notify("Every message of this thread is read.", markup=False, timeout=2)
            return
        self.run_action_worker(account, "mark", lambda: self.manager.mark_read(account, ids, True))
        self.notify(f"Marked {_messages(len(ids))} of the thread read.", markup=False, timeout=2)

    def action_thread_delete(self) -> None:
        """Delete every message of the thread in this folder (to Trash; one U undoes it while it is queued)."""
        found = self.thread_rows()
        if found is None:
            return
        account, rows = found
        ids = [r.id for r in rows]

        def delete() -> None:
            if isinstance(self.screen, ReaderScreen):
                self.screen.dismiss(None)
            self.run_action_worker(account, "delete", lambda: self.manager.delete(account, ids))
            self.notify(f"Deleted the thread: {_messages(len(ids))}.", markup=False, timeout=2)

        self.confirm_delete_for_good(account, rows, delete)

    def action_thread_move(self) -> None:
        """Move every message of the thread in this folder to a folder picked by name."""
        found = self.thread_rows()
        if found is None:
            return
        account, rows = found
        if not self.manager.capabilities(account).move:
            self.notify("This account cannot move messages.", markup=False)
            return
        ids = [r.id for r in rows]
        title = f"Move the thread ({_messages(len(ids))}) to folder"
        picker = FolderPickerScreen(self.cache(account).folders(), rows[0].folder_id, title=title, can_create=True)

        def chosen(folder_id: int | None) -> None:
            if folder_id is None:
                return
            if folder_id == CREATE:
                self._move_to_new_folder(account, ids, picker.new_name, False)
                return
            if isinstance(self.screen, ReaderScreen):
                self.screen.dismiss(None)
            self.run_action_worker(account, "move", lambda: self.manager.move(account, ids, folder_id))
            self.notify(f"Moved the thread: {_messages(len(ids))}.", markup=False, timeout=2)

        self.push_screen(picker, chosen)

    # -- sort ---------------------------------------------------------------------------------------------------

    def action_sort(self) -> None:
        """o: pick the sort key (threads are ordered by the key of their newest message)."""
        choices = [
            (i, Text(f"by {SORT_NAMES[s]}" + ("  ✓" if s == self.sort_key else ""))) for i, s in enumerate(SORTS)
        ]

        def chosen(index: int | None) -> None:
            if index is not None:
                self.set_sort(SORTS[index])

        self.push_screen(PickerScreen("Sort the list", choices), chosen)

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        self.sort_key = key
        if reverse is not None:
            self.sort_reverse = reverse
        self._reshow(self.message_list.current_id)
        self.update_status()
        self.notify(f"Sorted by {SORT_NAMES[key]}{', reversed' if self.sort_reverse else ''}.", markup=False, timeout=2)

    def action_sort_reverse(self) -> None:
        """O: reverse the order (oldest first, Z to A, smallest first)."""
        self.set_sort(self.sort_key, not self.sort_reverse)

    # -- n / N: the next hit of the last search in the folder ---------------------------------------------------

    def action_search_next(self) -> None:
        self._search_step(1)

    def action_search_previous(self) -> None:
        self._search_step(-1)

    def _search_step(self, step: int) -> None:
        ml = self.message_list
        source = ml.source
        if source is None:
            return
        if source.query:  # the list is the hits already: move among them, wrapping
            if ml.row_count:
                ml.cursor = (ml.cursor + step) % ml.row_count
            return
        if not self.last_query:
            self.notify("No search yet: press / to search.", markup=False, timeout=2)
            return
        self._hit_generation += 1
        order = replace(source.list_order, collapsed=False, flipped=frozenset())
        work = partial(self._hit_work, self._hit_generation, source, order, self.last_query, ml.current_id, step)
        self.run_worker(work, name="next hit", group="search-hit", exclusive=True, thread=True, exit_on_error=False)

    def _hit_work(
        self, generation: int, source: Any, order: ListOrder, query: str, start: int | None, step: int
    ) -> None:
        """In a worker: the folder's order and the hits (both can take a while at 100k), then the next hit."""
        from ..search.query import QueryError  # the query language loads with the first search

        cache = self.manager.cache(source.account)
        try:
            hits = set(cache.ids(source.folder_id, query))
        except QueryError as e:
            self.call_from_thread(self.notify, clean_line(str(e)), title="Search", severity="warning", markup=False)
            return
        except Exception:
            log.exception("next hit %r", query)
            self.call_from_thread(self.notify, "The search failed; see the log.", markup=False)
            return
        where, params = ("folder_id=?", (source.folder_id,)) if source.folder_id is not None else ("1", ())
        ids = [
            r[0]
            for r in cache.conn.execute(f"SELECT id FROM messages WHERE {where} ORDER BY {order_by(order)}", params)
        ]
        here = ids.index(start) if start in ids else (-1 if step > 0 else len(ids))
        found, wrapped = None, False
        for k in range(1, len(ids) + 1):
            index = here + step * k
            if not 0 <= index < len(ids):
                wrapped = True
            candidate = ids[index % len(ids)]
            if candidate in hits:
                found = candidate
                break
        self.call_from_thread(self._hit_found, generation, source, query, found, wrapped)

    def _hit_found(self, generation: int, source: Any, query: str, found: int | None, wrapped: bool) -> None:
        ml = self.message_list
        if generation != self._hit_generation or ml.source is None or ml.source.folder_id != source.folder_id:
            return
        if found is None:
            self.notify(f"No message here matches {clean_line(query)!r}.", markup=False, timeout=3)
            return
        row = ml.source.cache.message(found)
        if row is not None and row.thread_id is not None and ml.source.folds(row) and self._head_of(row) != found:
            if not hasattr(self, "_flipped"):
                self._flipped = {}
            key = (ml.source.account, ml.source.folder_id)
            self._flipped[key] = self._flipped.get(key, frozenset()) ^ {row.thread_id}  # show the hit in its thread
            self._reshow(found)
        else:
            pos = ml.position_in(ml.source, found)
            if pos is not None:
                ml.cursor = pos
        if wrapped:
            self.notify("Search wrapped around.", markup=False, timeout=2)

    # -- command palette ----------------------------------------------------------------------------------------

    def thread_commands(self) -> Iterator[SystemCommand]:
        yield SystemCommand("Toggle threads", "Group the message list by thread (t)", self.action_toggle_threads)
        yield SystemCommand(
            "Collapse/expand thread", "Show the thread as one row, or all of it (-)", self.action_fold_thread
        )
        yield SystemCommand(
            "Collapse/expand all threads", "Every thread as one row, or expanded (_)", self.action_fold_all
        )
        yield SystemCommand(
            "Mark thread read", "Every message of the thread in this folder (ctrl+r)", self.action_thread_read
        )
        yield SystemCommand(
            "Delete thread", "Every message of the thread in this folder (ctrl+d)", self.action_thread_delete
        )
        yield SystemCommand("Move thread", "Every message of the thread in this folder (M)", self.action_thread_move)
        for key in SORTS:
            yield SystemCommand(f"Sort by {SORT_NAMES[key]}", "Order the message list (o)", partial(self.set_sort, key))
        yield SystemCommand("Reverse sort order", "Oldest first, Z to A, smallest first (O)", self.action_sort_reverse)


def _messages(n: int) -> str:
    return f"{n} message{'s' if n != 1 else ''}"
