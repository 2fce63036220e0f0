"""The app's background work: sync, IDLE push, body downloads and local actions in thread workers.

Workers never touch widgets: they post messages (tui_mail/ui/messages.py) that the handlers here turn into
notifications, status-line state and list reloads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial, wraps
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on
from textual.app import App, ScreenStackError
from textual.css.query import NoMatches
from textual.message import Message
from textual.timer import Timer

from ..config import AccountConfig, Config
from ..errors import ConnectError, MailError, is_offline
from ..models import SyncProgress
from ..store.cache import Cache
from ..store.lock import AccountBusy
from .connection import RECONNECT_DELAYS, ConnectionLost, reconnect_delay, record_failure, record_success
from .messages import (
    ActionDone,
    BodyFetched,
    Notice,
    PushNotified,
    RowsCounted,
    SyncFinished,
    SyncProgressed,
    SyncStarted,
)
from .screens.reader_screen import ReaderScreen
from .widgets.message_list import ESTIMATE_ROWS
from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from .widgets.message_list import ListSource, MessageList
    from .widgets.reader import ReaderView
    from .widgets.status_bar import SyncState

log = logging.getLogger(__name__)

FIRST_PAINT_WAIT = 0.3  # at most this long a sync waits for the UI to paint the first rows it stored (seconds)

INDEX_PROGRESS_FROM = 1_000  # a backlog this large shows its progress in the status line (a sync's few do not)
INDEX_PROGRESS_EVERY = 0.5  # seconds between progress messages


_Handler = TypeVar("_Handler", bound=Callable[..., None])


def while_open(handler: _Handler) -> _Handler:
    """A worker's report that arrives while the app closes finds no widgets to update: it is dropped, never raised
    (a closing app has nothing left to show; on an open app the error is real and goes on up)."""

    @wraps(handler)
    def report(self: App[Any], event: Message) -> None:
        try:
            handler(self, event)
        except (NoMatches, ScreenStackError):
            if self.is_running and not self._exit:
                raise

    return report  # type: ignore[return-value]


class IndexProgressed(Message):
    """The search index of an account filled some more (finished: the pass ended, indexed: how many it did)."""

    def __init__(self, account: str, done: int, total: int, finished: bool = False) -> None:
        super().__init__()
        self.account, self.done, self.total, self.finished = account, done, total, finished


class BackgroundWork(App[int]):
    """Mixed into MailApp: everything that runs off the UI thread, and the handlers of what it reports."""

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any
        config: Config
        push: bool
        views: dict[str, Any]
        unified_on: bool

        @property
        def view_name(self) -> str | None: ...

        sync_states: dict[str, SyncState]
        _stop: threading.Event
        _push_workers: set[str]
        _push_timers: dict[str, Timer]
        _body_waiters: dict[tuple[str, int], list[Callable[[bytes], None]]]
        _last_progress_reload: float
        _poll_timers: dict[str, Timer]
        sync_on_start: bool

        @property
        def accounts(self) -> tuple[AccountConfig, ...]: ...
        @property
        def account(self) -> AccountConfig | None: ...
        @property
        def message_list(self) -> MessageList: ...
        @property
        def reader(self) -> ReaderView: ...
        def cache(self, account: str) -> Cache: ...
        def update_status(self) -> None: ...
        def refresh_folders(self) -> None: ...
        def _default_folder(self, cache: Cache) -> int | None: ...
        def _show_folder(self, account: str, view: Any) -> None: ...
        def unified_changed(self, account: str) -> None: ...

    def _start_push_workers(self) -> None:
        """One long-lived IDLE worker per IMAP account with push, when online: new mail triggers a sync."""
        if not self.push or getattr(self.manager, "offline", False) or not hasattr(self.manager, "wait_for_new_mail"):
            return
        for acc in self.accounts:
            if acc.protocol == "imap" and acc.idle and acc.name not in self._push_workers:
                self._push_workers.add(acc.name)
                self.run_worker(
                    partial(self._push_work, acc.name, max(10, acc.poll_interval)),
                    name=f"push {acc.name}",
                    group=f"push-{acc.name}",
                    thread=True,
                    exit_on_error=False,
                )

    def _push_work(self, account: str, interval: float) -> None:
        """Runs in a worker thread until the app exits: wait on IMAP IDLE, post PushNotified on a change.

        A dropped IDLE connection is reported at once (ConnectionLost: "offline since HH:MM"); reconnecting is
        retried with backoff (5 s, 15 s, 60 s, then the poll interval), each attempt preceded by a quiet sync.
        """
        failures = 0
        delays = getattr(self, "reconnect_delays", RECONNECT_DELAYS)
        while not self._stop.is_set():
            try:
                changed = self.manager.wait_for_new_mail(account, interval, self._stop)
            except Exception as e:
                if not isinstance(e, MailError):
                    log.exception("IDLE of %s failed", account)
                failures += 1
                error = (
                    str(e) if isinstance(e, MailError) else f"Waiting for new mail in {account} failed; see the log."
                )
                self.post_message(ConnectionLost(account, error, is_offline(e)))
                if self._stop.wait(reconnect_delay(failures, interval, delays)):
                    return
                self.post_message(PushNotified(account))  # a sync that succeeds clears the offline mark
                continue
            if failures:
                failures = 0
                self.post_message(PushNotified(account))  # back: catch up on what arrived meanwhile
            elif changed and not self._stop.is_set():
                self.post_message(PushNotified(account))

    @on(ConnectionLost)
    @while_open
    def _connection_lost(self, event: ConnectionLost) -> None:
        state = self.sync_states.get(event.account)
        if state is None or state.syncing:
            return  # the running sync reports its own outcome
        if record_failure(state, event.error, event.offline):
            self.notify(clean_line(event.error), title=event.account, severity="error", markup=False)
        self.update_status()

    def report_broken_accounts(self) -> None:
        """An account whose settings are wrong keeps its sentence in the status line (and says it once)."""
        for name, error in self.config.broken.items():
            state = self.sync_states.get(name)
            if state is not None and record_failure(state, error, False):
                self.notify(clean_line(error), title=name, severity="error", timeout=30, markup=False)

    @on(PushNotified)
    def _push_notified(self, event: PushNotified) -> None:
        self.start_sync(event.account, quiet=True)

    def start_sync(self, account: str, quiet: bool = False) -> None:
        """Sync one account in a thread worker (exclusive per account); progress and result come back as messages."""
        state = self.sync_states.get(account)
        if state is None:
            return
        state.explicit = state.explicit or not quiet
        if state.syncing:
            return
        state.syncing, state.stage, state.done, state.total = True, "", 0, 0
        self.update_status()
        self._reshow_if_no_folders(account)
        self._prefer_open_folder(account)
        self.run_worker(
            partial(self._sync_work, account),
            name=f"sync {account}",
            group=f"sync-{account}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def no_folders_text(self, account: str) -> str:
        """What the reader says while an account has no folders: they are coming, or how to get them."""
        state = self.sync_states.get(account)
        if state is not None and state.syncing:
            return "Fetching the folder list…"
        return "No folders yet: press $ to sync."

    def empty_reader_text(self, no_folder: bool) -> str:
        """What the reader says with no message under the cursor (no folder on screen: whether folders are coming)."""
        acc = self.account
        if no_folder and acc is not None and not self.unified_on:
            return self.no_folders_text(acc.name)
        return "No message selected."

    def _reshow_if_no_folders(self, account: str) -> None:
        """The account on screen has no folders yet: say whether a sync is bringing them (it started or ended)."""
        acc = self.account
        if acc is None or acc.name != account or self.unified_on:
            return
        view = self.views.get(account)
        if view is not None and view.folder_id is None:
            self._show_folder(account, view)

    def _prefer_open_folder(self, account: str) -> None:
        """The folder on screen jumps the queue of a running (or the next) sync; this never blocks."""
        folder_id = self.views[account].folder_id
        if folder_id is None:
            return
        try:
            folder = self.cache(account).folder(folder_id)
        except KeyError:
            return
        self.manager.prefer_folder(account, folder.name)

    def _sync_work(self, account: str) -> None:
        """Runs in a worker thread: never touches widgets."""
        self.post_message(SyncStarted(account))
        last_post = 0.0
        last: tuple[str, int, int] = ("", 0, 0)
        painted: threading.Event | None = threading.Event()

        def progress(p: SyncProgress) -> None:
            nonlocal last_post, last, painted
            now = time.monotonic()
            # Coalesced, except a new stage, a new total (the folder list is stored) or newly stored rows: those
            # the UI shows at once.
            key = (p.stage, p.new_messages, p.total)
            if now - last_post >= 0.1 or p.stage == "done" or key != last:
                last_post, last = now, key
                if p.new_messages and painted is not None:
                    # The first rows this sync stored: let the UI paint them before the next chunk's parsing
                    # competes with it for the interpreter (a person is waiting for exactly this screen).
                    first, painted = painted, None
                    self.post_message(SyncProgressed(replace(p), first))
                    first.wait(FIRST_PAINT_WAIT)
                    return
                self.post_message(SyncProgressed(replace(p)))

        try:
            result = self.manager.sync(account, progress)
        except AccountBusy as e:  # a cron sync (say) has the account: the status line says so, no error toast
            self.post_message(SyncFinished(account, busy=e.short))
        except MailError as e:
            self.post_message(SyncFinished(account, error=str(e), offline=is_offline(e)))
        except Exception:
            log.exception("sync of %s failed", account)
            self.post_message(SyncFinished(account, error=f"Syncing {account} failed unexpectedly; see the log."))
        else:
            self.post_message(SyncFinished(account, result=result))

    @on(SyncStarted)
    @while_open
    def _sync_started(self, event: SyncStarted) -> None:
        self.update_status()

    @on(SyncProgressed)
    @while_open
    def _sync_progressed(self, event: SyncProgressed) -> None:
        p = event.progress
        state = self.sync_states.get(p.account)
        if state is None:
            if event.painted is not None:
                event.painted.set()
            return
        state.stage, state.done, state.total = p.stage, p.done, p.total
        now = time.monotonic()
        current = self.account is not None and p.account == self.account.name and not self.unified_on
        view = self.views.get(p.account)
        opened = False
        if current and view is not None and view.folder_id is None:
            # A never-synced account: its Inbox opens as soon as the cache has one (the newest page may be stored
            # before the folder list, even before this sync started), loading or with its first rows.
            view.folder_id = self._default_folder(self.cache(p.account))
            if view.folder_id is not None:
                self._show_folder(p.account, view)
                opened = True
        if (p.stage == "folders" and p.total) or opened:
            self.refresh_folders()  # the folder list is stored: show it now
        shown = current or self.unified_on  # the unified inbox shows every account's new mail
        if p.new_messages and shown and (now - self._last_progress_reload > 0.5 or self.message_list.row_count == 0):
            self._last_progress_reload = now
            if self.unified_on:
                self.unified_changed(p.account)
            else:
                self.message_list.reload()
        self.update_status()
        if event.painted is not None:
            self.message_list.call_after_refresh(event.painted.set)

    @on(SyncFinished)
    @while_open
    def _sync_finished(self, event: SyncFinished) -> None:
        state = self.sync_states.get(event.account)
        if state is None:
            return
        state.syncing = False
        explicit, state.explicit = state.explicit, False
        state.busy = event.busy
        current = self.account is not None and event.account == self.account.name and not self.unified_on
        if event.busy:
            pass  # neither a failure nor a success: another tui-mail is syncing it (the status line says so)
        elif event.error:
            if record_failure(state, event.error, event.offline, explicit=explicit):
                self.notify(clean_line(event.error), title=event.account, severity="error", markup=False)
        else:
            record_success(state)
        result = event.result
        if result is not None:
            state.last_synced = time.time()
            for warning in result.warnings:
                self.notify(clean_line(warning), title=event.account, severity="warning", markup=False)
            if result.new_messages and not current:
                n = result.new_messages
                self.notify(f"{n} new message{'s' if n != 1 else ''} in {clean_line(event.account)}.", markup=False)
            if current:
                view = self.views[event.account]
                if view.folder_id is None:  # the first sync brought the folders
                    view.folder_id = self._default_folder(self.cache(event.account))
                    self._show_folder(event.account, view)
                else:
                    self.message_list.reload()
            self.unified_changed(event.account)
        self._reshow_if_no_folders(event.account)
        self.refresh_folders()
        self.update_status()
        self.start_index(event.account)
        refresh_outbox = getattr(self, "refresh_outbox_screens", None)
        if refresh_outbox is not None:
            refresh_outbox(event.account)

    def start_background_work(self) -> None:
        """After the first paint: polling timers, the start-up syncs (or indexing), IDLE, the reader's modules."""
        for acc in self.accounts:
            self._poll_timers[acc.name] = self.set_interval(
                max(10, acc.poll_interval), partial(self.start_sync, acc.name, True)
            )
        if self.sync_on_start:
            for acc in self.accounts:
                self.start_sync(acc.name, quiet=True)
        else:
            for acc in self.accounts:
                self.start_index(acc.name)  # a cache from before search (or an interrupted indexing) catches up
        self._start_push_workers()
        self.preload_reader()

    def estimate_rows(self, source: ListSource) -> int | None:
        """At the top of a plain folder: a count capped at ESTIMATE_ROWS, so the first screen paints at once whatever
        the folder's size, and a worker counts the rest (the scrollbar's length). None: count it all now."""
        cache = source.cache
        if source.query or source.include or source.list_order.folding or not isinstance(cache, Cache):
            return None
        counted = cache.count_upto(source.folder_id, ESTIMATE_ROWS)
        if counted == ESTIMATE_ROWS:
            self.count_rows(source.account, source.folder_id)
        return counted

    def preload_reader(self) -> None:
        """After the first paint, load what opening a message needs (the MIME reader and the email package) in a
        thread, so that the first Enter does not pay for those imports."""

        def work() -> None:
            from .. import mime

            mime.render_message  # noqa: B018 - the lazy package imports the reader on first access

        self.run_worker(work, name="preload", group="preload", thread=True, exit_on_error=False)

    def count_rows(self, account: str, folder_id: int | None) -> None:
        """Count a big folder's rows in a worker (the list was shown with a bounded estimate)."""

        def work() -> None:
            try:
                self.post_message(RowsCounted(account, folder_id, self.cache(account).count(folder_id)))
            except Exception:
                log.exception("counting the rows of folder %s of %s", folder_id, account)

        self.run_worker(work, name="count", group=f"count-{account}", exclusive=True, thread=True, exit_on_error=False)

    @on(RowsCounted)
    @while_open
    def _rows_counted(self, event: RowsCounted) -> None:
        ml = self.message_list
        source = ml.source
        if source is None or (source.account, source.folder_id) != (event.account, event.folder_id):
            return  # another folder by now
        plain = not source.query and not source.include and not source.list_order.folding
        if plain and ml.row_count == ESTIMATE_ROWS:  # else a reload counted already
            ml.set_row_count(event.count)

    def start_index(self, account: str) -> None:
        """Fill the search index with what the sync brought (or, after an upgrade, the whole cache) in a worker;
        the app's exit stops it between batches."""
        if not hasattr(self.manager, "index"):
            return
        self.run_worker(
            partial(self._index_work, account),
            name=f"index {account}",
            group=f"index-{account}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _index_work(self, account: str) -> None:
        last = 0.0
        indexed = 0

        def progress(done: int, total: int) -> None:
            nonlocal last, indexed
            indexed = done
            now = time.monotonic()
            if total >= INDEX_PROGRESS_FROM and now - last >= INDEX_PROGRESS_EVERY:
                last = now
                self.post_message(IndexProgressed(account, done, total))

        try:
            self.manager.index(account, progress=progress, should_stop=self._stop.is_set)
        except Exception:
            log.exception("indexing %s", account)
        finally:
            self.post_message(IndexProgressed(account, indexed, indexed, finished=True))

    @on(IndexProgressed)
    @while_open
    def _index_progressed(self, event: IndexProgressed) -> None:
        state = self.sync_states.get(event.account)
        if state is None:
            return
        state.indexing = "" if event.finished else f"indexing {event.done:,}/{event.total:,}"
        current = self.account is not None and self.account.name == event.account
        shown = self.view_name  # the unified inbox shows every account's mail
        if event.finished and event.done and (current or self.unified_on) and shown and self.views[shown].query:
            self.message_list.reload()  # the search shown may find more now
        self.update_status()

    def fetch_body(self, account: str, message_id: int) -> None:
        self.run_worker(
            partial(self._fetch_body_work, account, message_id),
            name=f"body {message_id}",
            group=f"body-{account}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _fetch_body_work(self, account: str, message_id: int) -> None:
        try:
            raw = self.manager.fetch_body(account, message_id)
        except ConnectError:
            self.post_message(
                BodyFetched(account, message_id, None, "Offline: this message's body is not downloaded yet.")
            )
        except MailError as e:
            self.post_message(BodyFetched(account, message_id, None, str(e)))
        except Exception:
            log.exception("fetching message %s of %s", message_id, account)
            self.post_message(BodyFetched(account, message_id, None, "The message could not be downloaded."))
        else:
            self.post_message(BodyFetched(account, message_id, raw))

    @on(BodyFetched)
    @while_open
    def _body_fetched(self, event: BodyFetched) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, ReaderScreen) and screen.row.id == event.message_id:
                screen.reader.show(event.account, screen.row, event.raw, event.error)
        reader = self.reader
        if reader.row is not None and reader.row.id == event.message_id and reader.account == event.account:
            reader.show(event.account, reader.row, event.raw, event.error)
        waiters = self._body_waiters.pop((event.account, event.message_id), [])
        if event.raw is not None:
            for waiter in waiters:
                waiter(event.raw)
        elif waiters and event.error:
            self.notify(clean_line(event.error), severity="error", markup=False)
        if event.raw is not None:
            self.message_list.refresh()

    def with_body(self, account: str, message_id: int, then: Callable[[bytes], None]) -> None:
        """Call then(raw) once the message's body is available (now if cached, else after a download)."""
        raw = self.cache(account).body(message_id)
        if raw is not None:
            then(raw)
            return
        self._body_waiters.setdefault((account, message_id), []).append(then)
        self.fetch_body(account, message_id)

    def run_action_worker(self, account: str, what: str, fn: Callable[[], object]) -> None:
        """A local change (cache first, queued for the server) in a thread worker; ActionDone re-reads the views."""

        def work() -> None:
            try:
                fn()
            except MailError as e:
                self.post_message(ActionDone(account, what, str(e)))
            except Exception:
                log.exception("%s on %s failed", what, account)
                self.post_message(ActionDone(account, what, f"Could not {what} the message; see the log."))
            else:
                self.post_message(ActionDone(account, what))

        self.run_worker(work, name=f"{what} {account}", group=f"action-{account}", thread=True, exit_on_error=False)

    @on(ActionDone)
    @while_open
    def _action_done(self, event: ActionDone) -> None:
        state = self.sync_states.get(event.account)
        if event.error and not (state is not None and state.error == event.error):  # e.g. a full disk: said already
            self.notify(clean_line(event.error), severity="error", markup=False)
        if self.unified_on:
            self.unified_changed(event.account)
        elif self.account is not None and event.account == self.account.name:
            self.message_list.reload()
        self.refresh_folders()
        self.update_status()
        self._schedule_push(event.account)

    def _schedule_push(self, account: str) -> None:
        """Replay queued changes soon (coalescing bursts of keystrokes into one sync)."""
        if getattr(self.manager, "offline", False):
            return
        timer = self._push_timers.pop(account, None)
        if timer is not None:
            timer.stop()
        self._push_timers[account] = self.set_timer(3.0, partial(self.start_sync, account, True))

    @on(Notice)
    @while_open
    def _notice(self, event: Notice) -> None:
        severity = event.severity if event.severity in ("information", "warning", "error") else "information"
        self.notify(clean_line(event.text), severity=severity, markup=False)  # type: ignore[arg-type]
