"""Untrusted mail bytes -> safe displayable parts, and outgoing mail; the public names of the package's modules.

charsets (bytes -> str), sanitize (what may reach a terminal), headers (where headers end, field values), addresses,
structure (the one body/attachment walk), rawtree + envelope (the list at sync time), parsed + htmltext + render
(the reader), indextext (the search index's text), compose (outgoing mail, reply, forward).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The submodules load on first use of one of their names: the UI's first screen needs sanitize (a few ms), not
# compose/render and the email package behind them.
if TYPE_CHECKING:
    from .addresses import compose_addr, format_addresses, lookalike_address, parse_addresses, sender_warning
    from .charsets import decode_bytes, decode_header_text
    from .compose import Draft, build_message, forward_draft, recipients, reply_draft
    from .envelope import SNIPPET_CHARS, parse_envelope
    from .headers import normalize_msgid, normalize_references, parse_date
    from .htmltext import html_snippet_text, html_to_text
    from .render import (
        Attachment,
        ParsedMessage,
        RenderedMessage,
        attachment_bytes,
        format_local_date,
        parse_message,
        quote_depth,
        render_message,
    )
    from .sanitize import safe_filename, sanitize_line, sanitize_text
    from .structure import (
        MAX_DEPTH,
        NOTE_BAD_ENCODING,
        NOTE_DAMAGED,
        NOTE_ENCRYPTED,
        NOTE_TOO_DEEP,
        NOTE_TOO_MANY,
        NOTE_UNPARSEABLE,
    )

_MODULES = {  # public name -> the submodule that defines it
    "compose_addr": "addresses",
    "format_addresses": "addresses",
    "lookalike_address": "addresses",
    "parse_addresses": "addresses",
    "sender_warning": "addresses",
    "decode_bytes": "charsets",
    "decode_header_text": "charsets",
    "Draft": "compose",
    "build_message": "compose",
    "forward_draft": "compose",
    "recipients": "compose",
    "reply_draft": "compose",
    "SNIPPET_CHARS": "envelope",
    "parse_envelope": "envelope",
    "normalize_msgid": "headers",
    "normalize_references": "headers",
    "parse_date": "headers",
    "html_snippet_text": "htmltext",
    "html_to_text": "htmltext",
    "Attachment": "render",
    "ParsedMessage": "render",
    "RenderedMessage": "render",
    "attachment_bytes": "render",
    "format_local_date": "render",
    "parse_message": "render",
    "quote_depth": "render",
    "render_message": "render",
    "safe_filename": "sanitize",
    "sanitize_line": "sanitize",
    "sanitize_text": "sanitize",
    "MAX_DEPTH": "structure",
    "NOTE_BAD_ENCODING": "structure",
    "NOTE_DAMAGED": "structure",
    "NOTE_ENCRYPTED": "structure",
    "NOTE_TOO_DEEP": "structure",
    "NOTE_TOO_MANY": "structure",
    "NOTE_UNPARSEABLE": "structure",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_DEPTH",
    "NOTE_BAD_ENCODING",
    "NOTE_DAMAGED",
    "NOTE_ENCRYPTED",
    "NOTE_TOO_DEEP",
    "NOTE_TOO_MANY",
    "NOTE_UNPARSEABLE",
    "SNIPPET_CHARS",
    "Attachment",
    "Draft",
    "ParsedMessage",
    "RenderedMessage",
    "attachment_bytes",
    "build_message",
    "compose_addr",
    "decode_bytes",
    "decode_header_text",
    "format_addresses",
    "format_local_date",
    "forward_draft",
    "html_snippet_text",
    "html_to_text",
    "lookalike_address",
    "normalize_msgid",
    "normalize_references",
    "parse_addresses",
    "parse_date",
    "parse_envelope",
    "parse_message",
    "quote_depth",
    "recipients",
    "render_message",
    "reply_draft",
    "safe_filename",
    "sanitize_line",
    "sanitize_text",
    "sender_warning",
]
