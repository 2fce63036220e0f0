"""A full disk under the cache: the real CLI sync says so in one sentence, loses nothing and resumes later."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

COUNT = 60


def _message(i: int) -> bytes:
    filler = f"Line {i} of a long report that takes room on the disk.\r\n" * 700  # ~40 KB each
    return (
        f"From: Dana <dana@example.test>\r\nTo: me@example.test\r\nSubject: Report {i}\r\n"
        f"Message-ID: <report-{i}@example.test>\r\nDate: Mon, 23 Nov 2026 09:{i % 60:02d}:00 +0000\r\n\r\n{filler}"
    ).encode()


def write_config(path: Path, dovecot, user) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(
        f"""
[[accounts]]
name = "me"
email = "{user.email}"
protocol = "imap"
idle = false
[accounts.incoming]
host = "{dovecot.host}"
port = {dovecot.imaps_port}
security = "tls"
username = "{user.name}"
ca_file = "{dovecot.ca_file}"
password_command = "printf %s {user.password}"
""",
        encoding="utf-8",
    )
    return path


def run(config: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, TUI_MAIL_DATA_DIR=str(data), TUI_MAIL_STATE_DIR=str(data / "state"))
    return subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_disk_full_sync_is_one_sentence_and_a_later_sync_completes(
    tmp_path: Path,
    small_disk: Path,
    dovecot,  # type: ignore[no-untyped-def]
    mail_user,  # type: ignore[no-untyped-def]
) -> None:
    dovecot.deliver_many(mail_user, [_message(i) for i in range(COUNT)])  # ~2.4 MB: more than the disk holds
    config = write_config(tmp_path / "config.toml", dovecot, mail_user)
    data = small_disk / "tui-mail"  # the log lives on the same full disk, as ~/.local/state usually does

    full = run(config, data, "sync")
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr and "Exception" not in full.stderr
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1, full.stderr
    assert lines[0].startswith(f"me: The disk holding {data} is full: ")
    assert lines[0].endswith(" free; nothing was lost.")

    # The cache still opens, is intact, and what it holds can be listed.
    db = data / "me.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Envelopes come first (progressive sync): the disk filled up while bodies were downloading.
        missing_bodies = conn.execute("SELECT COUNT(*) FROM messages WHERE body_hash IS NULL").fetchone()[0]
    listed = run(config, data, "list", "me", "INBOX", "--limit", "1000", "--json")
    assert listed.returncode == 0, listed.stderr
    before = len(listed.stdout.splitlines())
    assert before < COUNT or missing_bodies > 0

    # Space is freed: the next sync completes without loss or duplicates.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = run(config, data, "sync")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    rows = [
        json.loads(line)
        for line in run(config, data, "list", "me", "INBOX", "--limit", "1000", "--json").stdout.splitlines()
    ]
    assert sorted(r["message_id"] for r in rows) == sorted(f"<report-{i}@example.test>" for i in range(COUNT))
    assert all(r["subject"].startswith("Report ") for r in rows)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages WHERE body_hash IS NULL").fetchone()[0] == 0
