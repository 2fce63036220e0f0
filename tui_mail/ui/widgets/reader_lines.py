"""The reader's text as plain lines: render a message off the UI thread, cut monster lines, word-wrap to a width."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from rich.cells import cell_len, get_character_cell_size

from ... import mime
from .safe_text import clean, clean_line

MAX_LINE = 4000  # characters kept of one logical line; the rest is replaced by a visible marker
MAX_HEADER = 2000  # characters kept of one header value
RAW_CAP = 8 * 1024 * 1024  # bytes of the raw source shown by the source view

if TYPE_CHECKING:  # the MIME reader (and the email package) load when a message is first shown
    from ...mime import Attachment as AttachmentInfo


class Line(NamedTuple):
    """One logical line: an optional bold label (headers), the text, and a style name the widget resolves.
    (A tuple: a 50,000-line body makes 50,000 of them in the worker, under the GIL.)"""

    text: str
    style: str = ""
    label: str = ""


@dataclass(slots=True)
class ReaderContent:
    """What the reader shows of a message body."""

    body: str = ""
    attachments: list[AttachmentInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warning: str = ""  # the sender's name pretends to be another address: shown first, in red


def render_content(raw: bytes) -> ReaderContent:
    """Parse a raw message for display; never raises (a broken message shows what can be shown plus a note)."""
    try:
        rendered = mime.render_message(raw)
    except Exception as e:  # the UI never crashes on a message
        return ReaderContent(notes=[f"This message could not be displayed ({type(e).__name__})."])
    notes = [n for n in rendered.notes if n != rendered.sender_warning]
    return ReaderContent(rendered.text, list(rendered.attachments), notes, rendered.sender_warning)


def cut(line: str, limit: int = MAX_LINE) -> str:
    """The line, or its first `limit` characters and a marker saying how long it was."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]} … [line cut: {len(line):,} characters]"


def cut_lines(line: str, style: str = "") -> list[Line]:
    """One line, or its first MAX_LINE characters and a marker line saying how long it was."""
    if len(line) <= MAX_LINE:
        return [Line(line, style)]
    return [Line(line[:MAX_LINE], style), Line(f"… [line cut: {len(line):,} characters]", "note")]


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


_QUOTE_START = (">", " ")


def _quoted(line: str) -> Line:
    depth = mime.quote_depth(line)
    return Line(line, "" if depth == 0 else ("quote" if depth == 1 else "quote2"))


def body_lines(body: str) -> list[Line]:
    """The body as lines (quoted lines dimmed, deeper quotes dimmer), each cut at MAX_LINE characters."""
    out: list[Line] = []
    # Cut first, then sanitize what is kept: a 2 MB line costs 4,000 characters of regex work, not 2 MB (regex
    # work holds the GIL, and the UI thread waits for it).
    raw_lines = body.split("\n")
    long = {i: len(line) for i, line in enumerate(raw_lines) if len(line) > MAX_LINE}
    if long:
        raw_lines = [line[: MAX_LINE + 64] if i in long else line for i, line in enumerate(raw_lines)]
    cleaned = clean("\n".join(raw_lines)).split("\n")
    if len(cleaned) != len(raw_lines):  # sanitizing changed the line structure: cut what it gave
        long, cleaned = {}, clean(body).split("\n")
    tabs = "\t" in body
    if not long and not tabs and all(len(line) <= MAX_LINE for line in cleaned):  # the common case, at C speed
        out = [Line(line) if line[:1] not in _QUOTE_START else _quoted(line) for line in cleaned]
        if out and not out[-1].text:
            out.pop()
        return out
    for i, line in enumerate(cleaned):
        if "\t" in line:
            line = line.expandtabs(8)
        depth = mime.quote_depth(line) if line[:1] in (">", " ") else 0
        style = "" if depth == 0 else ("quote" if depth == 1 else "quote2")
        if i in long:
            out.append(Line(line[:MAX_LINE], style))
            out.append(Line(f"… [line cut: {long[i]:,} characters]", "note"))
        elif len(line) <= MAX_LINE:
            out.append(Line(line, style))
        else:
            out.extend(cut_lines(line, style))
    if out and not out[-1].text:
        out.pop()
    return out


def attachment_lines(atts: list[AttachmentInfo]) -> list[Line]:
    if not atts:
        return []
    out = [Line(""), Line("Attachments (o open · S save):", "attachments-title")]
    for n, a in enumerate(atts, 1):
        details = ", ".join(x for x in (clean_line(a.content_type), human_size(a.size) if a.size else "") if x)
        name = cut(clean_line(a.filename), MAX_HEADER)
        out.append(Line(f"  [{n}] {name}" + (f"  ({details})" if details else ""), "attachment"))
    return out


