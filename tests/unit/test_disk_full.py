"""A full disk inside a cache transaction: one DiskFullError sentence, the cache unchanged and still writable."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tui_mail.errors import DiskFullError, MailError
from tui_mail.store.cache import Cache
from tui_mail.store.disk import disk_full_error, is_disk_full


def _fill_limit(cache: Cache) -> None:
    """Make the database file unable to grow (SQLite answers SQLITE_FULL, as on a full disk)."""
    pages = cache.conn.execute("PRAGMA page_count").fetchone()[0]
    cache.conn.execute(f"PRAGMA max_page_count = {pages + 1}")


def test_full_disk_in_a_transaction_is_one_mail_error_and_nothing_is_lost(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "data" / "a.sqlite3")
    cache.set_meta("kept", "yes")
    _fill_limit(cache)
    with pytest.raises(DiskFullError) as info:
        with cache.transaction() as c:
            c.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", ((f"k{i}", "x" * 4000) for i in range(50)))
    assert isinstance(info.value, MailError)
    text = str(info.value)
    assert text.startswith(f"The disk holding {tmp_path / 'data'} is full: ") and text.endswith("nothing was lost.")
    assert "\n" not in text
    assert not cache.conn.in_transaction
    assert cache.get_meta("kept") == "yes" and cache.get_meta("k0") is None
    cache.set_meta("after", "ok")  # the connection is usable again
    assert cache.get_meta("after") == "ok"


def test_a_failing_rollback_does_not_hide_the_cause(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    with pytest.raises(ValueError, match="the real cause"):
        with cache.transaction() as c:
            c.execute("ROLLBACK")  # the transaction is already gone, as SQLite does itself on some full disks
            raise ValueError("the real cause")
    assert not cache.conn.in_transaction
    cache.set_meta("after", "ok")
    assert cache.get_meta("after") == "ok"


def test_a_failed_commit_does_not_leave_the_transaction_open(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    cache.conn.execute("PRAGMA foreign_keys=ON")
    cache.conn.execute("PRAGMA defer_foreign_keys=ON")
    with pytest.raises(sqlite3.IntegrityError):
        with cache.transaction() as c:  # a deferred constraint fails only at COMMIT
            c.execute("INSERT INTO messages(folder_id, uid, uidvalidity, date) VALUES (999, 1, 1, 0)")
    assert not cache.conn.in_transaction
    cache.set_meta("after", "ok")
    assert cache.get_meta("after") == "ok"


def test_the_checkpoint_thread_stops_quietly_when_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    cache.set_meta("kept", "yes")
    checkpoints: list[str] = []

    class FullDisk:
        def execute(self, sql: str) -> None:
            checkpoints.append(sql)
            raise sqlite3.OperationalError("database or disk is full")

        def close(self) -> None:
            pass

    seen: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: FullDisk())
    with cache.background_checkpoints(interval=0.001):
        while not checkpoints:
            threading.Event().wait(0.01)
    assert seen == []
    assert cache.get_meta("kept") == "yes"


def test_the_sentence_names_the_directory_with_a_tilde_and_readable_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setenv("HOME", "/home/alice")
    usage = shutil._ntuple_diskusage  # type: ignore[attr-defined]
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10, 10, 0))
    assert str(disk_full_error(Path("/home/alice/.local/share/tui-mail"))) == (
        "The disk holding ~/.local/share/tui-mail is full: 0 bytes free; nothing was lost."
    )
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10, 10, 3 * 1024 * 1024 + 1))
    assert "3.0 MB free" in str(disk_full_error(Path("/srv/mail")))
    assert is_disk_full(OSError(28, "No space left on device"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
