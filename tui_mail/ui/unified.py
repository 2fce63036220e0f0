"""The unified inbox in the UI ("All inboxes", key 0): every account's Inbox as one list, each row's account shown,
and every action on a row sent to the account it belongs to; plus the per-row account/folder label of lists that
span several folders or accounts (searches of every folder)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual import on

from ..models import MessageRow, Role
from ..store.cache import Cache
from ..store.list_order import FLAT, ListOrder
from ..store.unified import INBOXES, UnifiedCache, members_for
from .background import BackgroundWork
from .widgets.folder_pane import FolderPane, folder_title
from .widgets.message_list import ListSource

if TYPE_CHECKING:
    from ..config import AccountConfig
    from ..models import Folder
    from .widgets.message_list import MessageList
    from .widgets.status_bar import StatusBar, SyncState

log = logging.getLogger(__name__)

UNIFIED = "\x00all-inboxes"  # the name the unified view goes by in views and list sources (no account has it)
UNIFIED_TITLE = "All inboxes"
LABEL_WIDTH_MAX = 20  # the account/folder column never takes more than this


class UnifiedInbox(BackgroundWork):
    """Mixed into MailApp before the other mixins (so it routes tagged actions, undo and reloads by account); it
    extends the background work, whose reloads it widens to every account."""

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any
        views: dict[str, Any]
        sync_states: dict[str, SyncState]
        _folders: dict[str, list[Folder]]
        current: int

        @property
        def accounts(self) -> tuple[AccountConfig, ...]: ...
        @property
        def account(self) -> AccountConfig | None: ...
        @property
        def message_list(self) -> MessageList: ...
        @property
        def status(self) -> StatusBar: ...
        def cache(self, account: str) -> Cache: ...
        def _save_view(self) -> None: ...
        def _show_folder(self, account: str, view: Any) -> None: ...
        def refresh_folders(self) -> None: ...
        def update_status(self) -> None: ...
        def _storage(self, account: str) -> tuple[str, bool]: ...

    unified_on = False
    _unified: UnifiedCache | None = None
    _acted_on: tuple[str, ...] = ()  # accounts of the moves and deletes made, newest last (U in the unified view)
    _status_account = ""  # the account the status line names

    # -- which view -----------------------------------------------------------------------------------------------

    @property
    def has_unified(self) -> bool:
        """With one account "All inboxes" would be its Inbox again: shown from two accounts on."""
        return len(self.accounts) > 1

    @property
    def view_name(self) -> str | None:
        """The views key of what the main list shows: an account, or UNIFIED."""
        if self.unified_on:
            return UNIFIED
        acc = self.account
        return acc.name if acc is not None else None

    def unified_cache(self, rebuild: bool = False) -> UnifiedCache:
        """The merged reader of every account's Inbox (rebuilt when an account gained its Inbox)."""
        if self._unified is None or rebuild:
            caches: list[tuple[str, Cache]] = []
            for acc in self.accounts:
                try:
                    caches.append((acc.name, self.cache(acc.name)))
                except Exception:  # an unreadable cache file: the other accounts still show
                    log.exception("unified inbox: cannot open the cache of %s", acc.name)
            self._unified = UnifiedCache(members_for(caches))
        return self._unified

    def list_cache(self, name: str) -> Cache | UnifiedCache:
        """What a list of this view reads: the account's cache or the merged one."""
        return self.unified_cache() if name == UNIFIED else self.cache(name)

    def action_unified(self) -> None:
        """0 (or "All inboxes" in the folder pane): every account's Inbox in one list, newest first."""
        if not self.has_unified or self.screen is not self.screen_stack[0]:
            return
        self._save_view()
        view = self.views.get(UNIFIED)
        if view is None:
            from .app import AccountView

            view = self.views[UNIFIED] = AccountView(folder_id=INBOXES)
        self.unified_on = True
        self.unified_cache(rebuild=True)
        self._show_folder(UNIFIED, view)
        self.refresh_folders()
        self.update_status()
        self.refresh_bindings()
        self.message_list.focus()

    @on(FolderPane.UnifiedChosen)
    def _unified_chosen(self, event: FolderPane.UnifiedChosen) -> None:
        self.action_unified()

    def leave_unified(self) -> None:
        """Another folder or account is opened: remember where the unified list was."""
        if self.unified_on:
            self._save_view()
            self.unified_on = False

    def unified_changed(self, account: str) -> None:
        """New mail, a change or a sync ended in an account: re-read the unified list when it is shown (rebuilt
        when that account has just got its Inbox)."""
        if not self.unified_on:
            return
        cache = self.unified_cache()
        if cache.encode(account, 0) is None:
            try:
                has_inbox = self.cache(account).folder_by_role(Role.INBOX) is not None
            except Exception:
                has_inbox = False
            if has_inbox:
                self.unified_cache(rebuild=True)
                self._show_folder(UNIFIED, self.views[UNIFIED])
                return
        self.message_list.reload()

    # -- threads and sorting are per account: the unified list stays flat, newest first -------------------------

    def list_order(self, account: str, folder_id: int | None) -> ListOrder:
        if account == UNIFIED:
            return FLAT
        return super().list_order(account, folder_id)  # type: ignore[misc, no-any-return]

    def _reshow(self, keep: int | None) -> None:
        if not self.unified_on:
            super()._reshow(keep)  # type: ignore[misc]
            return
        self._save_view()
        view = self.views[UNIFIED]
        if keep is not None:
            view.selected = keep
        self._show_folder(UNIFIED, view)

    def _flat_here(self) -> bool:
        """In the unified inbox: say that threads and sorting belong to an account's folders (True: said)."""
        if not self.unified_on:
            return False
        self.notify(
            "All inboxes is one list, newest first; threads and sorting work in each account's folders.",
            markup=False,
            timeout=3,
        )
        return True

    def _needs_threads(self) -> bool:
        return not self._flat_here() and super()._needs_threads()  # type: ignore[misc, no-any-return]

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        if not self._flat_here():
            super().set_sort(key, reverse)  # type: ignore[misc]

    def _search_step(self, step: int) -> None:
        ml = self.message_list
        if self.unified_on and ml.source is not None and not ml.source.query:
            self.notify(
                "n and N find the last search's hits in one folder; press / to search All inboxes.", markup=False
            )
            return
        super()._search_step(step)  # type: ignore[misc]

    # -- rows: which account, which id ------------------------------------------------------------------------

    def resolve_row(self, list_account: str, row: MessageRow) -> tuple[str, MessageRow]:
        """(account, row with that account's own id) of a row of a list."""
        if list_account != UNIFIED or self._unified is None:
            return list_account, row
        account, local = self._unified.locate(row.id)
        return account, replace(row, id=local)

    def list_key(self, list_account: str, account: str, message_id: int) -> int | None:
        """The id a list knows a message by (None: the message is not in this list's accounts)."""
        if list_account == UNIFIED:
            return self._unified.encode(account, message_id) if self._unified is not None else None
        return message_id if list_account == account else None

    def unified_target_account(self) -> AccountConfig | None:
        """In the unified view: the account of the message under the cursor (compose, reply and sync use it)."""
        ml = self.message_list
        row = ml.current_row
        if row is None or ml.source is None:
            return self.account
        account, _ = self.resolve_row(ml.source.account, row)
        try:
            return next(a for a in self.accounts if a.name == account)
        except StopIteration:
            return self.account

    # -- the per-row account/folder label ----------------------------------------------------------------------------

    def label_rows(self, source: ListSource | None) -> None:
        """Give the list a label column when it spans several accounts (the account) or folders (the folder)."""
        ml = self.message_list
        ml.row_label, ml.row_label_width = None, 0
        if source is None:
            return
        spans_accounts = source.account == UNIFIED
        spans_folders = source.folder_id is None
        if not spans_accounts and not spans_folders:
            return
        titles: dict[tuple[str, int], str] = {}
        for name, folders in self._folders.items():
            for f in folders:
                titles[(name, f.id)] = folder_title(f)

        def label(row: MessageRow) -> str:
            account, real = self.resolve_row(source.account, row)
            parts = [account] if spans_accounts else []
            if spans_folders:
                parts.append(titles.get((account, real.folder_id), "?"))
            return " · ".join(parts)

        widths = [0]
        if spans_accounts:
            names = [m.account for m in self.unified_cache().members]
            widths = [len(n) for n in names] or [0]
        if spans_folders:
            longest = max((len(t) for t in titles.values()), default=6)
            widths = [w + (3 if spans_accounts else 0) + longest for w in widths]
        ml.row_label = label
        ml.row_label_width = min(LABEL_WIDTH_MAX, max(widths))

    # -- status -------------------------------------------------------------------------------------------------

    def unified_status(self) -> None:
        """The status line of the unified view: its name, the account under the cursor with its sync state."""
        account = self.unified_target_account()
        from .widgets.status_bar import SyncState

        state = self.sync_states.get(account.name, SyncState()) if account is not None else SyncState()
        pending = 0
        for acc in self.accounts:
            try:
                pending += self.cache(acc.name).pending_count()
            except Exception:
                log.debug("pending count of %s", acc.name, exc_info=True)
        view = self.views.get(UNIFIED)
        others = sum(1 for n, s in self.sync_states.items() if s.syncing and (account is None or n != account.name))
        self.message_list.set_loading(any(s.syncing for s in self.sync_states.values()))
        self.status.show_state(
            UNIFIED_TITLE,
            account.name if account is not None else "",
            state,
            pending,
            view.query if view is not None else "",
            others,
            storage=self._storage(account.name) if account is not None else ("", False),
        )

    def unified_cursor_moved(self) -> None:
        """The status line names the account of the row under the cursor: redrawn when that account changes."""
        if not self.unified_on:
            return
        account = self.unified_target_account()
        name = account.name if account is not None else ""
        if name != self._status_account:
            self._status_account = name
            self.update_status()

    def unified_unread(self) -> int | None:
        """Unread messages in every Inbox (for the folder pane), None when the entry is not shown."""
        if not self.has_unified:
            return None
        return sum(f.unread for folders in self._folders.values() for f in folders if f.role is Role.INBOX)

    # -- tags across accounts -------------------------------------------------------------------------------------

    def tagged_by_account(self) -> dict[str, list[MessageRow]]:
        """The tagged rows of the unified list by account (rows with their own account's ids)."""
        ml = self.message_list
        out: dict[str, list[MessageRow]] = {}
        if ml.source is None or self._unified is None:
            return out
        for gid in sorted(ml.tagged):
            account, local = self._unified.locate(gid)
            row = self.cache(account).message(local)
            if row is not None:
                out.setdefault(account, []).append(row)
        return out

    def tagged_rows(self) -> tuple[str, list[MessageRow]] | None:
        if not self.unified_on or self.screen is not self.screen_stack[0]:
            return super().tagged_rows()  # type: ignore[misc, no-any-return]
        groups = self.tagged_by_account()
        if len(groups) != 1:
            return None
        ((account, rows),) = groups.items()
        return account, rows

    def apply_to_tagged(self, what: str, folder_id: int | None = None) -> bool:
        if not self.unified_on or self.screen is not self.screen_stack[0]:
            return super().apply_to_tagged(what, folder_id)  # type: ignore[misc, no-any-return]
        groups = self.tagged_by_account()
        if not groups:
            return False
        if what == "move" and len(groups) > 1:
            return False  # one account's folders cannot take another account's mail (action_move says so)
        manager = self.manager
        n = 0
        for account, rows in groups.items():
            ids = [r.id for r in rows]
            n += len(ids)
            if what == "delete":
                self._delete_tagged(account, rows)
            elif what == "flag":
                flagged = not all(r.flagged for groups_rows in groups.values() for r in groups_rows)
                self.run_action_worker(account, "flag", partial_call(manager.flag, account, ids, flagged))
            elif what == "toggle_read":
                read = not all(r.seen for groups_rows in groups.values() for r in groups_rows)
                self.run_action_worker(account, "mark", partial_call(manager.mark_read, account, ids, read))
            elif what == "move" and folder_id is not None:
                self.run_action_worker(account, "move", partial_call(manager.move, account, ids, folder_id))
            else:
                return False
        self.notify(
            f"{what.replace('_', ' ').capitalize()}: {n} tagged message{'s' if n != 1 else ''}.",
            markup=False,
            timeout=2,
        )
        ml = self.message_list
        ml.tagged.clear()
        ml.tag_anchor = None
        ml.refresh_tags()
        return True

    def _delete_tagged(self, account: str, rows: list[MessageRow]) -> None:
        ids = [r.id for r in rows]
        confirm = getattr(self, "confirm_delete_for_good", None)

        def run() -> None:
            self.run_action_worker(account, "delete", partial_call(self.manager.delete, account, ids))

        if confirm is not None:
            confirm(account, rows, run)
        else:
            run()

    def tags_span_accounts(self) -> bool:
        """In the unified view: are the tagged messages in more than one account? (Say so, for a move.)"""
        if not self.unified_on or not self.message_list.tagged:
            return False
        if len(self.tagged_by_account()) < 2:
            return False
        self.notify(
            "The tagged messages are in several accounts: move them one account at a time.",
            severity="warning",
            markup=False,
        )
        return True

    # -- pending actions across accounts ---------------------------------------------------------------------------

    def action_pending(self) -> None:
        """P in the unified view: every account's pending and refused actions, each row naming its account."""
        if not self.unified_on or self.screen is not self.screen_stack[0]:
            super().action_pending()  # type: ignore[misc]
            return
        from .screens.pending import PendingScreen

        def closed(_result: None = None) -> None:
            self.refresh_folders()
            self.update_status()
            self.message_list.reload()

        self.push_screen(PendingScreen(self.manager, [a.name for a in self.accounts], UNIFIED_TITLE), closed)

    # -- undo across accounts -------------------------------------------------------------------------------------

    def note_acted(self, account: str, what: str) -> None:
        """Remember the accounts moves and deletes were made in (U in the unified view undoes the newest)."""
        if what in ("move", "delete"):
            self._acted_on = (*(a for a in self._acted_on if a != account), account)

    def run_action_worker(self, account: str, what: str, fn: Callable[[], object]) -> None:
        self.note_acted(account, what)
        super().run_action_worker(account, what, fn)  # type: ignore[misc]

    def action_undo(self) -> None:
        if self.unified_on and self.screen is self.screen_stack[0]:
            self.unified_undo()
        else:
            super().action_undo()  # type: ignore[misc]

    def unified_undo(self) -> None:
        """U in the unified view: undo the newest move or delete, in whichever account it was made."""
        acted = self._acted_on
        names = [*reversed(acted), *(a.name for a in self.accounts if a.name not in acted)]
        manager = self.manager

        def undo() -> None:
            for name in names:
                said = manager.cache(name).undo_last()
                if said:
                    self.call_from_thread(self.notify, f"{name}: {said}", markup=False)
                    return
            self.call_from_thread(
                self.notify, "Nothing to undo: every move and delete has reached the server.", markup=False
            )

        if names:
            self.run_action_worker(names[0], "undo", undo)


def partial_call(fn: Callable[..., object], *args: object) -> Callable[[], object]:
    """fn(*args) later (a worker's job), with the arguments fixed now."""
    return lambda: fn(*args)


__all__ = ["UNIFIED", "UNIFIED_TITLE", "UnifiedInbox", "partial_call"]
