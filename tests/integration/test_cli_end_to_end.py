"""The scriptable CLI against the real Dovecot and SMTP servers: sync, list, read, send, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

MESSAGE = (
    b"From: Carol <carol@example.test>\r\n"
    b"To: someone@example.test\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_plans?=\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <cli-1@example.test>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"See you at \x1b]0;pwned\x07 noon. [bold]not markup[/bold]\r\n"
)


def write_config(tmp_path: Path, dovecot, smtp_server, user, protocol: str = "imap") -> Path:  # type: ignore[no-untyped-def]
    incoming_port = dovecot.imaps_port if protocol == "imap" else dovecot.pop3s_port
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[[accounts]]
name = "me"
email = "{user.email}"
display_name = "Me Myself"
protocol = "{protocol}"
[accounts.incoming]
host = "{dovecot.host}"
port = {incoming_port}
security = "tls"
username = "{user.name}"
ca_file = "{dovecot.ca_file}"
password_command = "printf %s {user.password}"
[accounts.smtp]
host = "{smtp_server.host}"
port = {smtp_server.port}
security = "starttls"
ca_file = "{smtp_server.ca_file}"
""",
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sync_list_read(tmp_path: Path, imap_server, imap_smtp, imap_user) -> None:  # type: ignore[no-untyped-def]
    imap_server.deliver(imap_user, MESSAGE)
    config = write_config(tmp_path, imap_server, imap_smtp, imap_user)

    synced = run(config, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "me: 1 new" in synced.stdout

    listed = run(config, "list", "me", "INBOX", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["subject"] == "Café plans" and row["from"] == "carol@example.test"

    shown = run(config, "read", "me", "INBOX", str(row["id"]))
    assert shown.returncode == 0, shown.stderr
    assert "Subject: Café plans" in shown.stdout
    assert "[bold]not markup[/bold]" in shown.stdout
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout

    folders = run(config, "folders", "me")
    assert "INBOX (inbox)" in folders.stdout
    if imap_server.profile == "rich":
        assert "Sent (sent)" in folders.stdout  # the plain server has no Sent until the first message is sent

    # A second sync finds nothing new and duplicates nothing.
    again = run(config, "sync", "me")
    assert "me: 0 new" in again.stdout
    assert len(run(config, "list", "me", "--json").stdout.splitlines()) == 1


def test_send_with_attachment_reaches_inbox_and_sent(tmp_path: Path, imap_server, imap_smtp, imap_user) -> None:  # type: ignore[no-untyped-def]
    recipient = imap_server.add_user()
    config = write_config(tmp_path, imap_server, imap_smtp, imap_user)
    attachment = tmp_path / "report.pdf"
    attachment.write_bytes(b"%PDF-1.4 fake but binary \x00\x01\x02" * 100)

    sent = run(
        config,
        "send",
        "me",
        "--to",
        recipient.email,
        "--subject",
        "Quarterly report",
        "--attach",
        str(attachment),
        stdin="Numbers attached.\n",
    )
    assert sent.returncode == 0, sent.stderr
    assert "Message sent." in sent.stdout

    # The recipient syncs it with their own account and sees the attachment.
    (tmp_path / "r").mkdir()
    their_config = write_config(tmp_path / "r", imap_server, imap_smtp, recipient)
    assert run(their_config, "sync").returncode == 0
    (row,) = [json.loads(line) for line in run(their_config, "list", "me", "--json").stdout.splitlines()]
    assert row["subject"] == "Quarterly report" and row["has_attachments"]
    body = run(their_config, "read", "me", "INBOX", str(row["id"])).stdout
    assert "Numbers attached." in body and "report.pdf" in body

    # The sender's copy is in Sent (APPENDed on the server), marked read.
    assert run(config, "sync").returncode == 0
    sent = imap_server.folder_name("Sent")  # "INBOX.Sent" on the plain server: created in its namespace
    assert f"{sent} (sent)" in run(config, "folders", "me").stdout
    # "Sent" is how the user sees it on both shapes; the server's full name works too.
    assert run(config, "list", "me", sent, "--json").stdout == run(config, "list", "me", "Sent", "--json").stdout
    sent_rows = [json.loads(line) for line in run(config, "list", "me", "Sent", "--json").stdout.splitlines()]
    assert [r["subject"] for r in sent_rows] == ["Quarterly report"]
    assert "\\Seen" in sent_rows[0]["flags"]


def test_wrong_password_is_one_sentence_exit_1(tmp_path: Path, dovecot, smtp_server, mail_user) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, dovecot, smtp_server, mail_user)
    config.write_text(config.read_text().replace(f"printf %s {mail_user.password}", "printf %s wrong-pw-123"))
    result = run(config, "sync")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "wrong-pw-123" not in result.stderr
    assert "rejected the username or password" in result.stderr


def test_pop3_account_via_cli(tmp_path: Path, dovecot, smtp_server, mail_user) -> None:  # type: ignore[no-untyped-def]
    dovecot.deliver(mail_user, MESSAGE)
    config = write_config(tmp_path, dovecot, smtp_server, mail_user, protocol="pop3")
    assert run(config, "sync").returncode == 0
    assert run(config, "sync").returncode == 0
    rows = run(config, "list", "me", "--json").stdout.splitlines()
    assert len(rows) == 1  # keep mode: downloaded once, not twice
