"""Send one message over SMTP (implicit TLS, STARTTLS or, only when configured, plain), with clear errors."""

from __future__ import annotations

import copy
import email.policy
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage

from .config import ServerConfig
from .errors import AuthError, ConnectError, ProtocolError, SendError, describe, server_text, tls_error
from .tls import make_context


class PartialSendError(SendError):
    """Some recipients were refused; the message WAS delivered to the others (do not resend it to them)."""

    def __init__(self, message: str, refused: dict[str, tuple[int, str]], accepted: list[str]) -> None:
        super().__init__(message)
        self.refused = refused
        self.accepted = accepted


def _refused_text(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    return "; ".join(f"{addr} ({code} {server_text(msg)})" for addr, (code, msg) in refused.items())


def message_bytes(msg: EmailMessage, utf8: bool = False) -> bytes:
    """The bytes to hand to the server: CRLF line ends, Bcc and Resent-Bcc removed."""
    clone = copy.copy(msg)  # del replaces the header list, so the caller's message keeps its Bcc
    del clone["Bcc"]
    del clone["Resent-Bcc"]
    return clone.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)


def _open(server: ServerConfig) -> smtplib.SMTP:
    where = f"{server.host}:{server.port}"
    try:
        conn: smtplib.SMTP
        if server.security == "tls":
            conn = smtplib.SMTP_SSL(
                server.host, server.port, context=make_context(server.ca_file), timeout=server.timeout
            )
        else:
            conn = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    except ssl.SSLError as e:  # includes an unverifiable certificate
        raise tls_error(where, e) from None
    except smtplib.SMTPConnectError as e:
        raise ConnectError(f"{where} refused the connection: {e.smtp_code} {server_text(e.smtp_error)}.") from None
    except OSError as e:
        raise ConnectError(f"Cannot reach {where}: {describe(e)}.") from None
    try:
        conn.ehlo()
        if server.security == "starttls":
            if not conn.has_extn("starttls"):
                raise ConnectError(
                    f"{where} does not offer STARTTLS, so tui-mail will not send over an unencrypted connection."
                )
            conn.starttls(context=make_context(server.ca_file))
            conn.ehlo()
    except BaseException:
        conn.close()
        raise
    return conn


def _hook_data(conn: smtplib.SMTP, hook: Callable[[], None]) -> None:
    """Make conn call hook right before it sends DATA (sendmail calls conn.data after MAIL and RCPT succeeded)."""
    data = conn.data

    def data_with_hook(msg: bytes | str) -> tuple[int, bytes]:
        hook()
        return data(msg)

    conn.data = data_with_hook  # type: ignore[method-assign,assignment]


def send_message(
    server: ServerConfig,
    password: str | None,
    msg: EmailMessage,
    recipients: Sequence[str],
    *,
    from_addr: str,
    before_data: Callable[[], None] | None = None,
) -> None:
    """Deliver msg to recipients (the envelope, which includes Bcc addresses) or raise a typed one-sentence error.

    A password is only sent after TLS is up, or over plain text when the config says security = "none".
    before_data runs once the server accepted the recipients, just before DATA: from then on the message may
    have been delivered even if no reply arrives (the outbox marks the item `sending` there).
    """
    where = f"{server.host}:{server.port}"
    if not recipients:
        raise SendError("The message has no recipients.")
    utf8 = not all(a.isascii() for a in (from_addr, *recipients))
    try:
        conn = _open(server)
        try:
            if server.auth and password:
                if not conn.has_extn("auth"):
                    raise AuthError(
                        f"{server.host} does not offer a login (AUTH); set auth = false for this SMTP server if it "
                        "needs none."
                    )
                conn.login(server.username, password)
            options: list[str] = []
            if utf8:
                if not conn.has_extn("smtputf8"):
                    raise SendError(f"{server.host} cannot deliver to or from non-ASCII addresses (no SMTPUTF8).")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            if before_data is not None:
                _hook_data(conn, before_data)
            refused = conn.sendmail(from_addr, list(recipients), message_bytes(msg, utf8), mail_options=options)
        except BaseException:
            conn.close()
            raise
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()  # the message was accepted already
    except (AuthError, SendError, ConnectError):
        raise
    except smtplib.SMTPAuthenticationError:
        raise AuthError(f"{server.host} rejected the username or password for sending mail.") from None
    except smtplib.SMTPRecipientsRefused as e:
        raise SendError(f"{server.host} refused the recipient(s) {_refused_text(e.recipients)}.") from None
    except smtplib.SMTPSenderRefused as e:
        if e.smtp_code == 530:
            raise AuthError(
                f"{server.host} requires a login before it accepts mail: {server_text(e.smtp_error)}."
            ) from None
        raise SendError(
            f"{server.host} refused the sender address {server_text(e.sender)}: {e.smtp_code} {server_text(e.smtp_error)}."
        ) from None
    except smtplib.SMTPDataError as e:
        raise SendError(f"{server.host} refused the message: {e.smtp_code} {server_text(e.smtp_error)}.") from None
    except smtplib.SMTPNotSupportedError as e:
        raise ProtocolError(f"{where} does not support something sending needs ({server_text(e)}).") from None
    except smtplib.SMTPHeloError as e:
        raise ProtocolError(f"{where} refused the greeting: {e.smtp_code} {server_text(e.smtp_error)}.") from None
    except smtplib.SMTPServerDisconnected:
        raise ConnectError(f"The connection to {where} was lost before the message was accepted.") from None
    except smtplib.SMTPResponseException as e:
        raise SendError(f"{server.host} refused the message: {e.smtp_code} {server_text(e.smtp_error)}.") from None
    except ssl.SSLError as e:  # includes an unverifiable certificate
        raise tls_error(where, e) from None
    except smtplib.SMTPException as e:
        raise SendError(f"Sending through {where} failed: {server_text(e)}.") from None
    except OSError as e:
        raise ConnectError(f"The connection to {where} failed: {describe(e)}.") from None
    if refused:
        accepted = [r for r in recipients if r not in refused]
        raise PartialSendError(
            f"{server.host} refused the recipient(s) {_refused_text(refused)}; the message was sent to the others.",
            {a: (code, server_text(text)) for a, (code, text) in refused.items()},
            accepted,
        )
