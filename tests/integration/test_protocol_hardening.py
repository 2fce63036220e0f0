"""Protocol hardening (issue 6): PREAUTH before TLS, data injected before the STARTTLS handshake, caps on what a
server can make tui-mail hold in memory, folder names that never become paths.

The PREAUTH and injection cases need a server that misbehaves on purpose: a tiny scripted TCP server, used only
here. Everything else runs against the real Dovecot with the caps turned down.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tui_mail.backends.imap_folders as imap_folders
import tui_mail.backends.limits as limits
from tests.servers import HOST, server_ssl_context
from tui_mail.accounts import AccountManager
from tui_mail.backends.imap import ImapBackend
from tui_mail.backends.pop3 import Pop3Backend
from tui_mail.config import AccountConfig, Config, ServerConfig
from tui_mail.errors import ConnectError, ProtocolError
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers

Script = Callable[["Conversation"], None]


class Conversation:
    """One client connection of the scripted server: send lines, read the client's commands."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | ssl.SSLSocket = sock
        self.buf = b""
        self.received: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self) -> tuple[bytes, bytes]:
        """(tag, rest) of the client's next command line."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        self.received.append(line)
        tag, _, rest = line.partition(b" ")
        return tag, rest

    def start_tls(self, ctx: ssl.SSLContext) -> None:
        assert not self.buf, "client sent data before the handshake"
        self.sock = ctx.wrap_socket(self.sock, server_side=True)


@pytest.fixture
def scripted(test_certs: Any) -> Iterator[Callable[[Script], tuple[int, list[Conversation]]]]:
    """Start a one-connection-at-a-time TCP server on loopback that plays a script; returns (port, conversations)."""
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(script: Script) -> tuple[int, list[Conversation]]:
        lsock = socket.socket()
        lsock.bind((HOST, 0))
        lsock.listen(4)
        lsock.settimeout(20)
        listeners.append(lsock)
        convs: list[Conversation] = []

        def serve() -> None:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            conn.settimeout(20)
            conv = Conversation(conn)
            convs.append(conv)
            try:
                script(conv)
            except (EOFError, OSError, ssl.SSLError):
                pass
            finally:
                conv.sock.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        threads.append(t)
        return lsock.getsockname()[1], convs

    yield start
    for s in listeners:
        s.close()
    for t in threads:
        t.join(5)


def account(port: int, security: str, ca_file: str) -> AccountConfig:
    return AccountConfig(
        name="probe",
        email="probe@example.test",
        protocol="imap",
        incoming=ServerConfig(host=HOST, port=port, security=security, username="probe", ca_file=ca_file, timeout=10),  # type: ignore[arg-type]
        idle=False,
    )


def test_preauth_greeting_before_starttls_is_refused_without_sending_the_password(
    tmp_path: Path, scripted: Any, test_certs: Any
) -> None:
    def script(conv: Conversation) -> None:
        conv.send(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in already\r\n")
        while True:
            tag, rest = conv.command()
            if rest.upper().startswith(b"CAPABILITY"):
                conv.send(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + b" OK done\r\n")
            else:
                conv.send(tag + b" OK whatever you say\r\n")

    port, convs = scripted(script)
    backend = ImapBackend(account(port, "starttls", test_certs.ca_file), "s3cret-pw", Cache(tmp_path / "c.db"))
    with pytest.raises(ConnectError, match=r"PREAUTH.*refusing to work over an unencrypted connection\.$"):
        backend.connect()
    backend.close()
    sent = b"\n".join(line for conv in convs for line in conv.received)
    assert b"s3cret-pw" not in sent and b"LOGIN" not in sent.upper()


def test_data_injected_before_the_starttls_handshake_is_discarded(
    tmp_path: Path, scripted: Any, test_certs: Any
) -> None:
    server_ctx = server_ssl_context(test_certs)

    def script(conv: Conversation) -> None:
        conv.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
        tls = False
        while True:
            tag, rest = conv.command()
            verb = rest.split(b" ", 1)[0].upper()
            if verb == b"CAPABILITY":
                caps = b"IMAP4rev1 AUTH=PLAIN" if tls else b"IMAP4rev1 STARTTLS LOGINDISABLED"
                conv.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif verb == b"STARTTLS":
                # A man in the middle's classic: untagged data and a fake tagged answer in the same packet as the
                # go-ahead, hoping the client reads them after the handshake as if they were encrypted.
                conv.send(
                    b"* ENABLED QRESYNC CONDSTORE\r\n"
                    + tag
                    + b" OK Begin TLS\r\n* BYE injected\r\n"
                    + tag[:-1]
                    + b"9 OK LOGIN injected\r\n"
                )
                conv.buf = b""
                conv.start_tls(server_ctx)
                tls = True
            elif verb == b"LOGIN":
                assert tls, "LOGIN before TLS"
                conv.send(tag + b" OK logged in\r\n")
            elif verb == b"LOGOUT":
                conv.send(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return
            else:
                conv.send(tag + b" BAD unknown\r\n")

    port, convs = scripted(script)
    backend = ImapBackend(account(port, "starttls", test_certs.ca_file), "pw", Cache(tmp_path / "c.db"))
    backend.connect()  # the injected BYE / tagged OK would break or fake this if they were read after TLS
    client = backend._client
    assert client is not None
    assert "ENABLED" not in client._imap.untagged_responses
    assert backend._enabled == set()
    backend.close()
    assert any(line.split(b" ")[1:2] == [b"LOGIN"] for line in convs[0].received)


def test_pop3_data_injected_before_the_stls_handshake_is_discarded(
    tmp_path: Path, scripted: Any, test_certs: Any
) -> None:
    server_ctx = server_ssl_context(test_certs)

    def script(conv: Conversation) -> None:
        conv.send(b"+OK ready\r\n")
        tls = False
        while True:
            _verb, _, _rest = (b" ".join(conv.command())).partition(b" ")
            verb = _verb.upper()
            if verb == b"CAPA":
                conv.send(b"+OK\r\nUIDL\r\n" + (b"" if tls else b"STLS\r\n") + b".\r\n")
            elif verb == b"STLS":
                conv.send(b"+OK Begin TLS\r\n-ERR injected\r\n-ERR injected\r\n")  # one packet with the go-ahead
                conv.buf = b""
                conv.start_tls(server_ctx)
                tls = True
            elif verb in (b"USER", b"PASS"):
                assert tls, "credentials before TLS"
                conv.send(b"+OK\r\n")
            elif verb == b"QUIT":
                conv.send(b"+OK bye\r\n")
                return
            else:
                conv.send(b"-ERR unknown\r\n")

    port, convs = scripted(script)
    cfg = dataclasses.replace(account(port, "starttls", test_certs.ca_file), protocol="pop3")
    backend = Pop3Backend(cfg, "pw", Cache(tmp_path / "c.db"))
    conn = backend._connect()  # an injected -ERR read after the handshake would fail USER/PASS
    conn.quit()
    assert [line.split(b" ")[0] for line in convs[0].received][-3:] == [b"USER", b"PASS", b"QUIT"]


def test_a_huge_literal_is_refused_with_one_sentence(tmp_path: Path, scripted: Any, test_certs: Any) -> None:
    def script(conv: Conversation) -> None:
        conv.send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        while True:
            tag, rest = conv.command()
            verb = rest.split(b" ", 1)[0].upper()
            if verb == b"CAPABILITY":
                conv.send(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            elif verb == b"LOGIN":
                conv.send(tag + b" OK logged in\r\n")
            elif verb == b"EXAMINE":  # a never-synced INBOX's first page comes before LIST: none here
                conv.send(tag + b" NO no INBOX here\r\n")
            elif verb == b"LIST":
                conv.send(b'* LIST () "/" {6000000000}\r\n' + b"x" * 1000)
                return

    port, _ = scripted(script)
    cfg = account(port, "none", test_certs.ca_file)
    backend = ImapBackend(cfg, "pw", Cache(tmp_path / "c.db"))
    with pytest.raises(ConnectError, match=r"6000000000 bytes .* more than the 512 MiB tui-mail accepts\)\.$"):
        backend.sync()
    backend.close()


def test_a_search_answer_for_a_big_folder_is_not_refused(tmp_path: Path, scripted: Any, test_certs: Any) -> None:
    uids = b" ".join(str(n).encode() for n in range(1, 200_001))  # 1.3 MB on one line: over imaplib's 1 MB

    def script(conv: Conversation) -> None:
        conv.send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        while True:
            tag, rest = conv.command()
            verb = rest.split(b" ", 1)[0].upper()
            if verb == b"CAPABILITY":
                conv.send(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            elif verb in (b"LOGIN", b"LOGOUT"):
                conv.send(tag + b" OK fine\r\n")
            elif verb in (b"SELECT", b"EXAMINE"):
                conv.send(b"* 200000 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n" + tag + b" OK [READ-ONLY] done\r\n")
            elif verb == b"UID":
                conv.send(b"* SEARCH " + uids + b"\r\n" + tag + b" OK done\r\n")

    port, _ = scripted(script)
    backend = ImapBackend(account(port, "none", test_certs.ca_file), "pw", Cache(tmp_path / "c.db"))
    try:
        backend._select("INBOX", readonly=True)
        assert len(backend._c.search(["ALL"])) == 200_000
    finally:
        backend.close()


def test_too_many_folders_is_a_clear_error(
    tmp_path: Path, dovecot: Any, mail_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap_folders, "MAX_FOLDERS", 3)
    backend = ImapBackend(dovecot.imap_account(mail_user), mail_user.password, Cache(tmp_path / "c.db"))
    try:
        with pytest.raises(ProtocolError, match=r"lists 6 folders, more than tui-mail handles \(3\)"):
            backend.sync()
    finally:
        backend.close()


def test_an_answer_larger_than_the_cap_ends_the_connection_with_one_sentence(
    tmp_path: Path, dovecot: Any, mail_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.deliver(mail_user, b"Subject: big\r\n\r\n" + b"x" * 200_000 + b"\r\n")
    monkeypatch.setattr(limits, "MAX_LITERAL", 100_000)
    cache = Cache(tmp_path / "c.db")
    backend = ImapBackend(dovecot.imap_account(mail_user), mail_user.password, cache)
    try:
        with pytest.raises(
            ConnectError,
            match=r"^lost the connection to .*bytes of data at once, more than the 100000 bytes tui-mail accepts\)\.$",
        ):
            backend.sync()
    finally:
        backend.close()
    monkeypatch.setattr(limits, "MAX_LITERAL", 512 * limits.MiB)
    monkeypatch.setattr(limits, "MAX_IMAP_RESPONSE", 50_000)
    backend = ImapBackend(dovecot.imap_account(mail_user), mail_user.password, cache)
    try:
        with pytest.raises(ConnectError, match=r"more than 50000 bytes in one answer, more than tui-mail accepts\)\.$"):
            backend.sync()
    finally:
        backend.close()


def test_an_endless_pop3_uidl_is_cut_off(
    tmp_path: Path, dovecot: Any, mail_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        dovecot.deliver(mail_user, f"Subject: pop {i}\r\nMessage-ID: <pop{i}@x>\r\n\r\nhi\r\n".encode())
    monkeypatch.setattr(limits, "MAX_POP3_LINES", 2)
    cache = Cache(tmp_path / "c.db")
    backend = Pop3Backend(dovecot.pop3_account(mail_user), mail_user.password, cache)
    try:
        with pytest.raises(ProtocolError, match=r"sent an answer of more than 2 lines"):
            backend.sync()
    finally:
        backend.close()
    assert cache.known_uidls() == set()  # nothing half-downloaded, nothing deleted


def test_folder_names_never_become_paths(tmp_path: Path, dovecot: Any, mail_user: Any) -> None:
    evil = ("a\\b", "x~y", "%2e%2e", "Evil/~root", "$HOME", "con:")  # Dovecot itself refuses "." and "~x"
    client = dovecot.imap_client(mail_user)
    try:
        for name in evil:
            client.create_folder(name)
    finally:
        client.logout()
    data = tmp_path / "data"
    manager = AccountManager(
        Config(path=None, accounts=(dovecot.imap_account(mail_user),)),
        data_dir=data,
        password_source=lambda _a, _s: mail_user.password,
    )
    try:
        manager.sync(mail_user.name)
        names = {f.name for f in manager.cache(mail_user.name).folders()}
        assert set(evil) <= names
    finally:
        manager.close()
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if not p.is_dir())
    assert made and all(p.startswith(f"data/{mail_user.name}.sqlite3") for p in made), made  # the cache, only
