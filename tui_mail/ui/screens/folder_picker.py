"""Small modal pickers: choose a folder (go to, move), choose an attachment, type a path to save into."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...models import Folder, Role
from ..widgets.folder_pane import folder_title
from ..widgets.safe_text import clean_line


class PickerScreen(ModalScreen[int | None]):
    """A titled list of choices; dismisses with the chosen value (an int) or None on Escape.

    j/k move in every picker. A filterable picker narrows the list as you type: any other letter (or /) starts
    the filter, Down/Up move while typing, Enter picks the highlighted choice."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("q", "cancel_unless_typing", "Cancel", show=False, id="picker.quit"),
        Binding("j,down,ctrl+n", "move(1)", "Down", show=False, id="picker.down"),
        Binding("k,up,ctrl+p", "move(-1)", "Up", show=False, id="picker.up"),
    ]

    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical { width: 50; max-width: 100%; height: auto; max-height: 80%; border: round $primary;
                              background: $surface; padding: 0 1; }
    PickerScreen OptionList { height: auto; max-height: 20; }
    PickerScreen #picker-filter { display: none; height: 1; border: none; padding: 0; }
    PickerScreen #picker-filter.-shown { display: block; }
    """

    def __init__(self, title: str, choices: list[tuple[int, Text]], *, filterable: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.filterable = filterable

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"), markup=False)
            yield Input(placeholder="type to filter", id="picker-filter", select_on_focus=False)
            yield OptionList(*self._options(""), markup=False)

    def _options(self, text: str) -> list[Option]:
        needle = text.casefold().strip()
        return [
            Option(label, id=str(value))
            for value, label in self.choices
            if not needle or needle in label.plain.casefold()
        ]

    @property
    def option_list(self) -> OptionList:
        return self.query_one(OptionList)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#picker-filter", Input)

    def on_mount(self) -> None:
        self.option_list.focus()
        if self.option_list.option_count:
            self.option_list.highlighted = 0

    def on_key(self, event: events.Key) -> None:
        """Type-to-filter: a printable key other than j, k and q (or /) starts the filter."""
        if not self.filterable or self.focused is not self.option_list:
            return
        char = event.character
        if event.is_printable and char and char not in "jkq":
            event.stop()
            event.prevent_default()
            box = self.filter_input
            box.add_class("-shown")
            box.focus()
            if char != "/":
                box.insert_text_at_cursor(char)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "picker-filter":
            return
        event.stop()
        ol = self.option_list
        ol.clear_options()
        ol.add_options(self._options(event.value))
        if ol.option_count:
            ol.highlighted = 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "picker-filter":
            return
        event.stop()
        ol = self.option_list
        if ol.highlighted is not None and ol.option_count:
            self.dismiss(int(ol.get_option_at_index(ol.highlighted).id or 0))

    def action_move(self, delta: int) -> None:
        ol = self.option_list
        if not ol.option_count:
            return
        current = ol.highlighted if ol.highlighted is not None else -1
        ol.highlighted = max(0, min(ol.option_count - 1, current + delta))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_cancel_unless_typing(self) -> None:
        if self.focused is self.filter_input:
            self.filter_input.insert_text_at_cursor("q")
        else:
            self.dismiss(None)


def folder_path_title(folder: Folder) -> Text:
    """A folder as the pickers show it: its role name or its full path (so "Lists/rust" is findable by "list")."""
    if folder.role is not Role.NONE:
        return Text(folder_title(folder))
    name = folder.name.replace(folder.delimiter, "/") if folder.delimiter else folder.name
    return Text(clean_line(name) or folder_title(folder))


CREATE = -1  # what a folder picker returns for its "Create folder" entry (the name is in .new_name)


class FolderPickerScreen(PickerScreen):
    """Pick a folder by typing part of its name (the current folder is left out of a move). With can_create, a
    typed name that matches no folder is offered as a new folder ("Projects/2026": "/" separates levels)."""

    def __init__(
        self,
        folders: list[Folder],
        exclude: int | None = None,
        *,
        title: str = "Move to folder",
        can_create: bool = False,
    ) -> None:
        super().__init__(title, [(f.id, folder_path_title(f)) for f in folders if f.id != exclude], filterable=True)
        self.can_create = can_create
        self.new_name = ""
        self._names = {folder_path_title(f).plain.casefold() for f in folders}

    def _options(self, text: str) -> list[Option]:
        options = super()._options(text)
        name = clean_line(text).strip().strip("/")
        if self.can_create and name and name.casefold() not in self._names:
            self.new_name = name
            options.append(Option(Text(f"+ Create folder “{name}”", style="italic"), id=str(CREATE)))
        return options


class DirectoryScreen(ModalScreen[str | None]):
    """Ask for a directory or a file path (to save attachments to); dismisses with the text or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="directory.cancel")]

    DEFAULT_CSS = """
    DirectoryScreen { align: center middle; }
    DirectoryScreen > Vertical { width: 70; max-width: 100%; height: auto; border: round $primary;
                                 background: $surface; padding: 0 1; }
    """

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"), markup=False)
            yield Input(self.default, id="directory")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