def all_header_lines(raw: bytes) -> list[Line]:
    """Every header of the message, decoded and made inert (the `h` view)."""
    end = raw.find(b"\r\n\r\n")
    end2 = raw.find(b"\n\n")
    cuts = [e for e in (end, end2) if e >= 0]
    head = raw[: min(cuts)] if cuts else raw[:65536]
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(head[: 1024 * 1024])
        items = [(str(k), str(v)) for k, v in msg.items()]
    except Exception:
        items = []
    out: list[Line] = []
    for name, value in items:
        try:
            value = mime.decode_header_text(value)
        except Exception:
            pass
        label = clean_line(name)[:40] + ": "
        out.append(Line(cut(clean_line(value), MAX_HEADER), "", label))
    return out


def source_lines(raw: bytes) -> list[Line]:
    """The raw message (the `e`/`v` source view): decoded as UTF-8 where it is, inert, long lines cut."""
    text = raw[:RAW_CAP].decode("utf-8", "replace").replace("\r\n", "\n")
    lines = [part for line in clean(text).split("\n") for part in cut_lines(line.expandtabs(8))]
    if len(raw) > RAW_CAP:
        lines.append(Line(f"… [source cut: {len(raw):,} bytes]", "note"))
    return lines


@dataclass(slots=True)
class Prepared:
    """A message made ready for the reader in a worker: its content and its lines (notes, body, attachments)."""

    content: ReaderContent
    lines: list[Line]
    headers: list[Line] = field(default_factory=list)  # every header, when asked for


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Automatic garbage collection off while a worker builds a big body's objects. Otherwise the full collections
    its allocations trigger run in the worker holding the GIL, and the UI stalls for each (measured by
    bench/hostile_bench.py: 40-900 ms per collection while a 5 MB HTML body is converted). Objects freed by reference
    counting go at once as usual; cycles wait for the next collection after the work."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


def prepare(raw: bytes, *, mode: str = "text") -> Prepared:
    """Everything proportional to the message's size: parse, sanitize, cut. mode: text, headers (all) or source.
    Runs in a worker for big messages (see gc_paused)."""
    with gc_paused():
        return _prepare(raw, mode)


def _prepare(raw: bytes, mode: str) -> Prepared:
    if mode == "source":
        return Prepared(ReaderContent(), source_lines(raw))
    content = render_content(raw)
    lines = [Line(clean_line(content.warning), "danger")] if content.warning else []
    lines += [Line(clean_line(n), "note") for n in content.notes]
    if lines:
        lines.append(Line(""))
    lines.extend(body_lines(content.body))
    lines.extend(attachment_lines(content.attachments))
    headers = all_header_lines(raw) if mode == "headers" else []
    return Prepared(content, lines, headers)


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap one line to `width` cells (words longer than a line are broken)."""
    if width <= 0:
        return [text]
    if text.isascii():
        if len(text) <= width:
            return [text]
        out: list[str] = []
        while len(text) > width:
            at = text.rfind(" ", 0, width + 1)
            if at <= 0:
                out.append(text[:width])
                text = text[width:]
            else:
                out.append(text[:at])
                text = text[at + 1 :]
        out.append(text)
        return out
    if cell_len(text) <= width:
        return [text]
    return _wrap_cells(text, width)


def _wrap_cells(text: str, width: int) -> list[str]:
    out: list[str] = []
    line: list[str] = []
    used = 0
    last_space = -1
    for ch in text:
        w = get_character_cell_size(ch)
        if used + w > width:
            if ch == " ":
                out.append("".join(line))
                line, used, last_space = [], 0, -1
                continue
            if last_space > 0:
                out.append("".join(line[:last_space]))
                line = line[last_space + 1 :]
                used = sum(get_character_cell_size(c) for c in line)
            else:
                out.append("".join(line))
                line, used = [], 0
            last_space = -1
        if ch == " ":
            last_space = len(line)
        line.append(ch)
        used += w
    out.append("".join(line))
    return out


def wrap_lines(lines: list[Line], width: int) -> list[Line]:
    """Display lines for a width; continuation lines of a labelled line are indented under its text."""
    out: list[Line] = []
    for line in lines:
        if line.label:
            pad = len(line.label)
            parts = wrap(line.text, max(10, width - pad))
            out.append(Line(parts[0], line.style, line.label))
            out.extend(Line(p, line.style, " " * pad) for p in parts[1:])
        else:
            parts = wrap(line.text, width)
            if len(parts) == 1:
                out.append(line)
            else:
                out.extend(Line(p, line.style) for p in parts)
    return out
