"""Typed errors whose message is one clear sentence a user can act on."""

from __future__ import annotations


class MailError(Exception):
    """Base class: str(error) is a single sentence fit to show a user (never a password)."""


class ConfigError(MailError):
    """The configuration file is missing, malformed or inconsistent."""


class CredentialError(MailError):
    """No password could be obtained (no keyring backend, failing password_command, ...)."""


class ConnectError(MailError):
    """A server could not be reached or the secure channel could not be set up.

    reachable=True says the server's host answered (a TLS, certificate or port mistake), so the user must fix
    something; False says the network is down; None lets is_offline() judge from the low-level cause.
    """

    def __init__(self, *args: object, reachable: bool | None = None) -> None:
        super().__init__(*args)
        self.reachable = reachable


class AuthError(MailError):
    """The server rejected the username or password."""


class ProtocolError(MailError):
    """The server answered something we could not work with."""


class SendError(MailError):
    """A message could not be sent; it has been kept in the outbox."""


class DiskFullError(MailError):
    """The disk holding the cache is full: the write was rolled back, so nothing already stored was lost."""


def describe(e: BaseException) -> str:
    """A short, password-free reason for a low-level network/TLS exception, to end a one-sentence error."""
    import smtplib
    import socket
    import ssl

    if isinstance(e, socket.gaierror):
        return "host name not found"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(e, ssl.SSLCertVerificationError):
        return e.verify_message or str(e.reason)
    if isinstance(e, ssl.SSLError):
        return e.reason or "TLS error"
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    text: object = e.args[0] if e.args else type(e).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().rstrip(".") or type(e).__name__


def is_offline(e: BaseException) -> bool:
    """True when e means the network (or the server) is unreachable: "offline", as opposed to a certificate, port,
    TLS, password or disk problem that the user has to fix."""
    import errno
    import socket
    import ssl

    if not isinstance(e, ConnectError):
        return False
    if e.reachable is not None:
        return not e.reachable
    cause = e.__cause__ or e.__context__
    if cause is None:
        return True  # no low-level cause recorded: a lost or impossible connection
    if isinstance(cause, ssl.SSLError | ConnectionRefusedError):
        return False  # the host answered: TLS where there is none, a wrong port, an untrusted certificate
    if isinstance(cause, socket.gaierror | TimeoutError | socket.timeout | EOFError | ConnectionError):
        return True
    if isinstance(cause, OSError):
        return cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, None)
    return True


def server_text(reply: object, limit: int = 200) -> str:
    """A server's reply (untrusted text) as one short printable line, without a leading +OK/-ERR."""
    if isinstance(reply, Exception) and reply.args:
        reply = reply.args[0]
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if text.startswith(("-ERR", "+OK")):
        text = text[4:].strip()
    return text[:limit] or "no reason given"


def tls_error(where: str, e: BaseException) -> ConnectError:
    """The one sentence for a failed TLS handshake: an unverifiable certificate, or any other TLS failure."""
    import ssl

    if isinstance(e, ssl.SSLCertVerificationError):
        return ConnectError(
            f"The certificate of {where} could not be verified ({describe(e)}); "
            "if the server uses a private CA, set ca_file.",
            reachable=True,
        )
    return ConnectError(f"A secure connection to {where} could not be set up ({describe(e)}).", reachable=True)
