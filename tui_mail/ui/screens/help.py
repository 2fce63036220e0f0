"""The help screen: the bindings active in the view it was opened from (after the user's keymap)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Lists (key, what it does) pairs; any of q, Escape or ? closes it."""

    BINDINGS = [Binding("q,escape,question_mark", "dismiss_help", "Close", id="help.close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 70; height: 80%; border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, expand=True, pad_edge=False)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        for key, description in self.rows:
            table.add_row(Text(key), Text(description))
        with VerticalScroll():
            yield Static(Text("Keys", style="bold"), markup=False)
            yield Static(table)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
