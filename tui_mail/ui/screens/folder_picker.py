"""Small modal pickers: choose a folder (move), choose an attachment, type a directory to save into."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...models import Folder
from ..widgets.folder_pane import folder_title


class PickerScreen(ModalScreen[int | None]):
    """A titled list of choices; dismisses with the chosen value (an int) or None on Escape."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="picker.cancel")]

    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical { width: 50; height: auto; max-height: 80%; border: round $primary;
                              background: $surface; padding: 0 1; }
    PickerScreen OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, title: str, choices: list[tuple[int, Text]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"), markup=False)
            yield OptionList(*(Option(label, id=str(value)) for value, label in self.choices), markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)


class FolderPickerScreen(PickerScreen):
    """Pick the folder to move a message to (the current folder is left out)."""

    def __init__(self, folders: list[Folder], exclude: int | None = None) -> None:
        super().__init__("Move to folder", [(f.id, Text(folder_title(f))) for f in folders if f.id != exclude])


class DirectoryScreen(ModalScreen[str | None]):
    """Ask for a directory (to save attachments into); dismisses with the text or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="directory.cancel")]

    DEFAULT_CSS = """
    DirectoryScreen { align: center middle; }
    DirectoryScreen > Vertical { width: 70; height: auto; border: round $primary; background: $surface; padding: 0 1; }
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
