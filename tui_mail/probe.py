"""Tries an account's servers (connect, log in, log out) before it is saved, and says in one sentence how it went."""

from __future__ import annotations

import smtplib
import tempfile
from pathlib import Path

from .config import AccountConfig
from .errors import AuthError, ConnectError, MailError, describe


def check_incoming(account: AccountConfig, password: str) -> None:
    """Log in to the IMAP or POP3 server and out again; raises the MailError a sync would."""
    from .store.cache import Cache

    with tempfile.TemporaryDirectory(prefix="tui-mail-probe-") as scratch:
        cache = Cache(Path(scratch) / "probe.sqlite3")  # never touches the real caches
        try:
            if account.protocol == "imap":
                from .backends.imap import ImapBackend

                imap = ImapBackend(account, password, cache)
                try:
                    imap.connect()
                finally:
                    imap.close()
            else:
                from .backends.pop3 import Pop3Backend

                conn = Pop3Backend(account, password, cache)._connect()  # logged in; QUIT with nothing marked
                try:
                    conn.quit()
                except Exception:  # the login worked; a failing QUIT changes nothing
                    conn.close()
        finally:
            cache.close()


def check_smtp(account: AccountConfig, password: str | None) -> None:
    """Connect to the SMTP server (TLS as configured) and log in when it needs one; raises a one-sentence error."""
    from .smtp import _open

    server = account.smtp
    if server is None:
        return
    conn = _open(server)
    try:
        if server.auth:
            if not conn.has_extn("auth"):
                raise AuthError(f"{server.host} does not offer a login (AUTH); tick 'needs no login' if it needs none.")
            try:
                conn.login(server.username or account.email, password or "")
            except smtplib.SMTPAuthenticationError:
                raise AuthError(f"{server.host} rejected the username or password for sending mail.") from None
    except (smtplib.SMTPException, OSError) as e:
        raise ConnectError(f"The connection to {server.host}:{server.port} failed: {describe(e)}.") from None
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def check_account(account: AccountConfig, password: str, smtp_password: str | None = None) -> str:
    """Both servers; the sentence to show: what works, or the first thing that does not (never a traceback)."""
    try:
        check_incoming(account, password)
        check_smtp(account, password if smtp_password is None else smtp_password)
    except MailError as e:
        return str(e)
    sending = " and sending" if account.smtp is not None else ""
    return f"Connection OK: logged in to {account.incoming.host}{sending} works."
