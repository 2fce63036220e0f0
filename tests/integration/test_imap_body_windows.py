"""A full download plans bodies a bounded window of rows at a time (memory does not grow with the folder), and still
brings every body exactly once, newest first, with many messages sharing one date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui_mail.backends import imap_folder_sync
from tui_mail.backends.imap import ImapBackend
from tui_mail.store.cache import Cache
from tui_mail.store.sync_state import SyncState

pytestmark = pytest.mark.servers


def make(i: int) -> bytes:
    minute = i // 4  # four messages a minute: windows end in the middle of equal dates
    return (
        f"From: a@example.test\r\nTo: b@example.test\r\nSubject: w{i}\r\nMessage-ID: <w{i}@example.test>\r\n"
        f"Date: Mon, 02 Nov 2026 10:{minute:02d}:00 +0000\r\n\r\nBody of {i}\r\n"
    ).encode()


def test_bodies_come_in_bounded_windows_each_once(
    dovecot: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.deliver_many(mail_user, [make(i) for i in range(45)])
    monkeypatch.setattr(imap_folder_sync, "BODY_WINDOW", 7)
    asked: list[int] = []
    real = SyncState.bodies_missing

    def bodies_missing(self: Any, folder_id: int, limit: int = -1, before: Any = None) -> Any:
        rows = real(self, folder_id, limit, before)
        asked.append(len(rows))
        assert 0 < limit <= 7
        return rows

    monkeypatch.setattr(SyncState, "bodies_missing", bodies_missing)
    cache = Cache(tmp_path / "c.db")
    backend = ImapBackend(dovecot.imap_account(mail_user), mail_user.password, cache)
    try:
        backend.sync()
    finally:
        backend.close()
    rows = cache.conn.execute("SELECT subject, body_hash FROM messages").fetchall()
    assert sorted(s for s, _ in rows) == sorted(f"w{i}" for i in range(45))
    assert all(h for _, h in rows)
    assert sum(asked) == 45 and max(asked) == 7
