"""The test servers themselves work: TLS with the private CA, STARTTLS, SPECIAL-USE folders, delivery, POP3, SMTP."""

from __future__ import annotations

import poplib
import smtplib
import ssl
from email.message import EmailMessage

import imapclient
import pytest

from tests.servers import Dovecot, MailUser, SmtpServer
from tui_mail.tls import make_context

pytestmark = pytest.mark.servers

RAW = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hello\r\n\r\nHello there.\r\n"


def test_imaps_login_verifies_with_private_ca(dovecot: Dovecot, mail_user: MailUser) -> None:
    with imapclient.IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=make_context(dovecot.ca_file)) as c:
        c.login(mail_user.name, mail_user.password)
        caps = c.capabilities()
        assert b"CONDSTORE" in caps and b"QRESYNC" in caps


def test_imaps_refuses_the_wrong_ca(dovecot: Dovecot) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=make_context(dovecot.wrong_ca_file))


def test_starttls_on_plain_imap_port(dovecot: Dovecot, mail_user: MailUser) -> None:
    c = imapclient.IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False)
    assert b"STARTTLS" in c.capabilities()
    c.starttls(make_context(dovecot.ca_file))
    c.login(mail_user.name, mail_user.password)
    c.logout()


def test_special_use_folders_exist(dovecot: Dovecot, mail_user: MailUser) -> None:
    c = dovecot.imap_client(mail_user)
    flags = {name: set(f) for f, _sep, name in c.list_folders()}
    c.logout()
    assert rb"\Sent" in flags["Sent"] and rb"\Drafts" in flags["Drafts"] and rb"\Trash" in flags["Trash"]
    assert rb"\Junk" in flags["Junk"] and rb"\Archive" in flags["Archive"] and "INBOX" in flags


def test_deliver_lands_in_inbox_with_flags(dovecot: Dovecot, mail_user: MailUser) -> None:
    dovecot.deliver(mail_user, RAW, flags=[r"\Seen"])
    dovecot.deliver(mail_user, RAW, folder="Lists/Python")
    c = dovecot.imap_client(mail_user)
    assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    assert rb"\Seen" in next(iter(c.fetch(c.search(), ["FLAGS"]).values()))[b"FLAGS"]
    assert c.select_folder("Lists/Python", readonly=True)[b"EXISTS"] == 1
    c.logout()


def test_users_added_at_run_time_can_log_in(dovecot: Dovecot) -> None:
    user = dovecot.add_user(password="pass word with spaces")
    assert user.email == f"{user.name}@example.test"
    dovecot.imap_client(user).logout()
    assert "INBOX" in dovecot.doveadm("mailbox", "list", "-u", user.name)


def test_pop3s_stat_and_stls(dovecot: Dovecot, mail_user: MailUser) -> None:
    dovecot.deliver(mail_user, RAW)
    p = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=make_context(dovecot.ca_file))
    p.user(mail_user.name)
    p.pass_(mail_user.password)
    assert p.stat()[0] == 1
    p.quit()
    p2 = poplib.POP3(dovecot.host, dovecot.pop3_port)
    p2.stls(make_context(dovecot.ca_file))
    p2.user(mail_user.name)
    p2.pass_(mail_user.password)
    assert p2.stat()[0] == 1
    p2.quit()


def test_nostarttls_instance_offers_no_starttls(dovecot_nostarttls: Dovecot) -> None:
    user = dovecot_nostarttls.add_user()
    c = imapclient.IMAPClient(dovecot_nostarttls.host, port=dovecot_nostarttls.imap_port, ssl=False)
    assert b"STARTTLS" not in c.capabilities()
    c.login(user.name, user.password)
    c.logout()
    p = poplib.POP3(dovecot_nostarttls.host, dovecot_nostarttls.pop3_port)
    assert "STLS" not in p.capa()
    p.quit()


def _message(sender: MailUser, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender.email, to, "via smtp"
    msg.set_content("Sent through the test SMTP server.\n")
    return msg


def test_smtp_starttls_login_delivers_to_dovecot(
    dovecot: Dovecot, smtp_server: SmtpServer, mail_user: MailUser
) -> None:
    rcpt = dovecot.add_user()
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        s.ehlo()
        with pytest.raises(smtplib.SMTPException):
            s.login(mail_user.name, mail_user.password)  # AUTH before STARTTLS is refused
        s.starttls(context=make_context(smtp_server.ca_file))
        s.login(mail_user.name, mail_user.password)
        s.send_message(_message(mail_user, f"{rcpt.email}, someone@elsewhere.example"))
    c = dovecot.imap_client(rcpt)
    assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    c.logout()
    assert len(smtp_server.messages_to("someone@elsewhere.example")) == 1


def test_smtps_rejects_unknown_local_recipient_and_bad_password(smtp_server: SmtpServer, mail_user: MailUser) -> None:
    ctx = make_context(smtp_server.ca_file)
    with smtplib.SMTP_SSL(smtp_server.host, smtp_server.smtps_port, context=ctx, timeout=10) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(mail_user.name, "wrong")
    with smtplib.SMTP_SSL(smtp_server.host, smtp_server.smtps_port, context=ctx, timeout=10) as s:
        s.login(mail_user.name, mail_user.password)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.send_message(_message(mail_user, "nobody@example.test"))


def test_account_configs_point_at_the_right_ports(
    dovecot: Dovecot, smtp_server: SmtpServer, mail_user: MailUser
) -> None:
    acc = dovecot.imap_account(mail_user, smtp=smtp_server, timeout=5.0)
    assert (acc.protocol, acc.incoming.port, acc.incoming.timeout) == ("imap", dovecot.imaps_port, 5.0)
    assert acc.smtp is not None and acc.smtp.port == smtp_server.port and acc.smtp.security == "starttls"
    assert dovecot.imap_account(mail_user, security="starttls").incoming.port == dovecot.imap_port
    pop = dovecot.pop3_account(mail_user, security="none", leave_on_server=False, delete_after_days=3)
    assert (pop.protocol, pop.incoming.port, pop.smtp) == ("pop3", dovecot.pop3_port, None)
    assert (pop.pop3.leave_on_server, pop.pop3.delete_after_days) == (False, 3)


def test_login_with_full_address_and_dotted_name(dovecot: Dovecot, mail_user: MailUser) -> None:
    user = dovecot.add_user(f"first.{mail_user.name}", password="pw")
    client = imapclient.IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False)
    client.login(user.email, user.password)
    client.logout()


def test_mail_before_auth_is_refused(smtp_server: SmtpServer, mail_user: MailUser) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        s.starttls(context=make_context(smtp_server.ca_file))
        with pytest.raises(smtplib.SMTPSenderRefused):
            s.send_message(_message(mail_user, "someone@elsewhere.example"))


def test_failed_logins_do_not_slow_down_later_logins(dovecot: Dovecot, mail_user: MailUser) -> None:
    import time

    start = time.monotonic()
    for _ in range(3):
        client = imapclient.IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False)
        with pytest.raises(imapclient.exceptions.LoginError):
            client.login(mail_user.name, "wrong")
        client.shutdown()
    dovecot.imap_client(mail_user).logout()
    assert time.monotonic() - start < 2.5  # Dovecot answers a failure within ~0.5 s; penalties would be 2-15 s
