"""Round trips of an IMAP sync against the real Dovecot (each one costs the link's latency): the greeting's
capabilities are used instead of asking again, and ENABLE rides along with the next command."""

from __future__ import annotations

import imaplib
from pathlib import Path
from typing import Any

import pytest

from tui_mail.backends.imap import ImapBackend
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers


def make(i: int) -> bytes:
    return (
        f"From: a@example.test\r\nTo: b@example.test\r\nSubject: s{i}\r\nMessage-ID: <rt{i}@example.test>\r\n"
        f"Date: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0000\r\n\r\nHello {i}\r\n"
    ).encode()


def flights(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands the client sends, grouped by flight (sent without reading anything in between)."""
    out: list[list[str]] = []
    state = {"read": True}
    real_send, real_readline, real_read = imaplib.IMAP4.send, imaplib.IMAP4.readline, imaplib.IMAP4.read

    def send(self: Any, data: bytes) -> Any:
        if state["read"]:
            out.append([])
        state["read"] = False
        for line in data.split(b"\r\n"):
            words = line.split()
            if len(words) > 1 and not line.startswith(b"DONE"):
                out[-1].append(words[2 if words[1] == b"UID" else 1].decode().upper())
        return real_send(self, data)

    def readline(self: Any) -> Any:
        state["read"] = True
        return real_readline(self)

    def read(self: Any, n: int) -> Any:
        state["read"] = True
        return real_read(self, n)

    monkeypatch.setattr(imaplib.IMAP4, "send", send)
    monkeypatch.setattr(imaplib.IMAP4, "readline", readline)
    monkeypatch.setattr(imaplib.IMAP4, "read", read)
    return out


def test_a_full_sync_spends_no_round_trip_on_capability_or_enable(
    imap_server: Any, imap_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_server.deliver_many(imap_user, [make(i) for i in range(30)])
    sent = flights(monkeypatch)
    cache = Cache(tmp_path / "c.db")
    backend = ImapBackend(imap_server.imap_account(imap_user), imap_user.password, cache)
    try:
        backend.sync()
    finally:
        backend.close()
    commands = [c for flight in sent for c in flight]
    assert "CAPABILITY" not in commands  # the greeting and the LOGIN answer say it
    assert sent[0] == ["LOGIN"]
    if "ENABLE" in commands:  # it rides along with the next command (the first page's EXAMINE, or LIST)
        assert "ENABLE" in sent[1] and len(sent[1]) > 1, sent[:3]
    assert "LIST" in [c for flight in sent[1:4] for c in flight]
    assert len(cache.conn.execute("SELECT 1 FROM messages").fetchall()) == 30


def test_starttls_still_asks_for_capabilities_after_the_handshake(
    dovecot: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the server said before encryption does not count (STARTTLS response injection).
    sent = flights(monkeypatch)
    backend = ImapBackend(
        dovecot.imap_account(mail_user, security="starttls"), mail_user.password, Cache(tmp_path / "c.db")
    )
    try:
        backend.sync()
    finally:
        backend.close()
    commands = [c for flight in sent for c in flight]
    assert commands[:3] == ["STARTTLS", "CAPABILITY", "LOGIN"]
