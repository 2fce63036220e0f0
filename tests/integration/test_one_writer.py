"""One writer per account across processes: two `tui-mail sync` runs on one account never double a queued move,
and a sync that finds the account busy in another tui-mail says so in one sentence with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.config import load_config
from tui_mail.models import Role
from tui_mail.store.lock import AccountBusy, AccountLock

pytestmark = pytest.mark.servers

COUNT = 200


def write_config(path: Path, server: Any, user: Any) -> Path:
    path.write_text(
        f"""
[[accounts]]
name = "work"
email = "{user.email}"
protocol = "imap"
idle = false
[accounts.incoming]
host = "{server.host}"
port = {server.imaps_port}
security = "tls"
username = "{user.name}"
ca_file = "{server.ca_file}"
password_command = "printf %s {user.password}"
""",
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Sender <sender@example.test>"
    msg["To"] = "me@example.test"
    msg["Subject"] = f"move me {n}"
    msg["Message-ID"] = f"<move-{n}@example.test>"
    msg.set_content(f"Message {n}.\n")
    return msg.as_bytes()


def server_message_ids(server: Any, user: Any, folder: str) -> list[str]:
    client = server.imap_client(user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        if not uids:
            return []
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        return [d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().partition(":")[2].strip() for d in data.values()]
    finally:
        client.logout()


def test_two_cli_syncs_replay_queued_moves_once(tmp_path: Path, imap_server: Any) -> None:
    user = imap_server.add_user()
    archive, other = imap_server.folder_name("Archive"), imap_server.folder_name("Projects")
    client = imap_server.imap_client(user)
    for n in range(COUNT):  # one APPEND each: the plain profile has no MULTIAPPEND
        client.append("INBOX", message(n))
    client.create_folder(archive)
    client.create_folder(other)
    client.logout()
    config = write_config(tmp_path / "config.toml", imap_server, user)

    first = cli(config, "sync")
    assert first.wait(120) == 0, first.stderr.read() if first.stderr else ""

    # Queue a move of every message (the cache first, replayed at the next sync), as the UI does.
    manager = AccountManager(load_config(config))
    cache = manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    dests = [cache.folder_by_name(archive), cache.folder_by_name(other)]
    assert inbox is not None and None not in dests
    ids = [row.id for row in cache.window(inbox.id, 0, COUNT + 10)]
    assert len(ids) == COUNT
    for n, mid in enumerate(ids):  # alternating targets: 200 separate moves, as a user filing mail one by one
        manager.move("work", [mid], dests[n % 2].id)  # type: ignore[union-attr]
    manager.close()

    # A cron sync and "the UI's" sync at the same moment, on the same account.
    procs = [cli(config, "sync", "work") for _ in range(2)]
    outcomes = [(p.wait(180), p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "") for p in procs]
    assert any(code == 0 for code, _out, _err in outcomes), outcomes
    for code, _out, err in outcomes:
        assert "Traceback" not in err
        if code != 0:
            assert code == 1 and "work is already syncing in another tui-mail (pid " in err, outcomes

    moved = server_message_ids(imap_server, user, archive) + server_message_ids(imap_server, user, other)
    assert sorted(moved) == sorted(f"<move-{n}@example.test>" for n in range(COUNT))  # each exactly once
    assert server_message_ids(imap_server, user, "INBOX") == []


def test_cli_sync_while_another_process_holds_the_account(tmp_path: Path, dovecot: Any, mail_user: Any) -> None:
    config = write_config(tmp_path / "config.toml", dovecot, mail_user)
    data_dir = Path(os.environ["TUI_MAIL_DATA_DIR"])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tui_mail.store.lock import AccountLock; "
            f"lock = AccountLock({str(data_dir / 'work.sqlite3.lock')!r}, 'work'); lock.acquire(5); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = subprocess.run(
            [sys.executable, "-m", "tui_mail", "--config", str(config), "sync", "work"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    assert result.returncode == 1
    assert result.stderr.strip() == f"work is already syncing in another tui-mail (pid {holder.pid})."
    # Once the other process let go, the account syncs.
    again = subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(config), "sync", "work"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr


def test_lock_is_reentrant_across_threads_and_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "acc.sqlite3.lock"
    lock = AccountLock(path, "work")
    lock.acquire(1)
    other_thread: list[BaseException | None] = []

    def in_thread() -> None:
        try:
            with lock.hold(0):  # the same process holds it: no waiting, no error
                other_thread.append(None)
        except BaseException as e:  # pragma: no cover - reported by the assert below
            other_thread.append(e)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(10)
    assert other_thread == [None]
    assert lock.held
    # Another process cannot take it; it is told who holds it.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tui_mail.store.lock import AccountLock, AccountBusy\n"
            f"lock = AccountLock({str(path)!r}, 'work')\n"
            "try:\n    lock.acquire(0.2)\nexcept AccountBusy as e:\n    print(e)\nelse:\n    print('taken')\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == f"work is already syncing in another tui-mail (pid {os.getpid()})."
    lock.release()
    assert not lock.held
    again = AccountLock(path, "work")
    again.acquire(1)  # free again
    again.release()
    with pytest.raises(AccountBusy):
        # Held by a different open file (as another process would): busy within the timeout.
        import fcntl

        fd = os.open(path, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            AccountLock(path, "work").acquire(0.1)
        finally:
            os.close(fd)
