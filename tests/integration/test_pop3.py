"""POP3 download against the real private Dovecot: keep/delete modes, commit before DELE, dropped connections, TLS."""

from __future__ import annotations

import poplib
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tui_mail.backends import pop3 as pop3_mod
from tui_mail.backends.pop3 import Pop3Backend
from tui_mail.errors import AuthError, ConnectError
from tui_mail.models import SEEN, Role
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers


def make_raw(i: int, subject: str | None = None, attach: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Sender {i} <sender{i}@example.org>"
    msg["To"] = "you@example.test"
    msg["Subject"] = subject or f"Message number {i}"
    msg["Message-ID"] = f"<pop-{i}-{time.time_ns()}@example.org>"
    msg["Date"] = f"Mon, 2{i % 10} Nov 2026 08:00:00 +0000"
    msg.set_content(f"Body of message {i}.\n.\n..a line starting with dots\n")
    if attach is not None:
        msg.add_attachment(attach, maintype="application", subtype="octet-stream", filename="data.bin")
    return msg.as_bytes()


def server_count(dovecot: Any, user: Any) -> int:
    out = dovecot.doveadm("mailbox", "status", "-u", user.name, "messages", "INBOX")
    return int(out.strip().split("=")[1])


def server_uidls(dovecot: Any, user: Any) -> dict[int, str]:
    """Message number -> UIDL, read over a separate (plain) POP3 session that deletes nothing."""
    conn = poplib.POP3("127.0.0.1", dovecot.pop3_port, timeout=10)
    try:
        conn.user(user.name)
        conn.pass_(user.password)
        _r, lines, _ = conn.uidl()
        return {int(n): u.decode() for n, u in (line.split() for line in lines)}
    finally:
        conn.quit()


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    c = Cache(tmp_path / "pop.db")
    yield c
    c.close()


def inbox_rows(cache: Cache) -> list[Any]:
    folder = cache.folder_by_role(Role.INBOX)
    assert folder is not None
    return cache.window(folder.id, 0, 1000)


def test_local_folders_exist(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache)
    roles = {f.role: f for f in cache.folders()}
    assert {Role.INBOX, Role.SENT, Role.DRAFTS, Role.TRASH} <= set(roles)
    assert all(f.local_only for f in roles.values())


def test_keep_mode_downloads_once_and_leaves_mail(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(3)])
    backend = Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache)
    seen: list[tuple[int, int]] = []
    result = backend.sync(lambda p: seen.append((p.done, p.total)) if p.stage == "pop" else None)
    assert result.new_messages == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]
    rows = inbox_rows(cache)
    assert len(rows) == 3
    for row in rows:
        body = backend.fetch_body(row.id)
        assert f"Body of message {row.subject.split()[-1]}".encode() in body
        assert b"\r\n.\r\n..a line starting with dots" in body  # dot-stuffing undone exactly once

    again = backend.sync()
    assert again.new_messages == 0
    assert len(inbox_rows(cache)) == 3
    assert server_count(dovecot, mail_user) == 3

    dovecot.deliver(mail_user, make_raw(9, "A late arrival"))
    third = backend.sync()
    assert third.new_messages == 1
    assert sorted(r.subject for r in inbox_rows(cache)) == [
        "A late arrival",
        "Message number 0",
        "Message number 1",
        "Message number 2",
    ]
    assert server_count(dovecot, mail_user) == 4
    backend.close()
    backend.close()


