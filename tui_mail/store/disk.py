"""Recognises a full disk in SQLite and OS errors and turns it into one DiskFullError sentence."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import DiskFullError

log = logging.getLogger(__name__)

SQLITE_FULL = 13  # the primary result code; extended codes carry it in the low byte


def is_disk_full(e: BaseException) -> bool:
    """True when e says the disk (or the database's size limit) is full."""
    if isinstance(e, DiskFullError):
        return True
    if isinstance(e, sqlite3.Error):
        code = getattr(e, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
            return True
        return "database or disk is full" in str(e)
    if isinstance(e, OSError):
        return e.errno in (errno.ENOSPC, errno.EDQUOT)
    return False


def _shown(directory: Path) -> str:
    """The directory as a person types it: the home directory as ~."""
    home = os.path.expanduser("~")
    text = str(directory)
    if home not in ("", "/") and (text == home or text.startswith(home.rstrip("/") + "/")):
        return "~" + text[len(home.rstrip("/")) :]
    return text


def _amount(free: int) -> str:
    """Bytes as a person reads them: "0 bytes", "12 KB", "3.4 MB"."""
    if free < 1024:
        return f"{free} byte{'s' if free != 1 else ''}"
    value = float(free)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"


def rollback(conn: sqlite3.Connection) -> None:
    """End a failed transaction: ROLLBACK when one is still open (SQLite may already have rolled back itself on
    a full disk); a failing ROLLBACK is logged and never hides the error that caused it."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        log.warning("ROLLBACK failed after an earlier error", exc_info=True)


def disk_full_error(directory: Path) -> DiskFullError:
    """The one sentence for a full disk under directory, with the bytes still free."""
    try:
        free = _amount(shutil.disk_usage(directory).free)
    except OSError:
        free = "no space"
    return DiskFullError(f"The disk holding {_shown(directory)} is full: {free} free; nothing was lost.")


@contextmanager
def full_disk_reported(directory: Path) -> Iterator[None]:
    """Re-raise a full-disk SQLite or OS error from the block as DiskFullError (the cause kept for the log)."""
    try:
        yield
    except (sqlite3.Error, OSError) as e:
        if not is_disk_full(e):
            raise
        raise disk_full_error(directory) from e
