"""Remove one account from the user's config file by the smallest text edit (comments, order and the other accounts
stay as written), checked by re-reading the result and written atomically after a backup copy."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")  # [table] or [[array]] (with a comment)


def _table_name(line: str) -> tuple[bool, str] | None:
    """(is an array table, its dotted name) when the line is a table header."""
    m = _HEADER.match(line)
    if m is None:
        return None
    return m.group(1) == "[[", re.sub(r"\s*\.\s*", ".", m.group(2))


def _account_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first line, end line) of every [[accounts]] table with its [accounts.*] sub-tables; the end leaves out the
    comments and blank lines that come just before the next table (they describe what follows)."""
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        header = _table_name(line)
        if header is None:
            continue
        array, name = header
        if array and name == "accounts":
            if start is not None:
                blocks.append((start, i))
            start = i
        elif start is not None and not name.startswith("accounts."):
            blocks.append((start, i))
            start = None
    if start is not None:
        blocks.append((start, len(lines)))
    trimmed = []
    for first, end in blocks:
        while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        trimmed.append((first, end))
    return trimmed


def _without(data: dict[str, Any], name: str) -> dict[str, Any]:
    out = dict(data)
    out["accounts"] = [a for a in data.get("accounts", []) if a.get("name") != name]
    if not out["accounts"]:
        del out["accounts"]
    return out


def remove_account(path: Path, name: str) -> Path:
    """Delete account `name` from the config file at path; returns the backup copy made first. Raises ConfigError
    (one sentence) when the file cannot be edited safely; then nothing is written."""
    try:
        text = path.read_text(encoding="utf-8")
        before = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the config file ({e}).") from None
    lines = text.splitlines(keepends=True)
    cut: tuple[int, int] | None = None
    for first, end in _account_blocks(lines):
        try:
            block = tomllib.loads("".join(lines[first:end]))
        except tomllib.TOMLDecodeError:
            continue
        accounts = block.get("accounts") or [{}]
        if accounts[0].get("name") == name:
            cut = (first, end)
            break
    if cut is None:
        raise ConfigError(f"{path}: there is no [[accounts]] table named {name!r} to remove.")
    rest = lines[: cut[0]] + lines[cut[1] :]
    # A blank line left where two blank lines now meet is dropped (the smallest tidy edit).
    if cut[0] > 0 and cut[0] < len(rest) and not rest[cut[0] - 1].strip() and not rest[cut[0]].strip():
        del rest[cut[0]]
    new_text = "".join(rest)
    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = None
    if after != _without(before, name):
        raise ConfigError(f"{path}: the account {name} could not be removed safely; please remove it by hand.")
    backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
    shutil.copy2(path, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new_text)
            f.flush()
            os.fsync(f.fileno())
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write the config file ({e.strerror}).") from None
    return backup


def retire_account(config_path: Path | None, name: str, cache_path: Path) -> str:
    """After a complete migration: remove the account from the config (never its mail); one sentence saying what
    was done and where the cache file stays. Raises ConfigError when the file cannot be edited."""
    if config_path is None:
        raise ConfigError(f"There is no config file to remove {name} from.")
    backup = remove_account(config_path, name)
    return (
        f"Removed account {name} from {config_path} (the previous file is kept as {backup.name}); its mail stays "
        f"in {cache_path} until you delete that file."
    )


__all__ = ["remove_account", "retire_account"]
