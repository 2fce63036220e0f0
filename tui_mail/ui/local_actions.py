"""The app's hooks for queued local changes: the pending-actions screen, undo of the last move/delete, and the
question before a delete that cannot be undone on the server (a message already in Trash)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual.app import App

from ..models import MessageRow, Role
from .screens.confirm import ConfirmScreen
from .screens.pending import PendingScreen
from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from ..config import AccountConfig
    from ..store.cache import Cache


class LocalActions(App[int]):
    """Mixed into MailApp."""

    if TYPE_CHECKING:  # provided by MailApp / BackgroundWork
        manager: Any

        @property
        def account(self) -> AccountConfig | None: ...

        def cache(self, account: str) -> Cache: ...

        def run_action_worker(self, account: str, what: str, fn: Callable[[], object]) -> None: ...

        def update_status(self) -> None: ...

        def refresh_folders(self) -> None: ...

    def action_pending(self) -> None:
        """Open the list of actions waiting for the server (the status line's "N pending" opens it too)."""
        acc = self.account
        if acc is None:
            return

        def closed(_result: None = None) -> None:
            self.refresh_folders()
            self.update_status()
            reload = getattr(self, "message_list", None)
            if reload is not None:
                reload.reload()

        self.push_screen(PendingScreen(self.manager, acc.name), closed)

    def action_undo(self) -> None:
        """Undo the newest move or delete of this account while it has not reached the server."""
        acc = self.account
        if acc is None:
            return
        name = acc.name
        said: list[str] = []

        def undo() -> None:
            said.append(self.manager.undo_last(name))
            self.call_from_thread(self.notify, clean_line(said[0]), markup=False)

        self.run_action_worker(name, "undo", undo)

    def confirm_delete_for_good(self, account: str, rows: Sequence[MessageRow], delete: Callable[[], None]) -> None:
        """`d` on messages in Trash deletes them for good: ask first; else delete(). (Without a Trash folder an
        IMAP account makes one, so only an account that cannot has nothing but delete-for-good.)"""
        cache = self.cache(account)
        trash = cache.folder_by_role(Role.TRASH)
        no_trash = trash is None and self.manager.config.account(account).protocol != "imap"
        for_good = [r for r in rows if no_trash or (trash is not None and r.folder_id == trash.id)]
        if not for_good:
            delete()
            return
        if len(for_good) == 1:
            what = f"“{clean_line(for_good[0].subject)}”" if for_good[0].subject.strip() else "this message"
        else:
            what = f"{len(for_good)} messages"

        def answered(yes: bool | None) -> None:
            if yes:
                delete()

        self.push_screen(
            ConfirmScreen(f"Delete {what} for good? It cannot be recovered from the server.", yes="Delete"),
            answered,
        )
