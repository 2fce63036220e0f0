"""The screen of the three panes (folders, list, reader) that MailApp composes."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen


class MainScreen(Screen[Any]):
    """The three panes. The message list has the focus from the start (focusing the folder pane first, then moving
    the focus, restyles the whole screen once more before the first paint)."""

    AUTO_FOCUS = "#messages"
