"""The help screen: the bindings active in the view it was opened from (after the user's keymap), with their ids."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

LEGEND = (
    "The list's marks: * tagged, N unread, ! flagged, A attachment, r answered; in search results, S: found on the "
    "server, its body not downloaded yet (it downloads when opened)."
)


class HelpScreen(ModalScreen[None]):
    """Lists (key, what it does, binding id) rows; j/k scroll; any of q, Escape or ? closes it."""

    BINDINGS = [
        Binding("q,escape,question_mark", "dismiss_help", "Close", id="help.close"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="help.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="help.up"),
        Binding("space,pagedown", "page(1)", "Page down", show=False, id="help.page-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="help.page-up"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 78; max-width: 100%; height: 90%; border: round $primary;
                                  background: $surface; padding: 0 1; }
    """

    def __init__(self, rows: list[tuple[str, str, str]] | list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = [(r[0], r[1], r[2] if len(r) > 2 else "") for r in rows]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, expand=True, pad_edge=False)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        table.add_column(Text("Id ([keymap])"), style="dim", no_wrap=True)
        for key, description, ident in self.rows:
            table.add_row(Text(key), Text(description), Text(ident))
        with VerticalScroll():
            yield Static(Text("Keys  (j/k scroll, q closes; remap by id in the config's [keymap])", style="bold"))
            yield Static(table)
            yield Static(Text(LEGEND, style="dim"))

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_page(self, pages: int) -> None:
        scroller = self.query_one(VerticalScroll)
        if pages > 0:
            scroller.scroll_page_down(animate=False)
        else:
            scroller.scroll_page_up(animate=False)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