def test_delete_mode_empties_server_after_download(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    dovecot.deliver_many(mail_user, [make_raw(i, attach=b"\x00\x01" * 5000 if i == 1 else None) for i in range(3)])
    acc = dovecot.pop3_account(mail_user, leave_on_server=False)
    result = Pop3Backend(acc, mail_user.password, cache).sync()
    assert result.new_messages == 3
    assert result.removed == 3
    assert server_count(dovecot, mail_user) == 0
    rows = inbox_rows(cache)
    assert len(rows) == 3
    assert all(cache.body(r.id) for r in rows)
    assert [r.has_attachments for r in sorted(rows, key=lambda r: r.subject)] == [False, True, False]


def test_delete_after_days_removes_only_old_downloads(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(3)])
    acc = dovecot.pop3_account(mail_user, leave_on_server=True, delete_after_days=7)
    backend = Pop3Backend(acc, mail_user.password, cache)
    assert backend.sync().removed == 0
    assert server_count(dovecot, mail_user) == 3

    uidls = server_uidls(dovecot, mail_user)
    old = [uidls[1], uidls[2]]
    eight_days_ago = int(time.time()) - 8 * 86400
    with cache.transaction() as c:
        c.executemany("UPDATE pop_uidls SET downloaded=? WHERE uidl=?", [(eight_days_ago, u) for u in old])

    result = backend.sync()
    assert result.removed == 2
    assert result.new_messages == 0
    assert list(server_uidls(dovecot, mail_user).values()) == [uidls[3]]
    assert len(inbox_rows(cache)) == 3  # the local copies stay
    assert backend.sync().removed == 0


def test_dropped_connection_loses_and_deletes_nothing(
    dovecot: Any, mail_user: Any, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(5)])
    acc = dovecot.pop3_account(mail_user, leave_on_server=False)
    monkeypatch.setattr(pop3_mod, "BATCH_MESSAGES", 1)  # commit (and DELE) each message as it arrives
    real_read, real_dele = pop3_mod._ResponseReader.message, poplib.POP3.dele
    calls = 0
    deles: list[Any] = []

    def flaky_read(self: Any) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionResetError(104, "Connection reset by peer")
        return real_read(self)

    def dele(self: poplib.POP3, which: Any) -> Any:
        deles.append(which)
        return real_dele(self, which)

    monkeypatch.setattr(pop3_mod._ResponseReader, "message", flaky_read)
    monkeypatch.setattr(poplib.POP3, "dele", dele)
    backend = Pop3Backend(acc, mail_user.password, cache)
    with pytest.raises(ConnectError, match="lost"):
        backend.sync()
    # The two downloaded messages are committed (and were marked with DELE), but without QUIT the server kept all.
    assert len(inbox_rows(cache)) == 2
    assert len(deles) == 2
    assert server_count(dovecot, mail_user) == 5

    monkeypatch.setattr(pop3_mod._ResponseReader, "message", real_read)
    result = backend.sync()
    assert result.new_messages == 3
    assert result.removed == 5
    rows = inbox_rows(cache)
    assert sorted(r.subject for r in rows) == [f"Message number {i}" for i in range(5)]
    assert len({r.message_id for r in rows}) == 5
    assert server_count(dovecot, mail_user) == 0


def test_dele_only_after_commit(
    dovecot: Any, mail_user: Any, cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(5)])
    uidls = server_uidls(dovecot, mail_user)
    monkeypatch.setattr(pop3_mod, "BATCH_MESSAGES", 2)  # several commits in one session
    events: list[tuple[str, str]] = []
    committed_at_dele: list[bool] = []
    real_store = Cache.store_messages
    real_dele_many = pop3_mod._dele_many

    def store(self: Cache, folder_id: int, messages: Any, **kw: Any) -> list[int]:
        ids = real_store(self, folder_id, messages, **kw)
        events.extend(("commit", m.pop_uidl) for m in messages)
        return ids

    def dele_many(conn: poplib.POP3, numbers: list[int], window: int) -> Any:
        # Runs as the DELE commands are about to go out (pipelined: a commit's DELEs together).
        for n in numbers:
            uidl = uidls[n]
            events.append(("dele", uidl))
            # A separate connection sees only committed data.
            other = Cache(tmp_path / "pop.db")
            committed_at_dele.append(uidl in other.known_uidls())
            other.close()
        yield from real_dele_many(conn, numbers, window)

    monkeypatch.setattr(Cache, "store_messages", store)
    monkeypatch.setattr(pop3_mod, "_dele_many", dele_many)
    acc = dovecot.pop3_account(mail_user, leave_on_server=False)
    Pop3Backend(acc, mail_user.password, cache).sync()

    deles = [u for kind, u in events if kind == "dele"]
    assert sorted(deles) == sorted(uidls.values())
    assert all(committed_at_dele)
    for i, (kind, uidl) in enumerate(events):
        if kind == "dele":
            assert ("commit", uidl) in events[:i]
    assert server_count(dovecot, mail_user) == 0


