"""The keymap the app applies: a preset (default or mutt), the user's [keymap] on top, every id checked."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding, BindingType

from .bindings import ALL_BINDINGS

# `[ui] keys = "mutt"`: the habits of mutt users (the default keys stay as they are).
PRESETS: dict[str, dict[str, str]] = {
    "default": {},
    "mutt": {
        "mail.compose": "m",
        "mail.move": "s",
        "mail.flag": "F",
        "mail.toggle-read": "N",
        "app.goto-folder": "c",
        # mutt tags with t and keeps N for toggle-new: threads go to ctrl+t, the previous search hit to alt+n
        # (mutt's Esc-prefixed keys); v still tags.
        "tag.toggle": "t,v",
        "list.threads": "ctrl+t",
        "search.previous": "alt+n",
    },
}


def _ids(bindings: Iterable[BindingType]) -> set[str]:
    return {b.id for b in bindings if isinstance(b, Binding) and b.id}


def known_ids() -> set[str]:
    """Every binding id of the app, its screens included (they are imported here, after the first paint)."""
    from .screens.compose import ComposeScreen
    from .screens.confirm import ConfirmScreen
    from .screens.folder_picker import DirectoryScreen, PickerScreen
    from .screens.help import HelpScreen

    ids = _ids(ALL_BINDINGS)
    for screen in (ComposeScreen, ConfirmScreen, DirectoryScreen, PickerScreen, HelpScreen):
        ids |= _ids(screen.BINDINGS)
    return ids


def resolve(preset: str, user: dict[str, str], ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """The keymap for App.set_keymap and the user's ids that name no binding.

    A short id ("reply", "reply_all", "down") names every binding whose id ends in it ("mail.reply", the three
    "….down"), so the README's `reply = "r"` works as written."""
    keymap = dict(PRESETS.get(preset, {}))
    unknown: list[str] = []
    for given, keys in user.items():
        if given in ids:
            keymap[given] = keys
            continue
        short = given.replace("_", "-")
        matches = [i for i in ids if i.split(".", 1)[-1] == short]
        if not matches:
            unknown.append(given)
        for match in matches:
            keymap[match] = keys
    return keymap, unknown
