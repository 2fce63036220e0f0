"""Every key binding of the UI, each with an id so the config's [keymap] can remap it (App.set_keymap)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

# App-wide: accounts, message actions (on the list's cursor or the open message), sync, help, quit.
APP_BINDINGS: list[BindingType] = [
    Binding("q", "quit", "Quit", id="app.quit"),
    Binding("escape", "back", "Back", show=False, id="app.back"),
    *(Binding(str(n), f"account({n - 1})", f"Account {n}", show=False, id=f"app.account-{n}") for n in range(1, 10)),
    Binding("0", "unified", "All inboxes", show=False, id="app.all-inboxes"),
    Binding("ctrl+n", "next_account", "Next account", show=False, id="app.next-account"),
    Binding("ctrl+p", "previous_account", "Previous account", show=False, id="app.previous-account"),
    Binding("c", "compose", "Compose", id="mail.compose"),
    Binding("r", "reply", "Reply", id="mail.reply"),
    Binding("R", "reply_all", "Reply all", show=False, id="mail.reply-all"),
    Binding("f", "forward", "Forward", show=False, id="mail.forward"),
    Binding("e", "edit_draft", "Edit draft", id="mail.edit-draft"),
    Binding("z", "undo_send", "Undo send", id="mail.undo-send"),
    Binding("d", "delete", "Delete", id="mail.delete"),
    Binding("m", "move", "Move", id="mail.move"),
    Binding("s", "flag", "Flag", show=False, id="mail.flag"),
    Binding("u", "toggle_read", "Read/unread", show=False, id="mail.toggle-read"),
    Binding("U", "undo", "Undo move/delete", show=False, id="mail.undo"),
    Binding("P", "pending", "Pending actions", show=False, id="app.pending"),
    Binding("slash", "filter", "Search", id="list.filter"),
    Binding("dollar_sign", "sync", "Sync", id="app.sync"),
    Binding("p", "toggle_reader", "Reader pane", show=False, id="app.toggle-reader"),
    Binding("b", "toggle_folders", "Folder pane", show=False, id="app.toggle-folders"),
    Binding("C", "goto_folder", "Go to folder", show=False, id="app.goto-folder"),
    Binding("question_mark", "help", "Help", id="app.help"),
    Binding("colon,ctrl+k", "command_palette", "Commands", show=False, id="app.command-palette"),
    # Tagging (the main view): d, m, s and u then act on every tagged message.
    Binding("v", "tag", "Tag", show=False, id="tag.toggle"),
    Binding("V", "tag_range", "Tag range", show=False, id="tag.range"),
    Binding("T", "tag_matching", "Tag all matching", show=False, id="tag.all"),
    # Conversations and order (ui/threads_view.py); d, m, s and u on a collapsed thread act on the whole thread.
    Binding("t", "toggle_threads", "Threads on/off", show=False, id="list.threads"),
    Binding("minus", "fold_thread", "Collapse/expand thread", show=False, id="thread.fold"),
    Binding("underscore", "fold_all", "Collapse/expand all threads", show=False, id="thread.fold-all"),
    Binding("ctrl+r", "thread_read", "Mark thread read", show=False, id="thread.read"),
    Binding("ctrl+d", "thread_delete", "Delete thread", show=False, id="thread.delete"),
    Binding("M", "thread_move", "Move thread", show=False, id="thread.move"),
    Binding("o", "sort", "Sort by…", show=False, id="list.sort"),
    Binding("O", "sort_reverse", "Reverse sort", show=False, id="list.sort-reverse"),
    Binding("n", "search_next", "Next search hit", show=False, id="search.next"),
    Binding("N", "search_previous", "Previous search hit", show=False, id="search.previous"),
]

# The message list (when focused).
LIST_BINDINGS: list[BindingType] = [
    Binding("j,down", "cursor_down", "Down", show=False, id="list.down"),
    Binding("k,up", "cursor_up", "Up", show=False, id="list.up"),
    Binding("g", "go_top_prefix", "Top (g g)", show=False, id="list.top"),
    Binding("home", "go_top", "Top", show=False, id="list.home"),
    Binding("G,end", "go_bottom", "Bottom", show=False, id="list.bottom"),
    Binding("pageup", "page_up", "Page up", show=False, id="list.page-up"),
    Binding("pagedown,space", "page_down", "Page down", show=False, id="list.page-down"),
    Binding("enter", "open", "Open", id="list.open"),
]

# The folder pane (an OptionList; arrows and Enter come with it).
FOLDER_BINDINGS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False, id="folders.down"),
    Binding("k", "cursor_up", "Up", show=False, id="folders.up"),
]

# The reader (pane or full screen).
READER_BINDINGS: list[BindingType] = [
    Binding("j,down", "scroll_down", "Scroll down", show=False, id="reader.down"),
    Binding("k,up", "scroll_up", "Scroll up", show=False, id="reader.up"),
    Binding("space,pagedown", "page_down", "Page down", show=False, id="reader.page-down"),
    Binding("pageup", "page_up", "Page up", show=False, id="reader.page-up"),
    Binding("o", "open_attachment", "Open attachment", id="reader.open-attachment"),
    Binding("S", "save_attachment", "Save attachment", id="reader.save-attachment"),
    Binding("h", "toggle_headers", "All headers", show=False, id="reader.headers"),
    Binding("e,v", "toggle_source", "Raw source", show=False, id="reader.source"),
]

# The full-screen reader: j/k (and J/K) move to the next/previous message, Space pages then moves to the next unread.
READER_SCREEN_BINDINGS: list[BindingType] = [
    Binding("q,escape", "close", "Back", id="reader.close"),
]
FULL_READER_BINDINGS: list[BindingType] = [
    Binding("j,J", "screen.step(1)", "Next message", show=False, id="reader.next"),
    Binding("k,K", "screen.step(-1)", "Previous message", show=False, id="reader.previous"),
    Binding("space", "screen.page_or_next_unread", "Page / next unread", show=False, id="reader.page-or-next"),
]

# Every binding list above, for the keymap's id check and the help screen.
ALL_BINDINGS: list[BindingType] = [
    *APP_BINDINGS,
    *LIST_BINDINGS,
    *FOLDER_BINDINGS,
    *READER_BINDINGS,
    *READER_SCREEN_BINDINGS,
    *FULL_READER_BINDINGS,
]
