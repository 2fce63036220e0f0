"""Which program opens an attachment: the config's [openers], then mailcap, then xdg-open / open (never a shell)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

MAILCAP_FILES = ("~/.mailcap", "/etc/mailcap", "/usr/etc/mailcap", "/usr/local/etc/mailcap")


def _argv(command: str, path: Path) -> list[str] | None:
    """A command line with %s replaced by the file (or the file appended); None when it does not parse."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words:
        return None
    if any("%s" in w for w in words):
        return [w.replace("%s", str(path)) for w in words]
    return [*words, str(path)]


def _lookup(table: dict[str, str], content_type: str) -> str | None:
    main = content_type.split("/", 1)[0]
    for key in (content_type, f"{main}/*", "*/*", "*"):
        if key in table:
            return table[key]
    return None


def mailcap_entries(files: tuple[str, ...] = MAILCAP_FILES) -> dict[str, str]:
    """type -> view command from the mailcap files (first match wins, as RFC 1524 says); entries that need a
    terminal, print text for a pager or run a test command are left out."""
    found: dict[str, str] = {}
    for name in files:
        try:
            text = Path(name).expanduser().read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for raw in text.replace("\\\n", "").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split(";")]
            if len(fields) < 2 or not fields[1]:
                continue
            flags = {f.split("=", 1)[0].strip().lower() for f in fields[2:]}
            if flags & {"needsterminal", "copiousoutput", "test"}:
                continue
            found.setdefault(fields[0].lower(), fields[1])
    return found


def find_opener(content_type: str, path: Path, openers: dict[str, str]) -> list[str] | None:
    """The argv that opens path, or None when nothing on this machine can."""
    content_type = content_type.lower() or "application/octet-stream"
    command = _lookup(openers, content_type)
    if command is not None:
        return _argv(command, path)
    command = _lookup(mailcap_entries(), content_type)
    if command is not None:
        argv = _argv(command, path)
        if argv and shutil.which(argv[0]):
            return argv
    default = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(default):
        return [default, str(path)]
    return None


def run_opener(argv: list[str]) -> None:
    """Start the program detached from the terminal (its output would garble the screen)."""
    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=os.environ.copy(),
    )
