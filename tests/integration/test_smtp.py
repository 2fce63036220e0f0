"""SMTP send through the real aiosmtpd server into the recipient's real Dovecot INBOX."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import email.utils
import os
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

import pytest

from tui_mail.errors import AuthError, ConnectError, SendError
from tui_mail.smtp import PartialSendError, send_message

pytestmark = pytest.mark.servers


def inbox(dovecot: Any, user: Any) -> list[EmailMessage]:
    """Every message in the user's Dovecot INBOX, parsed."""
    client = dovecot.imap_client(user)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        out = []
        for uid in sorted(data):
            msg = email.message_from_bytes(data[uid][b"BODY[]"], policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out
    finally:
        client.logout()


def compose(
    sender: Any, to: list[str], subject: str, *, bcc: Sequence[str] = (), attach: bytes | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender.email
    msg["To"] = ", ".join(to)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="example.test")
    msg["Date"] = email.utils.formatdate()
    msg.set_content("Grüße aus dem Test.\n.\nA line with only a dot above.\n")
    if attach is not None:
        msg.add_attachment(attach, maintype="application", subtype="octet-stream", filename="blob.bin")
    return msg


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_send_with_attachment_arrives(dovecot: Any, smtp_server: Any, mail_user: Any, security: str) -> None:
    rcpt = dovecot.add_user()
    blob = os.urandom(300_000)
    msg = compose(mail_user, [rcpt.email], f"Attachment over {security}", attach=blob)
    server = smtp_server.smtp_config(mail_user, security=security)
    assert server.port == (smtp_server.port if security == "starttls" else smtp_server.smtps_port)
    send_message(server, mail_user.password, msg, [rcpt.email], from_addr=mail_user.email)

    [got] = inbox(dovecot, rcpt)
    assert got["Subject"] == f"Attachment over {security}"
    [part] = list(got.iter_attachments())
    assert part.get_filename() == "blob.bin"
    assert part.get_content() == blob
    text = got.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Grüße aus dem Test.\n.\nA line with only a dot above." in text


def test_bcc_recipient_gets_it_without_the_header(dovecot: Any, smtp_server: Any, mail_user: Any) -> None:
    to, hidden = dovecot.add_user(), dovecot.add_user()
    msg = compose(mail_user, [to.email], "With a blind copy", bcc=[hidden.email])
    server = smtp_server.smtp_config(mail_user)
    send_message(server, mail_user.password, msg, [to.email, hidden.email], from_addr=mail_user.email)

    for user in (to, hidden):
        [got] = inbox(dovecot, user)
        assert got["Subject"] == "With a blind copy"
        assert got["Bcc"] is None
        assert hidden.email.encode() not in got.as_bytes()
    assert msg["Bcc"] == hidden.email  # the caller's message (the copy kept in Sent) still has it


def test_refused_recipient_is_named(dovecot: Any, smtp_server: Any, mail_user: Any) -> None:
    nobody = "nobody-here@example.test"
    msg = compose(mail_user, [nobody], "To nobody")
    with pytest.raises(SendError, match=nobody) as info:
        send_message(smtp_server.smtp_config(mail_user), mail_user.password, msg, [nobody], from_addr=mail_user.email)
    assert "550" in str(info.value)
    assert mail_user.password not in str(info.value)


def test_partly_refused_recipients(dovecot: Any, smtp_server: Any, mail_user: Any) -> None:
    rcpt = dovecot.add_user()
    nobody = "nobody-either@example.test"
    msg = compose(mail_user, [rcpt.email, nobody], "Half delivered")
    with pytest.raises(PartialSendError, match=nobody) as info:
        send_message(
            smtp_server.smtp_config(mail_user), mail_user.password, msg, [rcpt.email, nobody], from_addr=mail_user.email
        )
    assert info.value.accepted == [rcpt.email]
    assert list(info.value.refused) == [nobody]
    assert [m["Subject"] for m in inbox(dovecot, rcpt)] == ["Half delivered"]


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_wrong_password(dovecot: Any, smtp_server: Any, mail_user: Any, security: str) -> None:
    secret = "N0t-The-Passw0rd"
    msg = compose(mail_user, [mail_user.email], "Never sent")
    with pytest.raises(AuthError, match="rejected the username or password") as info:
        send_message(
            smtp_server.smtp_config(mail_user, security=security),
            secret,
            msg,
            [mail_user.email],
            from_addr=mail_user.email,
        )
    assert secret not in str(info.value)
    assert inbox(dovecot, mail_user) == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_wrong_ca_is_refused(dovecot: Any, smtp_server: Any, mail_user: Any, security: str) -> None:
    server = dataclasses.replace(smtp_server.smtp_config(mail_user, security=security), ca_file=dovecot.wrong_ca_file)
    msg = compose(mail_user, [mail_user.email], "Never sent")
    with pytest.raises(ConnectError, match="certificate"):
        send_message(server, mail_user.password, msg, [mail_user.email], from_addr=mail_user.email)


def test_starttls_not_offered_is_refused(dovecot: Any, mail_user: Any) -> None:
    """A real aiosmtpd listener without TLS: tui-mail must not send the password in the clear."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    from tests.servers import free_port

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        server = dataclasses.replace(
            dovecot.pop3_account(mail_user).incoming, port=controller.port, security="starttls", ca_file=dovecot.ca_file
        )
        msg = compose(mail_user, [mail_user.email], "Never sent")
        with pytest.raises(ConnectError, match="does not offer STARTTLS"):
            send_message(server, mail_user.password, msg, [mail_user.email], from_addr=mail_user.email)
    finally:
        controller.stop()


def test_unreachable_server(dovecot: Any, smtp_server: Any, mail_user: Any) -> None:
    from tests.servers import free_port

    server = dataclasses.replace(smtp_server.smtp_config(mail_user), port=free_port())
    msg = compose(mail_user, [mail_user.email], "Never sent")
    with pytest.raises(ConnectError, match="connection refused"):
        send_message(server, mail_user.password, msg, [mail_user.email], from_addr=mail_user.email)


def test_missing_login_is_an_auth_error(dovecot: Any, smtp_server: Any, mail_user: Any) -> None:
    msg = compose(mail_user, [mail_user.email], "Never sent")
    with pytest.raises(AuthError, match="requires a login"):
        send_message(smtp_server.smtp_config(mail_user), None, msg, [mail_user.email], from_addr=mail_user.email)
