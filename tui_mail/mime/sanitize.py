"""What may reach a terminal: untrusted text made inert, and sender-supplied filenames made safe."""

from __future__ import annotations

import mimetypes
import re

# Whole escape sequences (7-bit ESC forms and their 8-bit C1 equivalents). String-type sequences (OSC, DCS, SOS, PM,
# APC) run to their terminator (BEL or ST); an unterminated one is cut at the end of the line.
_ESCAPE_SEQ = re.compile(
    r"""
    \x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?                    # OSC/DCS/SOS/PM/APC ... BEL|ST
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)             # 8-bit forms, terminated only
    | (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                                         # CSI params intermediates final
    | \x1b[ -/]*[0-~]?                                                         # nF/Fp/Fe/Fs two-byte escapes
    """,
    re.VERBOSE,
)

# Single characters that must not reach a terminal: C0 (except \t \n), DEL, C1, bidi controls, invisible format
# characters that can spoof text, BOM, interlinear annotations, and lone surrogates (undecodable bytes).
_BAD_CHARS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff"
)
_BAD_CHAR_RE = re.compile(f"[{_BAD_CHARS}]")
_NEEDS_WORK = re.compile(f"[\\r\\u2028\\u2029{_BAD_CHARS}]")
SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _drop_bad_char(m: re.Match[str]) -> str:
    return "\ufffd" if "\ud800" <= m.group() <= "\udfff" else ""


def sanitize_text(s: str) -> str:
    """Make untrusted text inert for a terminal; keeps newlines and tabs, never touches markup-like brackets.

    Removes ANSI/OSC/DCS escape sequences whole, all other C0/C1 controls, bidi overrides/isolates and invisible
    format characters; \\r\\n becomes \\n, a lone \\r is dropped, U+2028/U+2029 become \\n, lone surrogates
    (undecodable bytes) become U+FFFD.
    """
    if not s or not _NEEDS_WORK.search(s):
        return s
    if "\x1b" in s or any(c in s for c in "\x90\x98\x9b\x9d\x9e\x9f"):
        s = _ESCAPE_SEQ.sub("", s)
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "")
    if "\u2028" in s or "\u2029" in s:
        s = s.replace("\u2028", "\n").replace("\u2029", "\n")
    return _BAD_CHAR_RE.sub(_drop_bad_char, s)


def sanitize_line(s: str) -> str:
    """sanitize_text for one-line fields (headers, snippets): every run of whitespace becomes one space, trimmed."""
    if s.isascii() and s.isprintable():  # nothing to neutralise (the common case)
        return " ".join(s.split())
    words = plain_words(s)
    return words if words is not None else " ".join(sanitize_text(s).split())


# Whitespace that sanitize_text() removes (instead of keeping some whitespace in its place); \r only when alone.
_DROPPED_SPACES = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85")


def plain_words(s: str) -> str | None:
    """The words of s joined by single spaces, when that is exactly sanitize_line(s); else None."""
    if "\r" in s and s.count("\r") != s.count("\r\n"):
        return None
    for c in _DROPPED_SPACES:
        if c in s:
            return None
    words = " ".join(s.split())
    return words if words.isprintable() else None


_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)
_FILENAME_BAD = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_MAX_FILENAME_BYTES = 200


def safe_filename(name: str) -> str:
    """A sender-supplied filename -> a plain basename that cannot escape a directory or spoof its extension."""
    from .charsets import fix_surrogates

    try:
        name = sanitize_line(fix_surrogates(str(name)))
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
        name = _FILENAME_BAD.sub("_", name).strip(" .")
        name = name.lstrip(".- ")  # no hidden files, no option-looking names
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        if stem.split(".")[0].strip().lower() in _RESERVED_NAMES:
            name = "_" + name
        if len(name.encode("utf-8")) > _MAX_FILENAME_BYTES:
            ext = ("." + ext)[:16] if dot and len(ext) <= 15 else ""
            budget = _MAX_FILENAME_BYTES - len(ext.encode("utf-8"))
            stem_bytes = (stem if ext else name).encode("utf-8")[:budget]
            name = stem_bytes.decode("utf-8", "ignore").rstrip(" .") + ext
    except Exception:
        name = ""
    return name or "attachment"


def fallback_name(index: int, content_type: str) -> str:
    """A generated name for an unnamed attachment: attachment-N plus an extension for its type."""
    ext = ".eml" if content_type in ("message/rfc822", "message/global") else ""
    if not ext:
        ext = {"text/plain": ".txt", "application/octet-stream": ".bin"}.get(content_type) or (
            mimetypes.guess_extension(content_type) or ".bin"
        )
    return f"attachment-{index + 1}{ext}"
