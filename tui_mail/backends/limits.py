"""Caps on what a mail server can make tui-mail hold in memory: IMAP literals and responses, POP3 listings.

A broken or hostile server can announce a literal of many gigabytes or stream an endless LIST, SEARCH, UIDL
or POP3 LIST answer; imaplib and poplib would keep reading. These limits stop such a connection with a clear
sentence long before memory runs out, and are far above what real mailboxes need.
"""

from __future__ import annotations

import imaplib
from typing import Any

MiB = 1 << 20
MAX_IMAP_LINE = 64 * MiB  # one IMAP line: a SEARCH answer for a big folder is one line (imaplib allows 1 MB)
MAX_LITERAL = 512 * MiB  # one IMAP literal (a message body in a FETCH, a folder name, ...)
MAX_IMAP_RESPONSE = 1024 * MiB  # everything the server sends in answer to one IMAP command
MAX_POP3_LINES = 2_000_000  # lines of one POP3 multi-line answer (UIDL, LIST, RETR, TOP)
MAX_POP3_BYTES = 512 * MiB  # bytes of one POP3 multi-line answer


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n} bytes"


class ResponseTooLarge(imaplib.IMAP4.abort):
    """The server sent more than tui-mail holds in memory for one answer; the connection is given up."""


def limit_imap(imap: imaplib.IMAP4) -> None:
    """Cap literal sizes and the bytes of each answer on an imaplib connection (imapclient's ``_imap``).

    The counter restarts whenever a command is sent, so a long IDLE that is renewed, or a sync of many folders,
    is not cut short; only a single answer that outgrows MAX_IMAP_RESPONSE is.
    """
    # imaplib's own line limit (1 MB) breaks a UID SEARCH over a folder of ~150,000 messages; the caps here
    # bound memory instead.
    imaplib._MAXLINE = max(imaplib._MAXLINE, MAX_IMAP_LINE)  # type: ignore[attr-defined]
    read, readline, send = imap.read, imap.readline, imap.send
    received = [0]

    def count(n: int) -> None:
        received[0] += n
        if received[0] > MAX_IMAP_RESPONSE:
            raise ResponseTooLarge(
                f"the server sent more than {_size(MAX_IMAP_RESPONSE)} in one answer, more than tui-mail accepts"
            )

    def capped_read(size: int) -> Any:
        if size > MAX_LITERAL:
            raise ResponseTooLarge(
                f"the server announced {size} bytes of data at once, more than the {_size(MAX_LITERAL)} tui-mail "
                "accepts"
            )
        count(size)
        return read(size)

    def capped_readline() -> Any:
        line = readline()
        count(len(line))
        return line

    def counting_send(data: bytes) -> Any:
        received[0] = 0
        return send(data)

    imap.read = capped_read  # type: ignore[method-assign]
    imap.readline = capped_readline  # type: ignore[method-assign]
    imap.send = counting_send  # type: ignore[method-assign, assignment]


def check_pop3_listing(where: str, lines: int, octets: int) -> None:
    """Raise ProtocolError when a POP3 multi-line answer outgrows the caps (called while it is read)."""
    if lines > MAX_POP3_LINES or octets > MAX_POP3_BYTES:
        from ..errors import ProtocolError

        raise ProtocolError(
            f"{where} sent an answer of more than {MAX_POP3_LINES} lines or {_size(MAX_POP3_BYTES)}, more than "
            "tui-mail accepts; the session was ended."
        )
