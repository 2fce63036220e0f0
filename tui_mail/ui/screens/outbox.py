"""The outbox as a folder: what waits to be sent, its state and last error; edit (back to compose) or cancel."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ...errors import MailError
from ...models import DRAFT, MessageRow, OutboxItem, Role
from ...sending import message_subject
from ..widgets.safe_text import clean_line

if TYPE_CHECKING:
    from ...accounts import AccountManager
    from ...store.cache import Cache

log = logging.getLogger(__name__)

STATE_LABELS = {
    "queued": "waiting",
    "claimed": "sending",
    "sending": "sending",
    "sent": "sent",
    "held": "needs you",
}


def item_line(item: OutboxItem, now: float | None = None) -> Text:
    """One row: state, subject, recipients, and why it has not gone yet (all plain, sanitized text)."""
    now = time.time() if now is None else now
    line = Text(end="")
    state = STATE_LABELS.get(item.state, item.state)
    if item.state == "queued" and item.send_after > now:
        state = "at " + time.strftime("%H:%M", time.localtime(item.send_after))
    style = {"needs you": "bold red", "sending": "yellow"}.get(state, "cyan")
    line.append(f"{state:<10} ", style=style)
    line.append(clean_line(message_subject(item.raw)), style="bold")
    line.append("  to " + clean_line(", ".join(item.recipients)), style="dim")
    if item.last_error:
        line.append("\n           ")
        line.append(clean_line(item.last_error), style="red")
    return line


def outbox_count(cache: Cache) -> int:
    """How many messages wait in an account's outbox (0 when the cache cannot say)."""
    try:
        return cache.outbox_count()
    except Exception:
        log.debug("outbox count unavailable", exc_info=True)
        return 0


def is_draft(cache: Cache, row: MessageRow) -> bool:
    """Whether a row is a draft to reopen in compose: in the Drafts folder, or flagged \\Draft."""
    if DRAFT in row.flags:
        return True
    drafts = cache.folder_by_role(Role.DRAFTS)
    return drafts is not None and row.folder_id == drafts.id


class OutboxScreen(Screen[None]):
    """One account's outbox. Enter/e edits an item (it moves to Drafts and opens in compose), x cancels it
    (to Drafts), s sends a held item again (one whose earlier send was interrupted)."""

    DEFAULT_CSS = """
    OutboxScreen #outbox-title { height: 1; background: $primary; color: $text; padding: 0 1; text-style: bold; }
    OutboxScreen #outbox-list { height: 1fr; }
    OutboxScreen #outbox-empty { height: 1fr; padding: 1 2; color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="outbox.close"),
        Binding("e", "edit", "Edit", id="outbox.edit"),
        Binding("x,d,delete", "cancel_item", "Cancel (to Drafts)", id="outbox.cancel"),
        Binding("s", "send_again", "Send again", id="outbox.send-again"),
    ]

    def __init__(self, manager: AccountManager, account: str) -> None:
        super().__init__()
        self.manager = manager
        self.account = account
        self.items: list[OutboxItem] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Outbox — {clean_line(self.account)}"), id="outbox-title")
        yield OptionList(id="outbox-list", markup=False)
        yield Static(Text("The outbox is empty: everything has been sent."), id="outbox-empty")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#outbox-list", OptionList).focus()

    def reload(self) -> None:
        """Re-read the outbox from the cache, keeping the cursor where it was."""
        listing = self.query_one("#outbox-list", OptionList)
        keep = listing.highlighted
        self.items = self.manager.cache(self.account).outbox()
        listing.set_options([Option(item_line(item), id=f"o:{item.id}") for item in self.items])
        listing.display = bool(self.items)
        self.query_one("#outbox-empty", Static).display = not self.items
        if self.items:
            listing.highlighted = min(keep or 0, len(self.items) - 1)

    @property
    def current(self) -> OutboxItem | None:
        index = self.query_one("#outbox-list", OptionList).highlighted
        if index is None or not 0 <= index < len(self.items):
            return None
        return self.items[index]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_edit()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_edit(self) -> None:
        item = self.current
        if item is not None:
            self._take(item.id, edit=True)

    def action_cancel_item(self) -> None:
        item = self.current
        if item is not None:
            self._take(item.id, edit=False)

    def action_send_again(self) -> None:
        item = self.current
        if item is None:
            return
        if item.state != "held":
            self.notify("This message is waiting already; it is sent at the next sync.", markup=False)
            return
        self.manager.release_held(self.account, item.id)
        self.notify("It is sent again at the next sync.", markup=False)
        self.reload()

    @work(thread=True, group="outbox-take")
    def _take(self, item_id: int, edit: bool) -> None:
        """Move the item to Drafts (a cache write) in a worker; then open it in compose or say where it went."""
        try:
            draft_id = self.manager.outbox_to_drafts(self.account, item_id)
            raw = self.manager.cache(self.account).body(draft_id) if draft_id is not None else None
        except MailError as e:
            self.app.call_from_thread(self.notify, clean_line(str(e)), severity="error", markup=False)
            return
        self.app.call_from_thread(self._taken, draft_id, raw, edit)

    def _taken(self, draft_id: int | None, raw: bytes | None, edit: bool) -> None:
        self.reload()
        if draft_id is None or raw is None:
            self.notify("That message is being sent right now, so it cannot be changed.", markup=False)
            return
        if not edit:
            self.notify("Cancelled; the message is kept in Drafts.", markup=False)
            return
        from ...drafts import reopen  # the composer's helpers load when a draft is first reopened
        from .compose import ComposeScreen

        reopened = reopen(raw)
        screen: Any = ComposeScreen(
            self.manager, self.account, reopened.draft, draft_id=draft_id, message_id=reopened.message_id
        )
        self.app.push_screen(screen, lambda _result: self.reload())
