"""The folder pane: every account as a group, its folders (role folders first) with unread counts, from the cache."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from ...models import Folder, Role
from ..bindings import FOLDER_BINDINGS
from .safe_text import clean_line

ROLE_TITLES: dict[Role, str] = {
    Role.INBOX: "Inbox",
    Role.DRAFTS: "Drafts",
    Role.SENT: "Sent",
    Role.OUTBOX: "Outbox",
    Role.ARCHIVE: "Archive",
    Role.JUNK: "Junk",
    Role.TRASH: "Trash",
}


@dataclass(frozen=True, slots=True)
class AccountFolders:
    """One group of the pane: an account and its folders as the cache lists them."""

    account: str
    folders: list[Folder]
    label: str = ""
    outbox: int = 0  # messages waiting to be sent: shown as a virtual "Outbox" entry when there are any


def folder_title(folder: Folder) -> str:
    """The name shown for a folder: its role's name for special folders, else the last part of its path; copies
    kept on this computer after their server folder went ("Local/Sent") say so."""
    if folder.local_only and folder.name.startswith("Local/"):
        return clean_line(folder.name)
    if folder.role in ROLE_TITLES:
        return ROLE_TITLES[folder.role]
    return clean_line(folder.display_name)


UNIFIED_OPTION = "u"


def folder_option_id(account_index: int, folder_id: int) -> str:
    return f"f:{account_index}:{folder_id}"


class FolderPane(OptionList):
    """Accounts and folders; Enter opens a folder (posts FolderChosen)."""

    BINDINGS = FOLDER_BINDINGS

    class OutboxChosen(Message):
        """The user picked an account's virtual Outbox entry."""

        def __init__(self, account_index: int) -> None:
            super().__init__()
            self.account_index = account_index

    class UnifiedChosen(Message):
        """The user picked "All inboxes" (every account's Inbox in one list)."""

    class FolderChosen(Message):
        """The user picked a folder."""

        def __init__(self, account_index: int, folder_id: int) -> None:
            super().__init__()
            self.account_index = account_index
            self.folder_id = folder_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.groups: list[AccountFolders] = []
        self.current: tuple[int, int] | None = None

    def show(
        self,
        groups: list[AccountFolders],
        current: tuple[int, int] | None,
        *,
        unified: int | None = None,
        unified_current: bool = False,
    ) -> None:
        """Rebuild the options (a handful of rows) keeping the highlight on the current folder; unified: the
        unread count of "All inboxes" (None: not shown), listed first."""
        self.groups = groups
        self.current = current
        highlighted_id = None
        if self.highlighted is not None and self.highlighted < self.option_count:
            highlighted_id = self.get_option_at_index(self.highlighted).id
        options: list[Option] = []
        if unified is not None:
            line = Text("0 ", style="dim", end="")
            line.append("All inboxes", style=("bold " if unified else "") + ("underline" if unified_current else ""))
            if unified:
                line.append(f" {unified}", style="bold cyan")
            options.append(Option(line, id=UNIFIED_OPTION))
        for i, group in enumerate(groups):
            head = Text(end="")
            head.append(f"{i + 1} " if i < 9 else "  ", style="dim")
            head.append(clean_line(group.label or group.account), style="bold")
            options.append(Option(head, id=f"a:{i}", disabled=True))
            shown = {f.name for f in group.folders}
            for folder in group.folders:
                depth = 0
                if folder.role is Role.NONE and folder.delimiter:
                    depth = folder.name.count(folder.delimiter)
                    parts = folder.name.split(folder.delimiter)
                    skip = 0
                    if folder.name.upper().startswith("INBOX" + folder.delimiter):
                        depth -= 1  # personal folders under an "INBOX." namespace are not shown inside Inbox
                        skip = 1
                    depth = min(depth, 4)
                    # A parent that cannot hold mail (not in the list): shown once as a heading, so its
                    # children sit under their real path rather than under whatever folder came before.
                    for level in range(1 + skip, min(len(parts), 5 + skip)):
                        parent = folder.delimiter.join(parts[:level])
                        if parent not in shown:
                            shown.add(parent)
                            indent = "  " + "  " * (level - 1 - skip)
                            heading = Text(indent + clean_line(parts[level - 1]), style="dim")
                            options.append(Option(heading, id=f"p:{i}:{parent}", disabled=True))
                line = Text("  " + "  " * depth, end="")
                is_current = current == (i, folder.id)
                name_style = "bold" if folder.unread else ""
                if is_current:
                    name_style = (name_style + " underline").strip()
                line.append(folder_title(folder), style=name_style)
                if folder.unread:
                    line.append(f" {folder.unread}", style="bold cyan")
                options.append(Option(line, id=folder_option_id(i, folder.id)))
            if group.outbox:
                line = Text("  ", end="")
                line.append("Outbox", style="italic")
                line.append(f" {group.outbox}", style="bold magenta")
                options.append(Option(line, id=f"o:{i}"))
        self.set_options(options)
        target = highlighted_id
        if target is None and current is not None:
            target = folder_option_id(*current)
        if target is None and unified_current:
            target = UNIFIED_OPTION
        if target is not None:
            try:
                self.highlighted = self.get_option_index(target)
            except OptionDoesNotExist:
                self.highlighted = None

    def highlight_folder(self, account_index: int, folder_id: int) -> None:
        try:
            self.highlighted = self.get_option_index(folder_option_id(account_index, folder_id))
        except OptionDoesNotExist:
            pass

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id == UNIFIED_OPTION:
            self.post_message(self.UnifiedChosen())
        if option_id.startswith("o:"):
            self.post_message(self.OutboxChosen(int(option_id[2:])))
        if option_id.startswith("f:"):
            _, acc, fid = option_id.split(":")
            self.post_message(self.FolderChosen(int(acc), int(fid)))