def test_server_without_uidl_falls_back_to_header_hash(
    dovecot: Any, mail_user: Any, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_uidl(self: poplib.POP3, which: Any = None) -> Any:
        raise poplib.error_proto(b"-ERR Unknown command: UIDL")

    monkeypatch.setattr(poplib.POP3, "uidl", no_uidl)
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(2)])
    backend = Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache)
    first = backend.sync()
    assert first.new_messages == 2
    assert any("UIDL" in w for w in first.warnings)
    dovecot.deliver(mail_user, make_raw(7))
    second = backend.sync()
    assert second.new_messages == 1
    assert len(inbox_rows(cache)) == 3


def test_starttls_with_private_ca(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    dovecot.deliver(mail_user, make_raw(1))
    acc = dovecot.pop3_account(mail_user, security="starttls")
    assert Pop3Backend(acc, mail_user.password, cache).sync().new_messages == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_wrong_ca_is_refused(dovecot: Any, mail_user: Any, cache: Cache, security: str) -> None:
    acc = dovecot.pop3_account(mail_user, security=security, ca_file=dovecot.wrong_ca_file)
    with pytest.raises(ConnectError, match="certificate") as info:
        Pop3Backend(acc, mail_user.password, cache).sync()
    assert mail_user.password not in str(info.value)


def test_starttls_not_offered_is_refused(dovecot_nostarttls: Any, cache: Cache) -> None:
    user = dovecot_nostarttls.add_user()
    acc = dovecot_nostarttls.pop3_account(user, security="starttls")
    with pytest.raises(ConnectError, match="does not offer STLS"):
        Pop3Backend(acc, user.password, cache).sync()


def test_plain_connection_only_when_configured(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    dovecot.deliver(mail_user, make_raw(1))
    acc = dovecot.pop3_account(mail_user, security="none")
    assert Pop3Backend(acc, mail_user.password, cache).sync().new_messages == 1


def test_wrong_password_is_an_auth_error(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    secret = "Wrong-Passw0rd-xyz"
    with pytest.raises(AuthError) as info:
        Pop3Backend(dovecot.pop3_account(mail_user), secret, cache).sync()
    text = str(info.value)
    assert "rejected the username or password" in text
    assert secret not in text and secret not in repr(info.value)


def test_unreachable_server(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    from tests.servers import free_port

    acc = dovecot.pop3_account(mail_user, port=free_port())
    with pytest.raises(ConnectError, match=r"Cannot reach 127\.0\.0\.1:.*connection refused"):
        Pop3Backend(acc, mail_user.password, cache).sync()


def test_sent_and_drafts_are_local(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    backend = Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache)
    backend.save_sent(make_raw(1, "Sent one"))
    draft_id = backend.save_draft(make_raw(2, "Draft one"))
    sent = cache.folder_by_role(Role.SENT)
    drafts = cache.folder_by_role(Role.DRAFTS)
    assert sent is not None and drafts is not None
    [row] = cache.window(sent.id, 0, 10)
    assert row.subject == "Sent one" and SEEN in row.flags
    assert cache.window(drafts.id, 0, 10)[0].id == draft_id
    assert b"Draft one" in backend.fetch_body(draft_id)
    assert cache.pending_actions() == []


def test_a_message_without_a_usable_date_is_dated_by_its_download(dovecot: Any, mail_user: Any, cache: Cache) -> None:
    raw = make_raw(1, "Impossible date").replace(b"08:00:00 +0000", b"59:10:00 +0000")
    assert b"59:10:00" in raw
    dovecot.deliver(mail_user, raw)
    before = int(time.time())
    Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache).sync()
    after = int(time.time())
    (row,) = inbox_rows(cache)
    assert before <= row.date <= after


@pytest.mark.parametrize("leave_on_server", [True, False], ids=["keep", "delete"])
def test_block_reads_bring_every_message_byte_for_byte(
    dovecot: Any, mail_user: Any, cache: Cache, leave_on_server: bool
) -> None:
    tricky = [
        b"Subject: dots\r\n\r\n.\r\n..\r\n...x\r\n. \r\n.\r\nend\r\n",
        b"Subject: long line\r\n\r\n" + b"x" * 300_000 + b"\r\n.\r\n",
        b"Subject: eight bit\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9 \xa4\r\n",
        b"Subject: no body\r\n\r\n",
        b"Subject: terminator lookalike\r\n\r\na\r\n.\r\n\r\n.\r\n.b\r\n",
    ]
    raws = tricky + [make_raw(i) for i in range(40)]  # more than a pipeline window
    dovecot.deliver_many(mail_user, raws)
    client = dovecot.imap_client(mail_user)
    try:
        client.select_folder("INBOX", readonly=True)
        stored = [bytes(d[b"BODY[]"]) for d in client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"]).values()]
    finally:
        client.logout()
    acc = dovecot.pop3_account(mail_user, leave_on_server=leave_on_server)
    result = Pop3Backend(acc, mail_user.password, cache).sync()
    assert result.new_messages == len(raws)
    got = sorted(cache.body(r.id) or b"" for r in inbox_rows(cache))
    assert got == sorted(stored)
    assert server_count(dovecot, mail_user) == (len(raws) if leave_on_server else 0)


def test_pipelined_download_asks_for_many_messages_per_round_trip(
    dovecot: Any, mail_user: Any, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dovecot offers PIPELINING: 120 small messages are asked for in one or two batches of RETR commands, not one
    # round trip per message (or per 16), and every one arrives once.
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(120)])
    batches: list[int] = []
    real_retrieve = pop3_mod._retrieve

    def counting(conn: Any, numbers: list[int], window: int, sizes: Any = None) -> Any:
        real_sendall = conn.sock.sendall

        def sendall(data: bytes) -> Any:
            batches.append(data.count(b"RETR "))
            return real_sendall(data)

        conn.sock.sendall = sendall
        try:
            yield from real_retrieve(conn, numbers, window, sizes)
        finally:
            conn.sock.sendall = real_sendall

    monkeypatch.setattr(pop3_mod, "_retrieve", counting)
    result = Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache).sync()
    assert result.new_messages == 120 and len(inbox_rows(cache)) == 120
    assert sum(batches) == 120 and len(batches) <= 2, batches


def test_delete_mode_sends_a_batch_of_dele_in_one_round_trip(
    dovecot: Any, mail_user: Any, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dovecot offers PIPELINING: after each commit, that batch's DELE commands go out together (not one round trip
    # per message), and every message is gone from the server after QUIT, each stored once.
    dovecot.deliver_many(mail_user, [make_raw(i) for i in range(60)])
    monkeypatch.setattr(pop3_mod, "BATCH_MESSAGES", 25)
    writes: list[int] = []
    real_connect = Pop3Backend._connect

    def connect(self: Pop3Backend) -> Any:
        conn = real_connect(self)
        real_sendall = conn.sock.sendall

        def sendall(data: bytes, *args: Any) -> Any:
            if b"DELE " in data:
                writes.append(data.count(b"DELE "))
            return real_sendall(data, *args)

        conn.sock.sendall = sendall
        return conn

    monkeypatch.setattr(Pop3Backend, "_connect", connect)
    acc = dovecot.pop3_account(mail_user, leave_on_server=False)
    result = Pop3Backend(acc, mail_user.password, cache).sync()
    assert result.new_messages == 60 and result.removed == 60
    assert len({r.message_id for r in inbox_rows(cache)}) == 60
    assert server_count(dovecot, mail_user) == 0
    assert writes == [25, 25, 10]
