"""The pending-actions screen: what waits for the server and what it refused, with a key to cancel (undo) each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...store.local_changes import Note, PendingItem
from ..widgets.safe_text import clean_line

_STATE_LABEL = {"queued": ("waiting", "yellow"), "claimed": ("sending", "cyan"), "failed": ("refused", "red")}


def item_text(item: PendingItem, account: str = "") -> Text:
    """One row: state, the account (in a list of several), the sentence, and for a refused action why (all plain
    strings, never markup)."""
    label, style = _STATE_LABEL.get(item.state, (item.state, ""))
    text = Text(end="")
    text.append(f"{label:<8} ", style=style)
    if account:
        text.append(clean_line(account) + ": ", style="bold")
    text.append(clean_line(item.sentence))
    if item.error:
        text.append(" — " + clean_line(item.error), style="dim")
    return text


class PendingScreen(ModalScreen[None]):
    """Lists an account's pending and refused actions (or several accounts', each row naming its account: the
    unified inbox); `x`/Delete cancels the highlighted one in its account (a refused one is dismissed); Escape
    closes. Reads and writes only the caches, through the account manager."""

    DEFAULT_CSS = """
    PendingScreen { align: center middle; background: $background 60%; }
    PendingScreen > Vertical {
        width: 90%; max-width: 120; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    PendingScreen #pending-title { text-style: bold; margin-bottom: 1; }
    PendingScreen #pending-notes { color: $warning; margin-bottom: 1; }
    PendingScreen OptionList { height: auto; max-height: 20; }
    PendingScreen #pending-help { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("x,delete", "cancel_item", "Cancel action", id="pending.cancel"),
        Binding("escape,q", "close", "Close", id="pending.close"),
    ]

    def __init__(self, manager: Any, account: str | Sequence[str], title: str = "") -> None:
        super().__init__()
        self.manager = manager
        self.accounts = [account] if isinstance(account, str) else list(account)
        self.account = self.accounts[0] if self.accounts else ""
        self.title_text = title or self.account
        self.items: list[PendingItem] = []
        self.item_accounts: list[str] = []  # the account of each item

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="pending-title", markup=False)
            yield Static("", id="pending-notes", markup=False)
            yield OptionList(id="pending-list")
            yield Static("x or Delete: cancel the highlighted action (undo it here) · Escape: close", id="pending-help")

    def on_mount(self) -> None:
        self.reload()
        self.query_one(OptionList).focus()

    def reload(self) -> None:
        self.items, self.item_accounts = [], []
        notes: list[Note] = []
        for account in self.accounts:
            cache = self.manager.cache(account)
            found = self.manager.pending(account)
            self.items += found
            self.item_accounts += [account] * len(found)
            unseen = cache.notes(unseen_only=True)
            if unseen:
                cache.mark_notes_seen([n.id for n in unseen])
            notes += unseen
        several = len(self.accounts) > 1
        title = f"{clean_line(self.title_text)}: {len(self.items)} action{'s' if len(self.items) != 1 else ''}"
        failed = sum(1 for i in self.items if i.state == "failed")
        if failed:
            title += f", {failed} refused by the server"
        self.query_one("#pending-title", Static).update(Text(title))
        notes_widget = self.query_one("#pending-notes", Static)
        notes_widget.update(Text("\n".join(clean_line(n.text) for n in notes[-5:])))
        notes_widget.display = bool(notes)
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        if self.items:
            options.add_options(
                [
                    Option(item_text(i, a if several else ""), id=f"{a}\x00{i.id}")
                    for i, a in zip(self.items, self.item_accounts, strict=True)
                ]
            )
            options.highlighted = min(highlighted or 0, len(self.items) - 1)
        else:
            options.add_option(Option(Text("Nothing waits for the server."), disabled=True))

    def action_cancel_item(self) -> None:
        options = self.query_one(OptionList)
        index = options.highlighted
        if index is None or not self.items or index >= len(self.items):
            return
        item, account = self.items[index], self.item_accounts[index]
        try:
            sentence = self.manager.cancel_action(account, item.id)
        except Exception as e:  # MailError: one sentence (e.g. it is being sent right now)
            self.notify(clean_line(str(e)), severity="warning", markup=False)
            return
        self.notify(clean_line(sentence), markup=False)
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
