"""The status line: account, folder, sync state (progress, offline since, a failure sentence, last synced), pending."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from .safe_text import clean_line


@dataclass(slots=True)
class SyncState:
    """What the status line knows about one account's sync."""

    syncing: bool = False
    stage: str = ""
    done: int = 0
    total: int = 0
    offline: bool = False
    error: str = ""
    busy: str = ""  # "syncing in another tui-mail (pid N)"
    last_synced: float | None = None
    offline_since: float | None = None  # when the network was first found unreachable
    explicit: bool = False  # the running sync was asked for with `$` (its failure is notified again)
    indexing: str = ""  # "indexing 12,000/100,000" while a large backlog fills the search index


class StatusBar(Static):
    """One line under the panes; rebuilt from plain strings (never markup) whenever something changes."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, *, show_clock: bool = True, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.show_clock = show_clock

    def show_state(
        self,
        account: str,
        folder: str,
        state: SyncState,
        pending: int,
        query: str = "",
        others_syncing: int = 0,
        storage: tuple[str, bool] = ("", False),
        order: str = "",
    ) -> None:
        text = Text(end="")
        text.append(clean_line(account), style="bold")
        if folder:
            text.append(" · " + clean_line(folder))
        if order:  # the list's sort and thread mode when not the default (e.g. "sender↓ · threads")
            text.append(" · " + order, style="cyan")
        text.append(" · ")
        if state.syncing:
            progress = "syncing"
            if state.total:
                progress += f" {state.done}/{state.total}"
            elif state.stage:
                progress += f" ({state.stage})"
            text.append(progress, style="yellow")
        elif state.busy:
            text.append(clean_line(state.busy), style="yellow")
        elif state.offline:
            since = state.offline_since
            if since is not None and self.show_clock:
                text.append("offline since " + time.strftime("%H:%M", time.localtime(since)), style="red")
            else:
                text.append("offline", style="red")
        elif state.error:
            text.append(clean_line(state.error), style="red")  # the exact sentence, until a sync succeeds
        elif state.last_synced is not None:
            if self.show_clock:
                text.append("last synced " + time.strftime("%H:%M", time.localtime(state.last_synced)), style="green")
            else:
                text.append("synced", style="green")
        else:
            text.append("not synced yet", style="dim")
        if state.indexing:
            text.append(" · " + state.indexing, style="dim")
        if pending:
            text.append(" · ")
            text.append(f"{pending} pending", style=Style(color="magenta", meta={"@click": "app.pending"}))
        if others_syncing:
            text.append(f" · {others_syncing} other account{'s' if others_syncing > 1 else ''} syncing", style="dim")
        if storage[0]:  # the server's quota: red with a word from 90% on
            text.append(" · " + storage[0] + (" nearly full" if storage[1] else ""), style="red" if storage[1] else "")
        if query:
            text.append(" · search: ")
            text.append(clean_line(query), style="italic")
        self.update(text)
