"""Widgets of the main view: folder pane, virtual message list, reader, status line."""
