"""A stored message (a draft, or an outbox item taken back) turned into an editable Draft with its Message-ID."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses

from .mime import Draft, attachment_bytes, render_message, sanitize_line


@dataclass(frozen=True, slots=True)
class Reopened:
    """What the composer needs to go on editing a stored message."""

    draft: Draft
    message_id: str  # kept, so that sending it twice can never queue it twice


def _addresses(msg: EmailMessage, header: str) -> list[str]:
    out = []
    for name, addr in getaddresses([str(v) for v in msg.get_all(header) or []]):
        if addr:
            name = sanitize_line(name)
            out.append(f"{name} <{addr}>" if name else addr)
    return out


def reopen(raw: bytes) -> Reopened:
    """Headers, plain-text body and attachments of raw as a Draft (the body as the reader would show it)."""
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    body = ""
    part = msg.get_body(preferencelist=("plain",))
    if part is not None:
        try:
            body = str(part.get_content())
        except (LookupError, ValueError):
            body = ""
    shown = render_message(raw)
    if not body:
        body = shown.text
    attachments = [(a.filename, a.content_type, attachment_bytes(raw, a.index)) for a in shown.attachments]
    draft = Draft(
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        bcc=_addresses(msg, "Bcc"),
        subject=sanitize_line(str(msg.get("Subject", "") or "")),
        body=body,
        in_reply_to=sanitize_line(str(msg.get("In-Reply-To", "") or "")),
        references=sanitize_line(str(msg.get("References", "") or "")),
        attachments=attachments,
    )
    return Reopened(draft, sanitize_line(str(msg.get("Message-ID", "") or "")).strip())
