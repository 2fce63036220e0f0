"""The demo mailbox builds quickly and deterministically, with the accounts, folders and messages it promises."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tui_mail.accounts import AccountManager
from tui_mail.demo import build_demo
from tui_mail.models import Role
from tui_mail.store.cache import Cache


def _dump(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT f.name, m.uid, m.pop_uidl, m.message_id, m.in_reply_to, m.refs, m.date, m.from_name, m.from_addr, "
            "m.to_addrs, m.subject, m.flags, m.has_attachments, m.snippet, m.body_hash, m.thread_depth "
            "FROM messages m JOIN folders f ON f.id = m.folder_id ORDER BY m.id"
        ).fetchall()
        return rows + conn.execute("SELECT id, name, role, local_only FROM folders ORDER BY id").fetchall()
    finally:
        conn.close()


def test_demo_accounts_folders_and_counts(tmp_path: Path) -> None:
    config = build_demo(tmp_path)
    assert [(a.name, a.protocol) for a in config.accounts] == [("work", "imap"), ("home", "pop3")]
    assert all(a.incoming.host.endswith(".invalid") for a in config.accounts)

    manager = AccountManager(config, data_dir=tmp_path, offline=True)
    try:
        work = {f.name: f for f in manager.cache("work").folders()}
        assert set(work) == {"INBOX", "Drafts", "Sent", "Trash", "Archive", "Projects/tui-mail"}
        assert work["INBOX"].role is Role.INBOX and work["Trash"].role is Role.TRASH
        assert work["Archive"].role is Role.ARCHIVE and work["Sent"].role is Role.SENT
        assert 38 <= sum(f.total for f in work.values()) <= 45
        assert work["INBOX"].unread > 0

        home = {f.name: f for f in manager.cache("home").folders()}
        assert {"INBOX", "Sent", "Drafts", "Trash"} <= set(home)
        assert 8 <= sum(f.total for f in home.values()) <= 12
    finally:
        manager.close()


def test_demo_has_threads_attachment_newsletter_non_ascii_and_hostile(tmp_path: Path) -> None:
    build_demo(tmp_path)
    cache = Cache(tmp_path / "work.sqlite3")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    rows = cache.window(inbox.id, 0, 1000, threaded=True)
    subjects = {r.subject for r in rows}
    assert max(r.thread_depth for r in rows) >= 2
    assert sum(1 for r in rows if r.thread_depth > 0) >= 6
    assert any(r.has_attachments for r in rows)
    assert any(r.flagged for r in rows) and any(r.answered for r in rows) and any(not r.seen for r in rows)
    assert "[bold]markup[/] stays literal" in subjects
    assert any("Zürich" in s for s in subjects)
    hostile = next(r for r in rows if r.subject == "[bold]markup[/] stays literal")
    assert b"\x1b[31m" in (cache.body(hostile.id) or b"")
    newsletter = next(r for r in rows if r.subject.startswith("Terminal Weekly"))
    assert b"Content-Type: text/html" in (cache.body(newsletter.id) or b"")
    assert all(cache.body(r.id) for r in rows), "every demo message has its body cached"


def test_demo_is_deterministic_and_fast(tmp_path: Path) -> None:
    build_demo(tmp_path / "a")  # warm imports
    start = time.perf_counter()
    build_demo(tmp_path / "b")
    elapsed = time.perf_counter() - start
    build_demo(tmp_path / "b")  # rebuilding over an existing demo replaces it
    for name in ("work", "home"):
        assert _dump(tmp_path / "a" / f"{name}.sqlite3") == _dump(tmp_path / "b" / f"{name}.sqlite3")
    assert elapsed < 1.0  # typically ~0.15 s; generous for a loaded 2-core machine
