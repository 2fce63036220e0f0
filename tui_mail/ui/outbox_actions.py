"""Undo-send in the app: the Undo key takes a just-queued message back into compose; a timer sends it after."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App

from ..errors import ConnectError, MailError
from .messages import Notice, UndoOffered

if TYPE_CHECKING:
    from ..config import AccountConfig

log = logging.getLogger(__name__)


class OutboxActions(App[int]):
    """Mixed into MailApp: undo-send (`[ui] undo_send = N` seconds) and sending what has become due."""

    _undo_offer: tuple[str, str] | None = None  # (account, Message-ID) of the message the Undo key would take back

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any

        @property
        def accounts(self) -> tuple[AccountConfig, ...]: ...
        def refresh_folders(self) -> None: ...
        def update_status(self) -> None: ...
        def _compose_done(self, _result: object = None) -> None: ...

    @on(UndoOffered)
    def _undo_offered(self, event: UndoOffered) -> None:
        self._undo_offer = (event.account, event.message_id)
        self.refresh_bindings()
        self.refresh_folders()
        self.update_status()
        delay = max(0.0, event.send_after - time.time())
        self.set_timer(delay + 0.1, partial(self.send_due, event.account, event.message_id))

    def send_due(self, account: str, message_id: str = "") -> None:
        """Send what is due in an account's outbox, in a thread worker (the undo window of message_id is over)."""
        if self._undo_offer == (account, message_id):
            self._undo_offer = None
            self.refresh_bindings()
        self.run_worker(
            partial(self._send_due_work, account),
            name=f"outbox {account}",
            group=f"outbox-{account}",
            thread=True,
            exit_on_error=False,
        )

    def _send_due_work(self, account: str) -> None:
        try:
            sent = self.manager.flush_outbox(account)
        except ConnectError:
            sent = 0  # it waits; the status line counts it as pending and the next sync tries again
        except MailError as e:
            self.post_message(Notice(str(e), "error"))
            sent = 0
        except Exception:
            log.exception("sending the outbox of %s failed", account)
            self.post_message(Notice("Sending from the outbox failed unexpectedly; see the log.", "error"))
            sent = 0
        if sent:
            self.post_message(Notice("Message sent" if sent == 1 else f"{sent} messages sent"))
        self.call_from_thread(self._outbox_changed)

    def _outbox_changed(self) -> None:
        self.refresh_folders()
        self.update_status()
        self.refresh_outbox_screens()

    def refresh_outbox_screens(self, account: str | None = None) -> None:
        """An open Outbox screen re-reads the outbox (a sync or a timer sent something meanwhile)."""
        from .screens.outbox import OutboxScreen

        for screen in self.screen_stack:
            if isinstance(screen, OutboxScreen) and account in (None, screen.account):
                screen.reload()

    def action_undo_send(self) -> None:
        offer = self._undo_offer
        self._undo_offer = None
        self.refresh_bindings()
        if offer is None:
            self.notify("Nothing to undo.", markup=False)
            return
        self.run_worker(partial(self._undo_work, *offer), name="undo send", group="undo-send", thread=True)

    def _undo_work(self, account: str, message_id: str) -> None:
        """Take the message out of the outbox (to Drafts) and reopen it in compose, unless it went already."""
        cache = self.manager.cache(account)
        item = next((i for i in cache.outbox() if i.message_id == message_id), None)
        draft_id = self.manager.outbox_to_drafts(account, item.id) if item is not None else None
        raw = cache.body(draft_id) if draft_id is not None else None
        self.call_from_thread(self._undone, account, draft_id, raw)

    def _undone(self, account: str, draft_id: int | None, raw: bytes | None) -> None:
        self.refresh_folders()
        self.update_status()
        if draft_id is None or raw is None:
            self.notify("Too late to undo: the message has been sent.", markup=False)
            return
        from ..drafts import reopen
        from .screens.compose import ComposeScreen

        reopened = reopen(raw)
        self.notify("Sending undone; the message is back in compose (and kept in Drafts).", markup=False)
        self.push_screen(
            ComposeScreen(self.manager, account, reopened.draft, draft_id=draft_id, message_id=reopened.message_id),
            self._compose_done,
        )
