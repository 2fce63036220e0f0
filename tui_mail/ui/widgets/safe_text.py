"""Turn untrusted strings (headers, bodies, file names) into inert display text: no markup, no control sequences."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from ...mime import sanitize_line, sanitize_text


def clean(s: str) -> str:
    """Multi-line text with every control/escape/bidi sequence neutralised (keeps newlines and tabs)."""
    return sanitize_text(s or "")


def clean_line(s: str) -> str:
    """One display line: clean() with every run of whitespace folded into one space."""
    return sanitize_line(s or "")


def inert(s: str, style: Style | str = "") -> Text:
    """A rich Text built from a plain string (never parsed as markup), after clean()."""
    return Text(clean(s), style=style, end="")


def inert_line(s: str, style: Style | str = "") -> Text:
    """A single-line rich Text built from a plain string (never parsed as markup), after clean_line()."""
    return Text(clean_line(s), style=style, end="")
