"""Writing mail from the main view: compose, reply, reply all, forward (quoted in a worker), and reopening drafts."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.screen import Screen

from .. import mime
from ..config import AccountConfig, Config
from ..models import MessageRow, Role
from ..store.cache import Cache
from .messages import Notice
from .screens.reader_screen import ReaderScreen

if TYPE_CHECKING:
    from .widgets.message_list import MessageList

log = logging.getLogger(__name__)

# The composer is imported on first use (it is not needed to paint the first screen).
HAS_COMPOSE = importlib.util.find_spec(f"{__package__}.screens.compose") is not None


def compose_screen(*args: Any, **kwargs: Any) -> Screen[Any]:
    from .screens.compose import ComposeScreen

    return ComposeScreen(*args, **kwargs)


class ComposeActions(App[int]):
    """Mixed into MailApp: the keys that open the composer."""

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any
        config: Config

        @property
        def account(self) -> AccountConfig | None: ...
        @property
        def message_list(self) -> MessageList: ...
        def cache(self, account: str) -> Cache: ...
        def update_status(self) -> None: ...
        def refresh_folders(self) -> None: ...
        def _target(self) -> tuple[str, MessageRow] | None: ...
        def _target_account(self) -> AccountConfig | None: ...
        def with_body(self, account: str, message_id: int, then: Callable[[bytes], None]) -> None: ...

    def action_compose(self) -> None:
        acc = self._target_account()
        if acc is None or not HAS_COMPOSE:
            return
        self.push_screen(compose_screen(self.manager, acc.name), self._compose_done)

    def _compose_done(self, _result: object = None) -> None:
        self.refresh_folders()
        self.update_status()
        self.message_list.reload()

    def _draft_action(self, kind: str) -> None:
        target = self._target()
        if target is None or not HAS_COMPOSE:
            return
        account, row = target
        acc = self.config.account(account)

        def build(raw: bytes) -> None:
            """In a worker: quoting a big message is work proportional to its size."""
            try:
                if kind == "forward":
                    draft = mime.forward_draft(raw)
                else:
                    draft = mime.reply_draft(raw, [acc.email], kind == "reply_all")
            except Exception:
                log.exception("building a %s draft", kind)
                self.post_message(Notice("Could not prepare the reply for this message.", "error"))
                return
            self.call_from_thread(self._open_draft, account, draft, row.id if kind != "forward" else None)

        def then(raw: bytes) -> None:
            self.run_worker(partial(build, raw), name=f"{kind} draft", group="draft", thread=True, exit_on_error=False)

        self.with_body(account, row.id, then)

    def _open_draft(self, account: str, draft: mime.Draft, answers: int | None = None) -> None:
        self.push_screen(compose_screen(self.manager, account, draft, answers=answers), self._compose_done)

    def action_reply(self) -> None:
        self._draft_action("reply")

    def action_reply_all(self) -> None:
        self._draft_action("reply_all")

    def action_forward(self) -> None:
        self._draft_action("forward")

    def action_edit_draft(self) -> None:
        target = self._target()
        if target is not None:
            self.edit_draft(*target)

    def recall_draft(self) -> None:
        """mutt's recall: the current account's newest draft, in compose."""
        acc = self.account
        if acc is None:
            return
        cache = self.cache(acc.name)
        drafts = cache.folder_by_role(Role.DRAFTS)
        rows = cache.window(drafts.id, 0, 1) if drafts is not None else []
        if not rows:
            self.notify("There is no draft to recall.", markup=False)
            return
        self.edit_draft(acc.name, rows[0])

    def edit_draft(self, account: str, row: MessageRow) -> None:
        """Reopen a draft in compose (mutt's recall); saving or sending it replaces the stored draft."""
        from ..drafts import reopen

        def then(raw: bytes) -> None:
            if isinstance(self.screen, ReaderScreen):
                self.screen.dismiss(None)
            reopened = reopen(raw)
            screen = compose_screen(
                self.manager, account, reopened.draft, draft_id=row.id, message_id=reopened.message_id
            )
            self.push_screen(screen, self._compose_done)

        self.with_body(account, row.id, then)
