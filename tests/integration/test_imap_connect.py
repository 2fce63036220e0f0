"""IMAP connections, bodies, Sent/Drafts and IDLE against the real private Dovecot."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import imapclient
import pytest

from tui_mail.backends.imap import ImapBackend
from tui_mail.errors import AuthError, ConnectError, ProtocolError
from tui_mail.models import DRAFT, SEEN
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

_n = itertools.count(1)


def make_msg(subject: str, body: str = "Hello.\r\n") -> bytes:
    i = next(_n)
    return (
        f"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <c{i}@example.test>\r\nDate: Mon, 02 Nov 2026 11:{i % 60:02d}:00 +0000\r\n\r\n{body}"
    ).encode()


def rows(cache: Cache, folder: str) -> dict[str, Any]:
    f = cache.folder_by_name(folder)
    assert f is not None, f"folder {folder} not in cache"
    return {r.subject: r for r in cache.window(f.id, 0, 10_000)}


def subjects(cache: Cache, folder: str) -> list[str]:
    return sorted(rows(cache, folder))


def server_flags(server: imapclient.IMAPClient, folder: str) -> dict[str, set[str]]:
    """Subject -> flags as the server has them now (read without changing anything)."""
    server.select_folder(folder, readonly=True)
    out: dict[str, set[str]] = {}
    for data in server.fetch(server.search(["ALL"]), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values():
        subj = data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip()
        out[subj] = {f.decode() for f in data[b"FLAGS"]} - {"\\Recent"}
    return out


def wipe_inbox(dovecot: Any, user: Any) -> None:
    client = dovecot.imap_client(user)
    try:
        client.select_folder("INBOX")
        client.delete_messages(client.search(["ALL"]))
        client.expunge()
    finally:
        client.logout()


def backend(dovecot: Any, user: Any, tmp_path: Path, password: str | None = None, **kw: Any) -> ImapBackend:
    return ImapBackend(
        dovecot.imap_account(user, **kw), user.password if password is None else password, Cache(tmp_path / "cache.db")
    )


@pytest.mark.parametrize("security", ["tls", "starttls", "none"])
def test_login_with_each_security_setting(dovecot: Any, mail_user: Any, tmp_path: Path, security: str):
    dovecot.deliver(mail_user, make_msg("over tls"))  # "none" only because the config says so explicitly
    b = backend(dovecot, mail_user, tmp_path, security=security)
    try:
        b.sync()
        assert subjects(b.cache, "INBOX") == ["over tls"]
    finally:
        b.close()
        b.close()  # safe twice


def test_closing_says_logout_without_waiting_for_the_goodbye(
    dovecot: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import imaplib

    b = backend(dovecot, mail_user, tmp_path)
    b.sync()
    said, awaited = [], []
    real_command, real_complete = imaplib.IMAP4._command, imaplib.IMAP4._command_complete
    monkeypatch.setattr(imaplib.IMAP4, "_command", lambda s, n, *a: said.append(n) or real_command(s, n, *a))
    monkeypatch.setattr(imaplib.IMAP4, "_command_complete", lambda s, n, t: awaited.append(n) or real_complete(s, n, t))
    b.close()
    assert said == ["LOGOUT"] and awaited == []  # the server is told; the client does not wait a round trip
    b.sync()  # a later sync simply connects again
    b.close()


def test_wrong_ca_is_refused_with_certificate_sentence(dovecot: Any, mail_user: Any, tmp_path: Path):
    b = backend(dovecot, mail_user, tmp_path, ca_file=dovecot.wrong_ca_file)
    with pytest.raises(ConnectError, match=r"certificate of 127\.0\.0\.1 could not be verified"):
        b.sync()


def test_starttls_not_offered_is_refused(dovecot_nostarttls: Any, tmp_path: Path):
    user = dovecot_nostarttls.add_user()
    b = backend(dovecot_nostarttls, user, tmp_path, security="starttls")
    with pytest.raises(ConnectError, match="does not offer STARTTLS; refusing to log in without encryption"):
        b.sync()


def test_wrong_password_is_a_clear_auth_error(dovecot: Any, mail_user: Any, tmp_path: Path):
    secret = "Wr0ng-Passw0rd-xyz"
    b = backend(dovecot, mail_user, tmp_path, password=secret)
    with pytest.raises(AuthError) as info:
        b.sync()
    text = str(info.value)
    assert "rejected the username or password" in text and mail_user.name in text
    assert secret not in text
    assert secret not in repr(info.value.__context__) if info.value.__context__ else True


def test_nothing_listening_is_a_clear_connect_error(dovecot: Any, mail_user: Any, tmp_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = backend(dovecot, mail_user, tmp_path, port=port)
    with pytest.raises(ConnectError, match=rf"^cannot reach 127\.0\.0\.1:{port}: connection refused\.$"):
        b.sync()


def test_full_sync_does_not_mark_mail_read(imap_server: Any, imap_user: Any, tmp_path: Path):
    imap_server.deliver(imap_user, make_msg("unread stays unread", body="The whole body.\r\n"))
    b = backend(imap_server, imap_user, tmp_path, download="full")
    try:
        b.sync()
        row = rows(b.cache, "INBOX")["unread stays unread"]
        assert row.has_body and not row.seen
        assert b"The whole body." in (b.cache.body(row.id) or b"")
    finally:
        b.close()
    client = imap_server.imap_client(imap_user)
    try:
        assert server_flags(client, "INBOX")["unread stays unread"] == set()
    finally:
        client.logout()


def test_headers_only_then_fetch_body_caches_it_without_marking_read(imap_server: Any, imap_user: Any, tmp_path: Path):
    imap_server.deliver(imap_user, make_msg("open me later", body="Body fetched on demand.\r\n"))
    b = backend(imap_server, imap_user, tmp_path, download="headers")
    try:
        b.sync()
        row = rows(b.cache, "INBOX")["open me later"]
        assert not row.has_body and b.cache.body(row.id) is None
        raw = b.fetch_body(row.id)
        assert b"Body fetched on demand." in raw
        assert b.cache.body(row.id) == raw
        assert rows(b.cache, "INBOX")["open me later"].has_body
        client = imap_server.imap_client(imap_user)
        try:
            assert server_flags(client, "INBOX")["open me later"] == set()
        finally:
            client.logout()
        imap_server.deliver(imap_user, make_msg("another"))
        b.sync()
        other = rows(b.cache, "INBOX")["another"]
        wipe_inbox(imap_server, imap_user)
        with pytest.raises(ProtocolError, match="no longer on the server"):
            b.fetch_body(other.id)
    finally:
        b.close()


def test_save_sent_and_draft_land_in_their_folders_once(imap_server: Any, imap_user: Any, tmp_path: Path):
    b = backend(imap_server, imap_user, tmp_path)
    try:
        b.sync()
        b.save_sent(make_msg("sent copy"))
        b.save_draft(make_msg("half written"))
        b.sync()
        b.sync()
        sent, drafts = imap_server.folder_name("Sent"), imap_server.folder_name("Drafts")  # INBOX.Sent when plain
        assert subjects(b.cache, sent) == ["sent copy"]
        assert subjects(b.cache, drafts) == ["half written"]
        assert rows(b.cache, sent)["sent copy"].seen
        client = imap_server.imap_client(imap_user)
        try:
            assert server_flags(client, sent) == {"sent copy": {SEEN}}
            assert server_flags(client, drafts) == {"half written": {SEEN, DRAFT}}
        finally:
            client.logout()
    finally:
        b.close()


def test_idle_wait_reports_new_mail(imap_server: Any, imap_user: Any, tmp_path: Path):
    b = backend(imap_server, imap_user, tmp_path)
    stop = threading.Event()
    try:
        b.sync()
        assert b.capabilities.idle
        assert b.idle_wait(0.3, stop) is False  # nothing happened
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(b.idle_wait(20, stop)))
        waiter.start()
        # IDLE is entered before the first check; delivering right away is fine because Dovecot reports
        # EXISTS for anything that arrived after the IDLE connection's last SELECT/IDLE.
        imap_server.deliver(imap_user, make_msg("pushed"))
        waiter.join(25)
        assert result == [True]
        b.sync()
        assert subjects(b.cache, "INBOX") == ["pushed"]
        stopped: list[bool] = []
        stop.set()
        t = threading.Thread(target=lambda: stopped.append(b.idle_wait(20, stop)))
        t.start()
        t.join(5)
        assert stopped == [False]
    finally:
        stop.set()
        b.close()


def test_downloaded_mail_is_not_written_out_for_a_debug_log_nobody_reads(
    dovecot: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # imapclient switches imaplib's debug messages on; imaplib then formats the repr of every response (every
    # downloaded message) before the logger drops it. With the "imapclient.imaplib" logger off, nothing is formatted.
    import imaplib

    formatted: list[str] = []
    real = imaplib.IMAP4._append_untagged

    def spy(self: Any, typ: str, dat: Any) -> Any:
        if self.debug >= 5:
            formatted.append(typ)
        return real(self, typ, dat)

    monkeypatch.setattr(imaplib.IMAP4, "_append_untagged", spy)
    dovecot.deliver(mail_user, make_msg("quiet", body="x" * 50_000 + "\r\n"))
    b = backend(dovecot, mail_user, tmp_path)
    try:
        b.sync()
        assert "quiet" in subjects(b.cache, "INBOX")
        assert "FETCH" not in formatted  # (only the greeting comes before the connection is set up)
    finally:
        b.close()
