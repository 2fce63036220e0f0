"""Outgoing mail: building a message safe to send (no header injection, no Bcc in the bytes), reply and forward."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import errors
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from .addresses import compose_addr, display_addr, split_addresses
from .headers import normalize_msgid, normalize_references, parse_date
from .render import format_local_date, parse_message
from .sanitize import safe_filename, sanitize_line


@dataclass(slots=True)
class Draft:
    """A message being composed (what reply/forward prefill and the composer edits)."""

    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    in_reply_to: str = ""
    references: str = ""
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)  # (filename, content_type, data)


_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def _refuse_line_breaks(value: str, field_name: str) -> None:
    """A header value typed by the user (or taken from a message) must stay on its line: no header injection."""
    if _LINE_BREAKS.search(value):
        raise ValueError(f"The {field_name} field contains a line break, which a mail header cannot hold.")


def _addr_domain(addr: str) -> str:
    pairs = split_addresses(addr)
    domain = pairs[0][1].rpartition("@")[2].strip().strip("[]") if pairs else ""
    return domain if re.fullmatch(r"[A-Za-z0-9.-]{1,253}", domain or "") else ""


def _addresses(entry: str, field_name: str) -> list[Address]:
    """One recipient entry ("Name <a@b>", "a@b, c@d") -> Address objects; IDN domains punycoded.

    Raises ValueError (one sentence) for a line break, something that is not an address, or an address that
    needs SMTPUTF8 (non-ASCII local part).
    """
    _refuse_line_breaks(entry, field_name)
    entry = sanitize_line(entry)
    if not entry:
        return []
    out: list[Address] = []
    for name, addr in split_addresses(entry):
        local, at, domain = addr.rpartition("@")
        if not at or not local or not domain or " " in addr or "<" in addr or ">" in addr:
            raise ValueError(f"{entry!r} in {field_name} is not an email address.")
        if not local.isascii():
            raise ValueError(f"{addr!r} in {field_name} has non-ASCII characters before the @, which cannot be sent.")
        try:
            domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
            out.append(Address(display_name=name, username=local, domain=domain))
        except (UnicodeError, ValueError, IndexError, errors.HeaderDefect) as e:
            raise ValueError(f"{addr!r} in {field_name} is not a valid email address.") from e
    return out


_SAFE_MSGID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII, no spaces, no < or > inside


def _safe_ids(value: str, many: bool) -> str:
    """Message-ID tokens fit for In-Reply-To/References: a hostile value cannot smuggle text or lines in."""
    tokens = normalize_references(value).split() if many else [normalize_msgid(value)]
    return " ".join(t for t in tokens if _SAFE_MSGID.fullmatch(t))


def build_message(
    *,
    from_addr: str,
    from_name: str = "",
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    in_reply_to: str = "",
    references: str = "",
    domain: str | None = None,
) -> EmailMessage:
    """An SMTP-ready message (UTF-8 where needed).

    Bcc is never written into the message: not into the bytes sent, and not into the copy saved to Sent (which is
    the same bytes); pass the Bcc addresses to recipients() for the SMTP envelope. Raises ValueError (one sentence
    fit for the user) when an address is not one or a header field holds a line break (header injection).
    """
    _refuse_line_breaks(subject, "Subject")
    _refuse_line_breaks(from_name, "From name")
    for entry in bcc:
        _addresses(entry, "Bcc")  # checked like the others, written nowhere
    msg = EmailMessage(policy=SMTP)
    sender = _addresses(from_addr, "From")
    if len(sender) != 1:
        raise ValueError("The sender address must be exactly one email address.")
    msg["From"] = Address(sanitize_line(from_name) or sender[0].display_name, sender[0].username, sender[0].domain)
    to_list = [a for x in to for a in _addresses(x, "To")]
    cc_list = [a for x in cc for a in _addresses(x, "Cc")]
    if to_list:
        msg["To"] = to_list
    if cc_list:
        msg["Cc"] = cc_list
    msg["Subject"] = sanitize_line(subject)
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=domain or _addr_domain(from_addr) or "tui-mail.invalid")
    reply_id = _safe_ids(in_reply_to, many=False)
    if reply_id:
        msg["In-Reply-To"] = reply_id
    refs = _safe_ids(references, many=True)
    if refs:
        msg["References"] = refs
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    msg.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "quoted-printable")
    for filename, content_type, data in attachments:
        name = safe_filename(filename)
        ctype = (content_type or "").strip().lower()
        if "/" not in ctype or _LINE_BREAKS.search(ctype):
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        if maintype in ("message", "multipart"):  # attach as opaque bytes; generator rules for message/* differ
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(bytes(data), maintype=maintype, subtype=subtype, filename=name)
    return msg


def recipients(msg: EmailMessage | Message, bcc: Sequence[str] = ()) -> list[str]:
    """All envelope recipients (To, Cc and the given Bcc) as bare addresses, without duplicates."""
    found: list[str] = []
    for key in ("To", "Cc"):
        for value in msg.get_all(key) or []:
            parsed = getattr(value, "addresses", None)
            if parsed is not None:
                found.extend(a.addr_spec for a in parsed)
            else:
                found.extend(addr for _n, addr in split_addresses(str(value)))
    for entry in bcc:
        found.extend(addr for _n, addr in split_addresses(entry))
    out: list[str] = []
    seen: set[str] = set()
    for addr in found:
        addr = addr.strip()
        if addr and "@" in addr and addr.lower() not in seen:
            seen.add(addr.lower())
            out.append(addr)
    return out


_RE_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw)(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE)
_FWD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|wg|tr)\s*:\s*)+", re.IGNORECASE)


def _quote(text: str) -> str:
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    return "".join((">" + ln if ln.startswith(">") else "> " + ln if ln else ">") + "\n" for ln in lines)


def reply_draft(raw: bytes, self_addrs: Sequence[str], reply_all: bool = False) -> Draft:
    """A reply to `raw`: recipients, "Re:" subject, threading headers and the quoted original."""
    pm = parse_message(raw)
    mine = {a.strip().lower() for a in self_addrs if a.strip()}
    sender = pm.addresses("from")
    targets = pm.addresses("reply-to") or sender
    orig_to = pm.addresses("to")
    orig_cc = pm.addresses("cc")
    if targets and orig_to and all(a.lower() in mine for _n, a in targets):
        targets = orig_to  # replying to one's own sent message goes to its recipients again
    seen: set[str] = set()
    to_list: list[str] = []
    for name, addr in targets:
        if addr and addr.lower() not in seen:
            seen.add(addr.lower())
            to_list.append(compose_addr(name, addr))
    cc_list: list[str] = []
    if reply_all:
        for name, addr in orig_to + orig_cc:
            key = addr.lower()
            if addr and key not in seen and key not in mine:
                seen.add(key)
                cc_list.append(compose_addr(name, addr))
    subject = "Re: " + _RE_PREFIX.sub("", pm.subject())
    message_id = _safe_ids(pm.fields.get("message-id", ""), many=False)
    refs = _safe_ids(pm.fields.get("references", ""), many=True) or _safe_ids(
        pm.fields.get("in-reply-to", ""), many=False
    )
    if message_id:
        refs = normalize_references(f"{refs} {message_id}")
    when = format_local_date(parse_date(pm.fields.get("date", ""))) or "an unknown date"
    who = display_addr(*sender[0]) if sender else "someone"
    return Draft(
        to=to_list,
        cc=cc_list,
        subject=subject.rstrip(),
        body=f"On {when}, {who} wrote:\n" + _quote(pm.rendered().text),
        in_reply_to=message_id,
        references=refs,
    )


def forward_draft(raw: bytes) -> Draft:
    """A forward of `raw`: "Fwd:" subject, a header block, the original text and the original attachments."""
    pm = parse_message(raw)
    rendered = pm.rendered()
    h = rendered.headers
    subject = "Fwd: " + _FWD_PREFIX.sub("", h.get("Subject", ""))
    block = ["---------- Forwarded message ----------"]
    block.extend(f"{key}: {h[key]}" for key in ("From", "Date", "Subject", "To", "Cc") if h.get(key))
    attachments: list[tuple[str, str, bytes]] = []
    try:
        for listed in rendered.attachments:
            attachments.append((listed.filename, listed.content_type, pm.attachment_bytes(listed.index)))
    except Exception:
        attachments = []
    return Draft(
        subject=subject.rstrip(),
        body="\n".join(block) + "\n\n" + rendered.text.rstrip("\n") + "\n",
        attachments=attachments,
    )
