"""Turn untrusted strings (headers, bodies, file names) into inert display text: no markup, no control sequences."""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

try:  # the MIME helper owns the real rules; this fallback only keeps the UI importable before it lands
    from ...mime import sanitize_text as _sanitize
except ImportError:  # pragma: no cover - transitional
    _CONTROL = re.compile(
        r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
        r"|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
    )

    def _sanitize(s: str) -> str:
        return _CONTROL.sub("", s)


_WS = re.compile(r"[\r\n\t\v\f]+")


def clean(s: str) -> str:
    """Multi-line text with every control/escape/bidi sequence neutralised (keeps newlines and tabs)."""
    return _sanitize(s or "")


def clean_line(s: str) -> str:
    """One display line: clean() with line breaks and tabs folded into single spaces."""
    return _WS.sub(" ", _sanitize(s or "")).strip()


def inert(s: str, style: Style | str = "") -> Text:
    """A rich Text built from a plain string (never parsed as markup), after clean()."""
    return Text(clean(s), style=style, end="")


def inert_line(s: str, style: Style | str = "") -> Text:
    """A single-line rich Text built from a plain string (never parsed as markup), after clean_line()."""
    return Text(clean_line(s), style=style, end="")
