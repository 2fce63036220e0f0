"""Import into an IMAP account and POP3 -> IMAP migration against the real Dovecot, run as the CLI (killed half-way)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tui_mail import paths
from tui_mail.mime import parse_envelope
from tui_mail.models import FLAGGED, SEEN, Role
from tui_mail.store.cache import Cache, NewMessage

pytestmark = pytest.mark.servers


def _msg(n: int, *, msgid: bool = True, nl: bytes = b"\r\n") -> bytes:
    lines = [
        b"From: Person %d <p%d@example.test>" % (n, n),
        b"To: home@example.test",
        b"Subject: old mail %d" % n,
        b"Date: Tue, %d Oct 2025 10:%02d:00 +0000" % (1 + n % 28, n % 60),
    ]
    if msgid:
        lines.append(b"Message-ID: <old-%d@example.test>" % n)
    return nl.join(lines) + nl + nl + b"Body %d\r\nFrom the old days\r\n" % n


def _config(tmp_path: Path, server: Any, pop_user: Any, imap_user: Any) -> Path:
    def account(name: str, protocol: str, user: Any, port: int) -> str:
        return f"""
[[accounts]]
name = "{name}"
email = "{user.email}"
protocol = "{protocol}"
[accounts.incoming]
host = "{server.host}"
port = {port}
security = "tls"
username = "{user.name}"
ca_file = "{server.ca_file}"
password_command = "printf %s {user.password}"
"""

    path = tmp_path / "config.toml"
    path.write_text(
        account("home", "pop3", pop_user, server.pop3s_port) + account("work", "imap", imap_user, server.imaps_port),
        encoding="utf-8",
    )
    return path


def _run(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def _server_keys(server: Any, user: Any, folder: str) -> list[bytes]:
    """Message-ID (or Subject, for mail without one) of every message in a server folder."""
    client = server.imap_client(user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"]) if uids else {}
        out = []
        for item in data.values():
            block = bytes(item[b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"])
            ids = [ln for ln in block.splitlines() if ln.lower().startswith(b"message-id:")]
            subj = [ln for ln in block.splitlines() if ln.lower().startswith(b"subject:")]
            out.append((ids or subj)[0].split(b":", 1)[1].strip())
        return out
    finally:
        client.logout()


def test_pop3_mailbox_moves_to_imap_once_even_when_killed_half_way(tmp_path: Path, imap_server: Any) -> None:
    pop_user, imap_user = imap_server.add_user(), imap_server.add_user()
    imap_server.deliver_many(pop_user, [_msg(n) for n in range(150)])
    config = _config(tmp_path, imap_server, pop_user, imap_user)
    synced = _run(config, "sync", "home")
    assert synced.returncode == 0 and "home: 150 new" in synced.stdout, synced.stderr

    # The POP3 account's own folders: mail that exists only on this computer.
    cache = Cache(paths.cache_path("home"))
    sent = cache.folder_by_role(Role.SENT)
    assert sent is not None
    projects = cache.ensure_folder("Projects/2025", "/", local_only=True)
    cache.store_messages(
        sent.id,
        [NewMessage(parse_envelope(r), flags=frozenset({SEEN}), raw=r) for r in map(_msg, [*range(200, 260), 400])],
    )
    no_id = [_msg(n, msgid=False, nl=b"\n") for n in range(300, 305)]
    cache.store_messages(
        projects,
        [
            NewMessage(parse_envelope(r), flags=frozenset({FLAGGED}), raw=r)
            for r in [*map(_msg, range(400, 460)), *no_id]
        ],
    )
    cache.close()

    killed = _run(
        config, "migrate", "home", "--to", "work", "--prefix", "Old POP", env={"TUI_MAIL_FAULT": "migrate-append:100"}
    )
    assert killed.returncode == -9, killed.stderr
    resumed = _run(config, "migrate", "home", "--to", "work", "--prefix", "Old POP")
    assert resumed.returncode == 0, resumed.stderr
    assert "all 276 messages are on work" in resumed.stdout

    expected = {
        "Old POP/Inbox": {b"<old-%d@example.test>" % n for n in range(150)},
        "Old POP/Sent": {b"<old-%d@example.test>" % n for n in [*range(200, 260), 400]},  # 400: in Projects too
        "Old POP/Projects/2025": {b"<old-%d@example.test>" % n for n in range(400, 460)}
        | {b"old mail %d" % n for n in range(300, 305)},
    }
    for folder, want in expected.items():
        got = Counter(_server_keys(imap_server, imap_user, imap_server.folder_name(folder)))
        assert set(got) == want, folder
        assert max(got.values()) == 1, f"{folder}: uploaded twice: {[k for k, v in got.items() if v > 1]}"

    again = _run(config, "migrate", "home", "--to", "work")
    assert again.returncode == 0 and " 0 uploaded" in again.stdout and "276 in all" not in again.stdout
    home = Cache(paths.cache_path("home"))
    assert home.folder(projects).total == 65  # nothing deleted here unless asked
    home.close()


def test_import_into_an_imap_folder_uploads_once(tmp_path: Path, imap_server: Any) -> None:
    pop_user, imap_user = imap_server.add_user(), imap_server.add_user()
    config = _config(tmp_path, imap_server, pop_user, imap_user)
    box = tmp_path / "old.mbox"
    box.write_bytes(
        b"".join(
            b"From someone Mon Nov 23 09:00:00 2026\n"
            + _msg(n, nl=b"\n").replace(b"\r\n", b"\n").replace(b"\nFrom the", b"\n>From the")
            + b"\n"
            for n in range(40)
        )
    )
    done = _run(config, "import", "work", "Archive/2025", str(box))
    assert done.returncode == 0, done.stderr
    assert "imported 40 messages" in done.stdout and "uploaded 40 messages" in done.stdout
    again = _run(config, "import", "work", "Archive/2025", str(box))
    assert again.returncode == 0, again.stderr
    assert "imported 0 messages" in again.stdout and "(40 already there)" in again.stdout
    keys = _server_keys(imap_server, imap_user, imap_server.folder_name("Archive/2025"))
    assert sorted(keys) == sorted(b"<old-%d@example.test>" % n for n in range(40))

    synced = _run(config, "sync", "work")  # the imported rows became the server's messages: no second copy
    assert synced.returncode == 0, synced.stderr
    listed = _run(config, "list", "work", "Archive/2025", "--limit", "100", "--json")
    assert len(listed.stdout.splitlines()) == 40

    out = tmp_path / "export"
    exported = _run(config, "export", "work", "Archive/2025", "--format", "maildir", str(out))
    assert exported.returncode == 0, exported.stderr
    assert len(list((out / "cur").iterdir())) == 40


def test_folders_shows_the_server_quota_and_warns_when_nearly_full(tmp_path: Path, dovecot: Any) -> None:
    pop_user, imap_user = dovecot.add_user(), dovecot.add_user(quota_kb=100)
    dovecot.deliver_many(imap_user, [_msg(n) + b"x" * 9000 for n in range(9)])  # ~83 KB of 100 KB
    config = _config(tmp_path, dovecot, pop_user, imap_user)
    assert _run(config, "sync", "work").returncode == 0
    shown = _run(config, "folders", "work").stdout
    assert "Server storage: 8" in shown and "KB of 100 KB (8" in shown
    assert "nearly full" not in shown
    dovecot.deliver(imap_user, _msg(99) + b"x" * 9000)
    assert _run(config, "sync", "work").returncode == 0
    shown = _run(config, "folders", "work").stdout
    assert "of 100 KB (9" in shown and "nearly full" in shown
    inbox = next(line for line in shown.splitlines() if line.startswith("INBOX"))
    assert inbox.endswith(" KB") and "10 messages" in inbox  # folder sizes show what to clean up


def test_the_quota_is_asked_again_only_when_mail_came_or_went(
    tmp_path: Path, dovecot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imapclient

    from tui_mail.accounts import AccountManager
    from tui_mail.backends.imap_quota import cached_quota
    from tui_mail.config import load_config

    pop_user, imap_user = dovecot.add_user(), dovecot.add_user(quota_kb=100)
    dovecot.deliver_many(imap_user, [_msg(n) + b"x" * 9000 for n in range(3)])
    asked: list[str] = []
    real = imapclient.IMAPClient.get_quota_root
    monkeypatch.setattr(imapclient.IMAPClient, "get_quota_root", lambda self, box: asked.append(box) or real(self, box))
    manager = AccountManager(load_config(_config(tmp_path, dovecot, pop_user, imap_user)))
    try:
        manager.sync("work")
        first = cached_quota(manager.cache("work"))
        assert first is not None and len(asked) == 1
        manager.sync("work")  # nothing changed on the server: the figure stands, no round trip for it
        assert len(asked) == 1 and cached_quota(manager.cache("work")) == first
        dovecot.deliver(imap_user, _msg(50) + b"x" * 9000)
        manager.sync("work")
        now = cached_quota(manager.cache("work"))
        assert len(asked) == 2 and now is not None and now.used > first.used
    finally:
        manager.close()


def test_pop3_delete_mode_says_the_mail_lives_only_here(tmp_path: Path, dovecot: Any) -> None:
    pop_user, imap_user = dovecot.add_user(), dovecot.add_user()
    config = _config(tmp_path, dovecot, pop_user, imap_user)
    config.write_text(
        config.read_text().replace(
            'protocol = "pop3"', 'protocol = "pop3"\n[accounts.pop3]\nleave_on_server = false', 1
        )
    )
    shown = _run(config, "folders", "home")
    assert shown.returncode == 0, shown.stderr
    assert "lives only on this computer" in shown.stdout and "never backed up" in shown.stdout
    backed = _run(config, "backup", "home", str(tmp_path / "home.backup"))
    assert backed.returncode == 0, backed.stderr
    assert "(today)" in _run(config, "folders", "home").stdout


def test_an_import_left_in_the_cache_is_uploaded_by_the_next_sync(tmp_path: Path, imap_server: Any) -> None:
    pop_user, imap_user = imap_server.add_user(), imap_server.add_user()
    imap_server.deliver(imap_user, _msg(1), folder=imap_server.folder_name("Archive"))
    config = _config(tmp_path, imap_server, pop_user, imap_user)
    assert _run(config, "sync", "work").returncode == 0
    box = tmp_path / "old.mbox"
    quoted = [_msg(n).replace(b"\nFrom the", b"\n>From the") for n in range(1, 6)]
    box.write_bytes(b"".join(b"From x Mon Nov 23 09:00:00 2026\n" + raw + b"\n" for raw in quoted))
    offline = _run(config, "import", "work", "Archive", str(box), "--no-upload")
    assert offline.returncode == 0, offline.stderr
    assert "imported 4 messages" in offline.stdout and "(1 already there)" in offline.stdout  # <old-1> is cached
    synced = _run(config, "sync", "work")
    assert synced.returncode == 0, synced.stderr
    keys = Counter(_server_keys(imap_server, imap_user, imap_server.folder_name("Archive")))
    assert keys == Counter({b"<old-%d@example.test>" % n: 1 for n in range(1, 6)})
    listed = _run(config, "list", "work", "Archive", "--json")
    assert len(listed.stdout.splitlines()) == 5


def test_backup_and_restore_from_the_cli(tmp_path: Path, dovecot: Any) -> None:
    pop_user, imap_user = dovecot.add_user(), dovecot.add_user()
    dovecot.deliver_many(imap_user, [_msg(n) for n in range(3)])
    config = _config(tmp_path, dovecot, pop_user, imap_user)
    assert _run(config, "sync", "work").returncode == 0
    made = _run(config, "backup", "work", str(tmp_path / "work.backup"))
    assert made.returncode == 0 and "backup of 3 messages" in made.stdout, made.stderr
    dovecot.deliver(imap_user, _msg(9))
    assert _run(config, "sync", "work").returncode == 0  # the cache moves on after the backup
    refused = _run(config, "restore", "work", str(tmp_path / "work.backup"))
    assert refused.returncode == 1 and "use --force" in refused.stderr and "Traceback" not in refused.stderr
    forced = _run(config, "restore", "work", str(tmp_path / "work.backup"), "--force")
    assert forced.returncode == 0, forced.stderr
    listed = _run(config, "list", "work", "INBOX", "--json")
    assert len(listed.stdout.splitlines()) == 3


def test_after_migrating_the_pop3_account_is_kept_or_removed_from_the_config(tmp_path: Path, dovecot: Any) -> None:
    import pty
    import select

    from tui_mail.config import load_config

    pop_user, imap_user = dovecot.add_user(), dovecot.add_user()
    dovecot.deliver_many(pop_user, [_msg(n) for n in range(12)])
    config = _config(tmp_path, dovecot, pop_user, imap_user)
    config.write_text("# my accounts\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    assert _run(config, "sync", "home").returncode == 0

    # On a terminal it asks; "k" keeps the account.
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_mail", "--config", str(config), "migrate", "home", "--to", "work"],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    seen = b""
    while b"[K/r]" not in seen:
        ready, _, _ = select.select([leader], [], [], 120)
        assert ready, (seen, proc.poll())
        chunk = os.read(leader, 4096)
        assert chunk, seen
        seen += chunk
    os.write(leader, b"k\n")
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    os.close(leader)
    assert "Old POP/Inbox -> " in seen.decode() or "Inbox" in seen.decode()
    assert [a.name for a in load_config(config).accounts] == ["home", "work"]
    assert sorted(_server_keys(dovecot, imap_user, dovecot.folder_name("Old POP/Inbox"))) == sorted(
        b"<old-%d@example.test>" % n for n in range(12)
    )

    # --remove-source: the account leaves the config (a backup copy is kept); its cache and mail stay.
    removed = _run(config, "migrate", "home", "--to", "work", "--remove-source")
    assert removed.returncode == 0, removed.stderr
    cache_file = paths.cache_path("home")
    assert f"its mail stays in {cache_file}" in removed.stdout
    assert [a.name for a in load_config(config).accounts] == ["work"]
    assert config.read_text(encoding="utf-8").startswith("# my accounts\n")
    backups = list(tmp_path.glob("config.toml.*.bak"))
    assert len(backups) == 1 and 'name = "home"' in backups[0].read_text(encoding="utf-8")
    home = Cache(cache_file)
    inbox = home.folder_by_role(Role.INBOX)
    assert inbox is not None and home.count(inbox.id) == 12  # the mail is never deleted by this
    home.close()
    assert _run(config, "folders", "work").returncode == 0  # the edited config loads
