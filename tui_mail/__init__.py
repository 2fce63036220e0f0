"""tui-mail: a terminal email client over a local SQLite cache."""

__version__ = "0.1.0"
