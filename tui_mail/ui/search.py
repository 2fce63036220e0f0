"""Search in the UI: `/` narrows the list as you type (the query counted in a worker, stale answers dropped), Enter
runs it on the IMAP server too, ctrl+a widens it from the folder on screen to the whole account."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from ..config import AccountConfig
from ..errors import MailError
from ..models import Role
from ..store.cache import Cache
from .background import while_open
from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from .widgets.message_list import MessageList

log = logging.getLogger(__name__)

SEARCH_PLACEHOLDER = (
    'Search: words "phrases" from: to: subject: is:unread has:attachment in:FOLDER newer_than:7d … '
    "· Enter: also on the server · ctrl+a: all folders · Escape: close"
)
OFFLINE_NOTE = "Offline: searched the downloaded mail only."
DEBOUNCE = 0.2  # seconds after the last keystroke before the query runs


def live_query(text: str) -> str:
    """While typing, the last word is a prefix (`zur` finds Zürich) unless it is quoted or a non-text field."""
    text = text.strip()
    if not text or not text[-1].isalnum() or text.count('"') % 2:
        return text
    last = text.split()[-1].lstrip("-(")
    from ..search.query import TEXT_FIELDS  # the query language loads with the first search, not at start-up

    if ":" in last and last.split(":", 1)[0].lower() not in TEXT_FIELDS:
        return text
    return text + "*"


class SearchCounted(Message):
    """A live query was counted in a worker (error: the query is malformed, one sentence)."""

    def __init__(self, generation: int, account: str, query: str, error: str | None, count: int | None = None) -> None:
        super().__init__()
        self.generation, self.account, self.query, self.error, self.count = generation, account, query, error, count


class ServerSearched(Message):
    """The IMAP server answered a search: rows found there (now cached) and notes for the user. view: the view the
    search was made in (the account's, or the unified inbox: its answers come one account at a time)."""

    def __init__(
        self, generation: int, account: str, query: str, ids: list[int], notes: list[str], view: str = ""
    ) -> None:
        super().__init__()
        self.generation, self.account, self.query, self.ids, self.notes = generation, account, query, ids, notes
        self.view = view or account


class SearchActions(App[int]):
    """Mixed into MailApp: the search box and its workers."""

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any
        views: dict[str, Any]

        @property
        def account(self) -> AccountConfig | None: ...
        @property
        def accounts(self) -> tuple[AccountConfig, ...]: ...
        @property
        def view_name(self) -> str | None: ...
        def list_cache(self, name: str) -> Any: ...
        @property
        def message_list(self) -> MessageList: ...
        def cache(self, account: str) -> Cache: ...
        def update_status(self) -> None: ...
        def _apply_filter(
            self, query: str, *, include: tuple[int, ...] = (), keep_cursor: bool = False, counted: int | None = None
        ) -> None: ...

    _search_generation = 0
    _search_timer: Timer | None = None

    def _next_generation(self) -> int:
        self._search_generation += 1
        return self._search_generation

    @on(Input.Changed, "#filter")
    def _search_typed(self, event: Input.Changed) -> None:
        if not event.input.has_class("-shown"):
            return
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(DEBOUNCE, partial(self._search_live, event.value))

    def _search_live(self, text: str) -> None:
        self._search_timer = None
        name = self.view_name
        if name is None:
            return
        query = live_query(text)
        generation = self._next_generation()
        if not query:
            self._apply_filter("")
            return
        view = self.views[name]
        folder_id = None if view.search_all else view.folder_id
        self.run_worker(
            partial(self._count_work, generation, name, folder_id, query),
            name="search",
            group=f"search-{name}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _count_work(self, generation: int, account: str, folder_id: int | None, query: str) -> None:
        """In a worker: parse and count (an FTS query over a large folder is not for the UI thread)."""
        from ..search.query import QueryError

        try:
            count = self.list_cache(account).count(folder_id, query)
        except QueryError as e:
            self.post_message(SearchCounted(generation, account, query, str(e)))
        except Exception:
            log.exception("search %r", query)
            self.post_message(SearchCounted(generation, account, query, "The search failed; see the log."))
        else:
            self.post_message(SearchCounted(generation, account, query, None, count))

    @on(SearchCounted)
    @while_open
    def _search_counted(self, event: SearchCounted) -> None:
        if event.generation != self._search_generation or self.view_name != event.account:
            return  # a newer keystroke or another account: this answer is stale
        if event.error is None:
            self._apply_filter(event.query, counted=event.count)

    def submit_search(self, text: str) -> bool:
        """Enter in the search box: the exact query (no live prefix). A malformed one is said in one sentence and
        the box stays open; a good one also runs on the IMAP server when the account can."""
        acc = self.account
        name = self.view_name
        if acc is None or name is None:
            return True
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        generation = self._next_generation()
        if not text:
            self._apply_filter("")
            return True
        from ..search.query import QueryError, parse

        try:
            parse(text)
        except QueryError as e:
            self.notify(clean_line(str(e)), title="Search", severity="warning", markup=False)
            return False
        self._apply_filter(text)
        if name != acc.name:  # the unified inbox: each IMAP account's server, in its own worker
            self._unified_server_search(generation, name, text)
            return True
        caps = self.manager.capabilities(acc.name)
        if getattr(caps, "server_search", False) and self._offline(acc.name):
            self.notify(OFFLINE_NOTE, title="Search", markup=False)
        elif getattr(caps, "server_search", False):
            view = self.views[acc.name]
            folder_id = None if view.search_all else view.folder_id
            self.run_worker(
                partial(self._server_work, generation, acc.name, folder_id, text),
                name="server search",
                group=f"server-search-{acc.name}",
                exclusive=True,
                thread=True,
                exit_on_error=False,
            )
        return True

    def _unified_server_search(self, generation: int, view_name: str, text: str) -> None:
        """Enter in the unified inbox: the search also runs on each IMAP account's server (its Inbox, or every
        folder with ctrl+a), one worker per account; each answer is merged into the list as it comes."""
        view = self.views[view_name]
        offline = False
        for acc in self.accounts:
            if not getattr(self.manager.capabilities(acc.name), "server_search", False):
                continue
            if self._offline(acc.name):
                offline = True
                continue
            folder_id = None
            if not view.search_all:
                inbox = self.cache(acc.name).folder_by_role(Role.INBOX)
                if inbox is None:
                    continue
                folder_id = inbox.id
            self.run_worker(
                partial(self._server_work, generation, acc.name, folder_id, text, view_name),
                name="server search",
                group=f"server-search-{view_name}-{acc.name}",
                exclusive=True,
                thread=True,
                exit_on_error=False,
            )
        if offline:
            self.notify(OFFLINE_NOTE, title="Search", markup=False)

    def _offline(self, account: str) -> bool:
        """No server to ask: started offline, or the last sync found the network unreachable."""
        state = getattr(self, "sync_states", {}).get(account)
        return bool(getattr(self.manager, "offline", False) or (state is not None and state.offline))

    def _server_work(self, generation: int, account: str, folder_id: int | None, query: str, view: str = "") -> None:
        try:
            hits = self.manager.server_search(account, query, folder_id)
        except MailError as e:
            self.post_message(
                ServerSearched(generation, account, query, [], [f"Searched the downloaded mail only: {e}"], view)
            )
        except Exception:
            log.exception("server search %r", query)
            self.post_message(
                ServerSearched(generation, account, query, [], ["The server search failed; see the log."], view)
            )
        else:
            self.post_message(ServerSearched(generation, account, query, hits.message_ids, hits.notes, view))

    @on(ServerSearched)
    @while_open
    def _server_searched(self, event: ServerSearched) -> None:
        if event.view != event.account:
            self._unified_server_searched(event)
            return
        view = self.views.get(event.account)
        if view is None or view.query != event.query:
            return  # the user searched for something else meanwhile
        for note in event.notes:
            self.notify(clean_line(note), title="Search", markup=False)
        acc = self.account
        if not event.ids or acc is None or acc.name != event.account or self.view_name != acc.name:
            return
        before = self.message_list.row_count
        self._apply_filter(event.query, include=tuple(event.ids), keep_cursor=True)
        more = self.message_list.row_count - before
        if more > 0:
            self.notify(f"{more} more found on the server.", title="Search", markup=False)

    def _unified_server_searched(self, event: ServerSearched) -> None:
        """One account answered a search of the unified inbox: its hits join the list (no duplicates); an answer
        for an older search, scope or view is dropped."""
        view = self.views.get(event.view)
        if view is None or view.query != event.query or event.generation != self._search_generation:
            return
        for note in event.notes:
            self.notify(f"{clean_line(event.account)}: {clean_line(note)}", title="Search", markup=False)
        unified = getattr(self, "_unified", None)
        if not event.ids or unified is None or self.view_name != event.view:
            return
        found = [g for g in (unified.encode(event.account, i) for i in event.ids) if g is not None]
        include = tuple(dict.fromkeys((*view.include, *found)))
        if include == view.include:
            return
        before = self.message_list.row_count
        self._apply_filter(event.query, include=include, keep_cursor=True)
        more = self.message_list.row_count - before
        if more > 0:
            self.notify(f"{clean_line(event.account)}: {more} more found on the server.", title="Search", markup=False)

    def action_search_scope(self) -> None:
        """ctrl+a in the search box: the folder on screen <-> every folder of the account (of every account in
        the unified inbox)."""
        name = self.view_name
        if name is None:
            return
        view = self.views[name]
        view.search_all = not view.search_all
        self.notify("Searching all folders." if view.search_all else "Searching this folder.", markup=False)
        box = self.query_one("#filter", Input)
        if box.value.strip():
            self._search_live(box.value)
        else:
            self.update_status()


class SearchInput(Input):
    """The search box; ctrl+a switches between this folder and all folders (Home still goes to the start)."""

    BINDINGS = [Binding("ctrl+a", "app.search_scope", "All folders", id="search.scope")]
