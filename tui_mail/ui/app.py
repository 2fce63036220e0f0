"""MailApp: the three-pane main view over the cache, account switching, actions and background sync workers."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from ..config import AccountConfig, Config
from ..models import Folder, MessageRow, Role
from ..store.cache import Cache
from .attachments import AttachmentActions
from .background import while_open
from .bindings import APP_BINDINGS
from .compose_actions import HAS_COMPOSE, ComposeActions
from .keymap import known_ids, resolve
from .local_actions import LocalActions
from .mail_io_palette import MailIoProvider
from .outbox_actions import OutboxActions
from .palette import AccountProvider
from .screens.folder_picker import CREATE, FolderPickerScreen
from .screens.help import HelpScreen
from .screens.main_screen import MainScreen
from .screens.outbox import OutboxScreen, is_draft, outbox_count
from .screens.reader_screen import ReaderScreen
from .search import SEARCH_PLACEHOLDER, SearchActions, SearchInput
from .tagging import Tagging
from .threads_view import ThreadsView
from .unified import UnifiedInbox
from .widgets.folder_pane import AccountFolders, FolderPane, folder_title
from .widgets.key_footer import KeyFooter
from .widgets.message_list import ListSource, MessageList
from .widgets.reader import ReaderView
from .widgets.safe_text import clean_line
from .widgets.status_bar import StatusBar, SyncState

if TYPE_CHECKING:
    from ..accounts import AccountManager

# The composer and the setup screen are imported on first use (they are not needed to paint the first screen).
HAS_SETUP = importlib.util.find_spec(f"{__package__}.screens.setup") is not None


def setup_screen(config_path: Path) -> Screen[Any]:
    from .screens.setup import SetupScreen

    return SetupScreen(config_path)


log = logging.getLogger(__name__)

MESSAGE_ACTIONS = {"reply", "reply_all", "forward", "delete", "move", "flag", "toggle_read"}
SEND_ACTIONS = {"compose", "reply", "reply_all", "forward"}
HELP_NOISE = {"scroll_left", "scroll_right", "page_left", "page_right"}
MAIN_ONLY_ACTIONS = {
    "account",
    "next_account",
    "previous_account",
    "filter",
    "toggle_reader",
    "toggle_folders",
    "tag",
    "tag_range",
    "tag_matching",
    "goto_folder",
    "pending",
    *("toggle_threads", "fold_thread", "fold_all", "sort", "sort_reverse", "search_next", "search_previous"),
    "unified",
}
FOLDER_PANE_MIN_WIDTH = 100  # below this terminal width the folder pane hides itself (b shows it)


@dataclass(slots=True)
class AccountView:
    """What each account remembers while another one is shown: folder, selection, scroll, filter."""

    folder_id: int | None = None
    selected: int | None = None
    cursor: int = 0
    scroll_y: int = 0
    query: str = ""  # the search narrowing the list ("" = none)
    search_all: bool = False  # the search covers every folder of the account, not only folder_id
    include: tuple[int, ...] = ()  # rows the same search found on the IMAP server
    counted: int | None = None  # the list's length as a search worker just counted it (used once)


class MailApp(
    UnifiedInbox, AttachmentActions, SearchActions, Tagging, ThreadsView, OutboxActions, LocalActions, ComposeActions
):
    """The mail client."""

    CSS_PATH = "tui_mail.tcss"
    TITLE = "tui-mail"
    BINDINGS = APP_BINDINGS
    COMMANDS = App.COMMANDS | {AccountProvider, MailIoProvider}
    COMMAND_PALETTE_BINDING = "ctrl+k"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        config: Config,
        manager: AccountManager | Any,
        *,
        config_error: str | None = None,
        config_path: Path | None = None,
        sync_on_start: bool = True,
        show_clock: bool = True,
        preview_delay: float = 0.15,
        opener: Callable[[Path], None] | None = None,
        push: bool = True,
        cursor_blink: bool | None = None,
    ) -> None:
        super().__init__()
        self.push = push
        self.cursor_blink = config.ui.cursor_blink if cursor_blink is None else cursor_blink
        self._stop = threading.Event()
        self.config = config
        self.manager = manager
        self.config_error = config_error
        self.config_path = config_path
        self.sync_on_start = sync_on_start
        self.show_clock = show_clock
        self.preview_delay = preview_delay
        self.opener = opener  # None: [openers], mailcap, then xdg-open (tests pass their own)
        self.threaded = config.ui.threads
        self.sort_key, self.sort_reverse = config.ui.sort, config.ui.sort_reverse
        self.current = 0
        self.views: dict[str, AccountView] = {}
        self.sync_states: dict[str, SyncState] = {}
        self._preview_timer: Timer | None = None
        self._push_timers: dict[str, Timer] = {}
        self._poll_timers: dict[str, Timer] = {}
        self._push_workers: set[str] = set()
        self._folders: dict[str, list[Folder]] = {}
        self._body_waiters: dict[tuple[str, int], list[Callable[[bytes], None]]] = {}
        self._last_progress_reload = 0.0
        self._had_target: bool | None = None
        self._folders_wanted: bool | None = None  # None: shown when the terminal is wide enough
        self._init_accounts()

    def _init_accounts(self) -> None:
        for acc in self.accounts:
            self.views.setdefault(acc.name, AccountView())
            state = self.sync_states.setdefault(acc.name, SyncState())
            last = getattr(self.manager, "last_sync", None)
            if callable(last):
                try:
                    state.last_synced = last(acc.name)
                except Exception:
                    log.debug("last_sync unavailable", exc_info=True)

    # -- structure -----------------------------------------------------------------------------------------------

    @property
    def accounts(self) -> tuple[AccountConfig, ...]:
        return self.config.accounts

    @property
    def account(self) -> AccountConfig | None:
        return self.accounts[self.current] if self.accounts else None

    def cache(self, account: str) -> Cache:
        return self.manager.cache(account)  # type: ignore[no-any-return]

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(id="_default")

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield FolderPane(id="folders")
            with Vertical(id="main"):
                yield SearchInput(placeholder=SEARCH_PLACEHOLDER, id="filter")
                yield MessageList(date_format=self.config.ui.date_format, id="messages")
                yield ReaderView(date_format=self.config.ui.date_format, id="reader")
        yield StatusBar(show_clock=self.show_clock, id="status")
        yield KeyFooter()

    @property
    def message_list(self) -> MessageList:
        return self.query_one("#messages", MessageList)

    @property
    def folder_pane(self) -> FolderPane:
        return self.query_one("#folders", FolderPane)

    @property
    def reader(self) -> ReaderView:
        return self.query_one("#reader", ReaderView)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def main_screen(self) -> Screen[Any]:
        return self.screen_stack[0]

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """`[ui] cursor_blink = false` (and the snapshot tests) keep every text cursor steady."""
        if not self.cursor_blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def on_mount(self) -> None:
        self._apply_keymap()
        self._fit_folder_pane()
        try:
            self.theme = self.config.ui.theme
        except Exception:
            self.notify(f"Unknown theme {self.config.ui.theme!r}; using the default.", severity="warning", markup=False)
        self.reader.display = self.config.ui.preview_pane
        self.reader.clear()
        if self.config_error:
            self.notify(clean_line(self.config_error), title="Config error", severity="error", timeout=30, markup=False)
        self.report_broken_accounts()
        if not self.accounts:
            self.refresh_folders()
            self.update_status()
            if HAS_SETUP and self.config_path is not None and not self.config_error:
                self.push_screen(setup_screen(self.config_path), self._setup_done)
            return
        self.switch_account(0)
        self.message_list.focus()
        # The cache is on screen first: the syncs' threads would compete with the first paint for the interpreter.
        self.call_after_refresh(self.start_background_work)

    def _apply_keymap(self) -> None:
        """The `[ui] keys` preset and the user's [keymap]; an id that names no binding is one clear sentence."""
        if not self.config.keymap and self.config.ui.keys == "default":
            return
        keymap, unknown = resolve(self.config.ui.keys, self.config.keymap, known_ids())
        if keymap:
            self.set_keymap(keymap)
        for given in unknown:
            self.notify(
                f"[keymap] {given!r} is not a binding id; press ? to see the ids.",
                title="Config error",
                severity="error",
                timeout=30,
                markup=False,
            )

    def on_resize(self, event: events.Resize) -> None:
        self._fit_folder_pane()

    def _fit_folder_pane(self) -> None:
        try:
            pane = self.folder_pane
        except NoMatches:
            return
        wanted = self._folders_wanted
        show = wanted if wanted is not None else self.size.width >= FOLDER_PANE_MIN_WIDTH
        if pane.display != show:
            if not show and pane.has_focus:
                self.message_list.focus()
            pane.display = show

    def action_toggle_folders(self) -> None:
        """b: hide or show the folder pane (it hides itself on narrow terminals until shown with b)."""
        self._folders_wanted = not self.folder_pane.display
        self._fit_folder_pane()

    def action_goto_folder(self) -> None:
        """Go to a folder of the current account by typing part of its name."""
        acc = self.account
        if acc is None:
            return
        folders = self.cache(acc.name).folders()
        index = self.current

        def chosen(folder_id: int | None) -> None:
            if folder_id is not None:
                self.open_folder(index, folder_id)

        self.push_screen(FolderPickerScreen(folders, title="Go to folder"), chosen)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self._stop.set()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        self._stop.set()

    def _setup_done(self, config: Config | None) -> None:
        """The setup screen wrote a config: open its accounts (the manager is rebuilt for the new config)."""
        if config is None or not config.accounts:
            if not self.accounts:
                self.notify("No account yet: press ctrl+k and choose 'Add an account', or q to quit.", markup=False)
            return
        from ..accounts import AccountManager

        self._save_view()
        self.config = config
        self.manager = AccountManager(
            config,
            data_dir=getattr(self.manager, "_data_dir", None),
            offline=bool(getattr(self.manager, "offline", False)),
        )
        self._init_accounts()
        self.switch_account(len(self.accounts) - 1)
        self.message_list.focus()
        for acc in self.accounts:
            if acc.name not in self._poll_timers:
                self._poll_timers[acc.name] = self.set_interval(
                    max(10, acc.poll_interval), partial(self.start_sync, acc.name, True)
                )
            self.start_sync(acc.name, quiet=True)
        self._start_push_workers()

    # -- accounts and folders --------------------------------------------------------------------------------------

    def _default_folder(self, cache: Cache) -> int | None:
        inbox = cache.folder_by_role(Role.INBOX)
        if inbox is not None:
            return inbox.id
        folders = cache.folders()
        return folders[0].id if folders else None

    def _save_view(self) -> None:
        name = self.view_name
        if name is None:
            return
        view = self.views[name]
        ml = self.message_list
        if ml.source is not None and ml.source.account == name:
            view.folder_id = ml.source.folder_id
            view.cursor = ml.cursor
            view.scroll_y = round(ml.scroll_offset.y)
            view.selected = ml.current_id

    def switch_account(self, index: int) -> None:
        """Show account number index (0-based) where it was left: folder, selection, scroll, filter."""
        if not 0 <= index < len(self.accounts):
            return
        if self.screen is not self.main_screen:
            return
        self._save_view()
        self.unified_on = False
        self.current = index
        name = self.accounts[index].name
        view = self.views[name]
        cache = self.cache(name)
        if view.folder_id is None or _missing_folder(cache, view.folder_id):
            view.folder_id, view.cursor, view.scroll_y, view.selected = self._default_folder(cache), 0, 0, None
        self._show_folder(name, view)
        self.refresh_folders()
        self.update_status()
        self.refresh_bindings()

    def _show_folder(self, account: str, view: AccountView) -> None:
        ml = self.message_list
        if view.folder_id is None:
            ml.set_source(None)
            self.reader.clear(self.no_folders_text(account))
            return
        cache = self.list_cache(account)
        folder_id = None if view.search_all and view.query else view.folder_id
        order = self.list_order(account, folder_id)
        source = ListSource(
            account, cache, folder_id, threaded=self.threaded, query=view.query, include=view.include, order=order
        )
        cursor = view.cursor
        if view.selected is not None:
            pos = ml.position_in(source, view.selected)
            if pos is not None:
                cursor = pos
        counted, view.counted = view.counted, None
        if counted is None and not (view.selected is not None or cursor):
            counted = self.estimate_rows(source)
        ml.set_source(source, cursor=cursor, scroll_y=view.scroll_y, row_count=counted)
        self.label_rows(source)
        self._schedule_preview()

    def open_folder(self, account_index: int, folder_id: int) -> None:
        self.leave_unified()
        if account_index != self.current:
            self.switch_account(account_index)
        name = self.accounts[self.current].name
        view = self.views[name]
        if view.folder_id != folder_id:
            view.folder_id, view.cursor, view.scroll_y, view.selected, view.query = folder_id, 0, 0, None, ""
        self._prefer_open_folder(name)
        self._show_folder(name, view)
        self.refresh_folders()
        self.update_status()
        self.message_list.focus()

    def refresh_folders(self) -> None:
        groups = []
        for acc in self.accounts:
            try:
                folders = self.cache(acc.name).folders()
            except Exception:
                log.exception("reading folders of %s", acc.name)
                folders = []
            groups.append(AccountFolders(acc.name, folders, acc.name, outbox_count(self.cache(acc.name))))
            self._folders[acc.name] = folders
        current = None
        if self.account is not None and self.views[self.account.name].folder_id is not None and not self.unified_on:
            current = (self.current, self.views[self.account.name].folder_id or 0)
        self.folder_pane.show(groups, current, unified=self.unified_unread(), unified_current=self.unified_on)

    def _current_folder_title(self) -> str:
        acc = self.account
        if acc is None:
            return ""
        folder_id = self.views[acc.name].folder_id
        for folder in self._folders.get(acc.name, []):
            if folder.id == folder_id:
                return folder_title(folder)
        return ""

    def update_status(self) -> None:
        acc = self.account
        if acc is None:
            self.status.show_state("no accounts", "", SyncState(error=self.config_error or ""), 0)  # kept, not a toast
            return
        if self.unified_on:
            self.unified_status()
            return
        try:
            pending = self.cache(acc.name).pending_count()
        except Exception:
            pending = 0
        others = sum(1 for n, s in self.sync_states.items() if s.syncing and n != acc.name)
        self.message_list.set_loading(self.sync_states[acc.name].syncing)
        self.status.show_state(
            acc.name,
            self._current_folder_title(),
            self.sync_states[acc.name],
            pending,
            self.views[acc.name].query,
            others,
            storage=self._storage(acc.name),
            order=self.order_label(),
        )

    def _storage(self, account: str) -> tuple[str, bool]:
        from ..storage import status_storage

        try:
            return status_storage(self.cache(account))
        except Exception:  # a figure in the status line is never worth an error
            return "", False

    @on(FolderPane.OutboxChosen)
    def _outbox_chosen(self, event: FolderPane.OutboxChosen) -> None:
        if 0 <= event.account_index < len(self.accounts):
            name = self.accounts[event.account_index].name
            self.push_screen(OutboxScreen(self.manager, name), self._compose_done)

    @on(FolderPane.FolderChosen)
    def _folder_chosen(self, event: FolderPane.FolderChosen) -> None:
        self.open_folder(event.account_index, event.folder_id)

    # -- the list and the reader pane ------------------------------------------------------------------------------

    @on(MessageList.Highlighted)
    @while_open
    def _highlighted(self, event: MessageList.Highlighted) -> None:
        name = self.view_name
        if name is not None:
            self.views[name].selected = event.message_id
        self.unified_cursor_moved()
        has_target = event.message_id is not None
        if has_target != self._had_target:
            self._had_target = has_target
            self.refresh_bindings()
        self._schedule_preview()

    def _schedule_preview(self) -> None:
        if not self.reader.display:
            return
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview_timer = None
        if self.preview_delay <= 0:
            self._update_preview()
        else:
            self._preview_timer = self.set_timer(self.preview_delay, self._update_preview)

    def _update_preview(self) -> None:
        self._preview_timer = None
        if not self.is_running:
            return
        try:
            ml = self.message_list
        except NoMatches:  # shutting down
            return
        row = ml.current_row
        if row is None or ml.source is None:
            self.reader.clear(self.empty_reader_text(no_folder=ml.source is None))
            return
        account, row = self.resolve_row(ml.source.account, row)
        self.reader.show_message(account, row, self.cache(account), partial(self.fetch_body, account, row.id))

    @on(MessageList.Selected)
    def _selected(self, event: MessageList.Selected) -> None:
        source = self.message_list.source
        row = self.message_list.current_row
        if source is None or row is None or row.id != event.message_id:
            return
        account, row = self.resolve_row(source.account, row)
        self.open_message(account, row.id)

    def open_message(self, account: str, message_id: int) -> None:
        """Full-screen reader; marks the message read (queued to the server). A draft opens in compose."""
        cache = self.cache(account)
        row = cache.message(message_id)
        if row is None:
            return
        if HAS_COMPOSE and is_draft(cache, row):
            self.edit_draft(account, row)
            return
        self.push_screen(ReaderScreen(account, row, None, date_format=self.config.ui.date_format))  # reads the body
        if not row.seen:
            self.run_action_worker(account, "read", lambda: self.manager.mark_read(account, [message_id], True))

    # -- actions ---------------------------------------------------------------------------------------------------

    def _target(self) -> tuple[str, MessageRow] | None:
        """The message an action applies to: the open one in the full-screen reader, else the list's cursor."""
        screen = self.screen
        if isinstance(screen, ReaderScreen):
            row = self.cache(screen.account).message(screen.row.id)
            return (screen.account, row) if row is not None else None
        if screen is not self.main_screen:
            return None
        ml = self.message_list
        row = ml.current_row
        if row is None or ml.source is None:
            return None
        return self.resolve_row(ml.source.account, row)

    def _target_account(self) -> AccountConfig | None:
        screen = self.screen
        if isinstance(screen, ReaderScreen):
            return self.config.account(screen.account)
        if self.unified_on:
            return self.unified_target_account()
        return self.account

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_ONLY_ACTIONS and self.screen is not self.main_screen:
            return False
        if action == "account":
            return bool(parameters) and isinstance(parameters[0], int) and parameters[0] < len(self.accounts)
        if action in ("next_account", "previous_account", "unified"):
            return len(self.accounts) > 1
        if action in ("sync", "filter", "compose") and not self.accounts:
            return False
        acc = self._target_account()
        if action in SEND_ACTIONS:
            if not HAS_COMPOSE or acc is None or acc.smtp is None:
                return False
        if action == "move" and acc is not None:
            if not self.manager.capabilities(acc.name).move:
                return False
        if action == "undo_send":
            return self._undo_offer is not None
        if action == "edit_draft":
            target = self._target()
            return HAS_COMPOSE and target is not None and is_draft(self.cache(target[0]), target[1])
        if action in MESSAGE_ACTIONS:
            return None if self._target() is None else True
        return True

    def action_account(self, index: int) -> None:
        self.switch_account(index)

    def action_next_account(self) -> None:
        if self.accounts:
            self.switch_account((self.current + 1) % len(self.accounts))

    def action_previous_account(self) -> None:
        if self.accounts:
            self.switch_account((self.current - 1) % len(self.accounts))

    async def action_back(self) -> None:
        if self.screen is not self.main_screen:
            return
        filter_input = self.query_one("#filter", Input)
        name = self.view_name
        if filter_input.has_class("-shown"):
            filter_input.remove_class("-shown")
            filter_input.value = ""
            self.message_list.focus()
            return
        if self.clear_tags():
            return
        if name is not None and self.views[name].query:
            self._apply_filter("")
            return
        if self.focused is not self.message_list and self.accounts:
            self.message_list.focus()
        # Escape never quits the app from the main view: q and Ctrl+Q do.

    async def action_quit(self) -> None:
        self.exit(0)

    def action_sync(self) -> None:
        if self.unified_on and self.screen is self.main_screen:
            self._sync_all()
            return
        acc = self._target_account()
        if acc is not None:
            if self.sync_states[acc.name].syncing:
                self.notify(f"{acc.name} is already syncing.", markup=False)
            self.start_sync(acc.name)

    def action_toggle_reader(self) -> None:
        self.reader.display = not self.reader.display
        if self.reader.display:
            self._schedule_preview()

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        name = self.view_name
        filter_input.value = self.views[name].query if name else ""
        filter_input.add_class("-shown")
        filter_input.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.submit_search(event.value.strip()):
            event.input.remove_class("-shown")
            self.message_list.focus()

    def _apply_filter(
        self, query: str, *, include: tuple[int, ...] = (), keep_cursor: bool = False, counted: int | None = None
    ) -> None:
        name = self.view_name
        if name is None:
            return
        view = self.views[name]
        view.counted = counted
        if not keep_cursor:
            view.cursor, view.scroll_y, view.selected = 0, 0, None
        view.query, view.include = query, include
        self.last_query = query or self.last_query
        if not query:
            view.search_all = False
        self._show_folder(name, view)
        self.update_status()

    def action_help(self) -> None:
        rows: list[tuple[str, str, str]] = []
        seen: dict[tuple[str, str], int] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.system or binding.action in HELP_NOISE:
                continue
            label = self.get_key_display(binding.with_key(key))
            ident = (binding.action, binding.description)
            if ident in seen:
                k, d, i = rows[seen[ident]]
                rows[seen[ident]] = (f"{k}, {label}", d, i or binding.id or "")
            else:
                seen[ident] = len(rows)
                rows.append((label, binding.description, binding.id or ""))
        self.push_screen(HelpScreen(rows))

    def action_delete(self) -> None:
        if self.apply_to_tagged("delete") or self.apply_to_folded("delete"):
            return
        target = self._target()
        if target is None:
            return
        account, row = target

        def delete() -> None:
            if isinstance(self.screen, ReaderScreen):
                self.screen.dismiss(None)
            self.run_action_worker(account, "delete", lambda: self.manager.delete(account, [row.id]))

        self.confirm_delete_for_good(account, [row], delete)

    def action_flag(self) -> None:
        if self.apply_to_tagged("flag") or self.apply_to_folded("flag"):
            return
        target = self._target()
        if target is None:
            return
        account, row = target
        self.run_action_worker(account, "flag", lambda: self.manager.flag(account, [row.id], not row.flagged))

    def action_toggle_read(self) -> None:
        if self.apply_to_tagged("toggle_read") or self.apply_to_folded("toggle_read"):
            return
        target = self._target()
        if target is None:
            return
        account, row = target
        self.run_action_worker(account, "mark", lambda: self.manager.mark_read(account, [row.id], not row.seen))

    def action_move(self) -> None:
        if self.tagged_rows() is None and self.apply_to_folded("move"):
            return
        target = self._target()
        if target is None or self.tags_span_accounts():
            return
        account, row = target
        tagged = self.tagged_rows()
        exclude: int | None = row.folder_id
        if tagged is not None and tagged[0] != account:  # the unified inbox: the tags are in another account
            account, exclude = tagged[0], None
        folders = self.cache(account).folders()

        picker = FolderPickerScreen(folders, exclude=exclude, can_create=True)

        def chosen(folder_id: int | None) -> None:
            if folder_id is None:
                return
            if folder_id == CREATE:
                rows = tagged[1] if tagged is not None else [row]
                self._move_to_new_folder(account, [r.id for r in rows], picker.new_name, tagged is not None)
                return
            if tagged is not None and self.apply_to_tagged("move", folder_id):
                return
            if isinstance(self.screen, ReaderScreen):
                self.screen.dismiss(None)
            self.run_action_worker(account, "move", lambda: self.manager.move(account, [row.id], folder_id))

        self.push_screen(picker, chosen)

    def _move_to_new_folder(self, account: str, ids: list[int], name: str, untag: bool) -> None:
        """Create the folder (on the server for IMAP) in a worker, then move the messages into it."""
        if isinstance(self.screen, ReaderScreen):
            self.screen.dismiss(None)
        if untag:
            self.message_list.tagged.clear()
            self.message_list.refresh_tags()

        def work() -> None:
            folder_id = self.manager.create_folder(account, name)
            self.manager.move(account, ids, folder_id)

        self.run_action_worker(account, "move", work)

    # -- command palette -------------------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Sync all accounts", "Fetch new mail for every account", self._sync_all)
        yield from self.thread_commands()
        if HAS_COMPOSE and self.accounts:
            yield SystemCommand(
                "Recall a draft", "Reopen the newest draft in compose (mutt's recall)", self.recall_draft
            )
        yield SystemCommand("Toggle reader pane", "Show or hide the preview under the list", self.action_toggle_reader)
        if HAS_SETUP and self.config_path is not None:
            yield SystemCommand(
                "Add an account",
                "Open the account setup",
                lambda: self.push_screen(setup_screen(self.config_path), self._setup_done),
            )

    def _sync_all(self) -> None:
        for acc in self.accounts:
            self.start_sync(acc.name)


def _missing_folder(cache: Cache, folder_id: int) -> bool:
    try:
        cache.folder(folder_id)
    except KeyError:
        return True
    return False


def run_app(
    config: Config,
    manager: AccountManager,
    *,
    config_error: str | None = None,
    config_path: Path | None = None,
) -> int:
    """Run the UI until the user quits; returns the process exit code."""
    app = MailApp(config, manager, config_error=config_error, config_path=config_path)
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code or 0
