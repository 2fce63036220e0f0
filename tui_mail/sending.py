"""Sending and drafts for AccountManager: the outbox that never sends twice and drafts that replace themselves.

An outbox item goes queued -> claimed (taken by one sender) -> sending (SMTP DATA begun: it may have gone out)
-> sent (the server accepted it; the Sent copy is being stored) -> gone. All of it runs under the account's
inter-process lock, so an item found in claimed/sending/sent that no thread of this process is working on was
left by a crash: claimed goes back to the queue, sent is finished, and sending is looked up in the server's Sent
folder by Message-ID (IMAP: found means it went out); when that cannot tell (not in Sent, or a POP3 account) it
is held for the user to send again or cancel, since sending it again might deliver it twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, TypeVar

# The email package is imported where a message is built or read (not at start-up: the UI's first screen needs none).
if TYPE_CHECKING:
    from email.message import EmailMessage

from .errors import AuthError, ConfigError, ConnectError, MailError, ProtocolError, SendError
from .faults import fault_point
from .models import ANSWERED, DRAFT, SEEN, OutboxItem, Role
from .store.cache import Cache, NewMessage
from .store.local_copies import add_note

if TYPE_CHECKING:
    from .accounts import _Account
    from .backends.base import Backend
    from .config import AccountConfig, ServerConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

# Outbox item states (outbox.state).
QUEUED, CLAIMED, SENDING, SENT, HELD = "queued", "claimed", "sending", "sent", "held"


class KeptAsDraft(SendError):
    """The server refused the message for good; it was moved from the outbox to Drafts (draft_id is its row)."""

    def __init__(self, message: str, draft_id: int) -> None:
        super().__init__(message)
        self.draft_id = draft_id


def parse_send_at(text: str, now: float | None = None) -> int:
    """When to send, as the user typed it: "+30m", "+2h", "+1d", "HH:MM" (the next such time) or
    "YYYY-MM-DD HH:MM" (local time). Returns unix time; ValueError with one sentence when it is not one."""
    import datetime as dt
    import re

    now = time.time() if now is None else now
    value = text.strip().lower()
    rel = re.fullmatch(r"\+\s*(\d+)\s*([mhd])", value)
    if rel:
        return int(now) + int(rel.group(1)) * {"m": 60, "h": 3600, "d": 86400}[rel.group(2)]
    base = dt.datetime.fromtimestamp(now)
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}", value):
            hour, minute = (int(x) for x in value.split(":"))
            when = base.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if when.timestamp() <= now:
                when += dt.timedelta(days=1)
            return int(when.timestamp())
        when = dt.datetime.strptime(value, "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a time: write +30m, +2h, 18:30 or 2026-12-24 09:00.") from None
    if when.timestamp() <= now:
        raise ValueError(f"{text.strip()} is in the past.")
    return int(when.timestamp())


def message_subject(raw: bytes) -> str:
    """The Subject of a raw message as one plain line ("(no subject)" when empty)."""
    from email import message_from_bytes
    from email.policy import default

    from .mime import sanitize_line

    msg = message_from_bytes(raw, policy=default)
    return sanitize_line(str(msg.get("Subject", "") or "")) or "(no subject)"


def _in_sent(backend: Backend, message_id: str) -> bool:
    lookup = getattr(backend, "has_message_id", None)
    return bool(lookup(Role.SENT, message_id)) if lookup is not None else False


class Sending:
    """Mixed into AccountManager: send, the outbox, drafts. Every method may block on the network."""

    if TYPE_CHECKING:  # provided by AccountManager
        offline: bool
        lock_timeout: float
        _password_source: Callable[[AccountConfig, ServerConfig], str]

        def _get(self, name: str) -> _Account: ...
        def _with_io_backend(self, acc: _Account, fn: Callable[[Backend], T]) -> T: ...

    # -- sending ---------------------------------------------------------------------------------------------------

    def send(
        self,
        name: str,
        msg: EmailMessage,
        bcc: Sequence[str] = (),
        *,
        replaces: Sequence[int] = (),
        answered: int | None = None,
        send_after: int = 0,
    ) -> str:
        """Send a message: into the outbox first (committed), then SMTP, then a copy to Sent.

        Returns "sent", or "queued" when it waits in the outbox (offline, server unreachable, another tui-mail is
        busy with the account, or send_after is in the future): it goes out at the next sync. A Message-ID that is
        queued already is never queued twice. replaces: draft rows this message supersedes (removed with the
        queueing); answered: the row being replied to (gets \\Answered). A permanent refusal moves the message
        to Drafts and raises KeptAsDraft; nothing is lost.
        """
        from email.policy import SMTP
        from email.utils import getaddresses

        acc = self._get(name)
        bcc = [*bcc, *(a for _, a in getaddresses(msg.get_all("Bcc", [])) if a)]
        if "Bcc" in msg:
            del msg["Bcc"]
        recipients = [a for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", [])) if a]
        recipients = list(dict.fromkeys([*recipients, *bcc]))
        if not recipients:
            raise SendError("The message has no recipients.")
        raw = msg.as_bytes(policy=SMTP)
        message_id = str(msg.get("Message-ID", "") or "").strip()
        cache = acc.cache
        with cache.transaction():
            item_id = cache.add_outbox(raw, recipients, message_id, send_after)
            old = [r for r in replaces if cache.message(r) is not None]
            if old:
                cache.delete(old)
            if answered is not None and cache.message(answered) is not None:
                cache.set_flags([answered], add=[ANSWERED])
        if self.offline or send_after > time.time():
            return "queued"
        from .store.lock import AccountBusy

        try:
            with acc.lock.hold(self.lock_timeout):
                item = cache.outbox_item(item_id)
                if item is None:
                    return "sent"  # another sender finished it meanwhile
                if item.state != QUEUED:
                    return "queued"
                return "sent" if self._send_item(acc, item) else "queued"
        except AccountBusy as e:
            log.info("queued: %s", e)
            return "queued"

    def flush_outbox(self, name: str) -> int:
        """Send everything due in the outbox (after settling what a crash left behind); returns how many went out.

        Raises SendError naming the first problem after trying what could be tried.
        """
        acc = self._get(name)
        sent = 0
        problems: list[str] = []
        if self.offline:
            return 0
        with acc.lock.hold(self.lock_timeout):
            problems.extend(self._recover_interrupted(acc))
            now = time.time()
            for item in acc.cache.outbox():
                if item.state != QUEUED or item.send_after > now:
                    continue
                try:
                    if self._send_item(acc, item):
                        sent += 1
                    else:
                        left = sum(1 for i in acc.cache.outbox() if i.state == QUEUED)
                        reason = acc.cache.outbox_item(item.id)
                        why = reason.last_error if reason is not None else ""
                        problems.append(f"{why} {left} message{'s' if left != 1 else ''} wait in the outbox.".strip())
                        break  # the SMTP server is unreachable: the others would fail the same way
                except SendError as e:  # includes KeptAsDraft and a partial delivery (which counts as sent)
                    from .smtp import PartialSendError

                    sent += isinstance(e, PartialSendError)
                    problems.append(str(e))
        if problems:
            raise SendError(" ".join(problems))
        return sent

    def _send_item(self, acc: _Account, item: OutboxItem) -> bool:
        """Send one queued item (the caller holds the account lock). True when it went out; False when it stays
        queued for later (server unreachable, or another thread took it). Raises KeptAsDraft on a refusal."""
        from .smtp import PartialSendError, send_message

        cfg = acc.config
        if cfg.smtp is None:
            raise ConfigError(f"Account {cfg.name} has no [accounts.smtp] section, so it cannot send.")
        cache = acc.cache
        with acc.sending_guard:
            if item.id in acc.sending or not cache.claim_outbox(item.id):
                return False
            acc.sending.add(item.id)
        fault_point("outbox.read")
        data_started = False

        def before_data() -> None:
            nonlocal data_started
            cache.set_outbox_state(item.id, SENDING)
            data_started = True

        from email import message_from_bytes
        from email.message import EmailMessage
        from email.policy import default

        msg = message_from_bytes(item.raw, policy=default)
        assert isinstance(msg, EmailMessage)
        partial: PartialSendError | None = None
        settled = False
        try:
            try:
                password = self._password_source(cfg, cfg.smtp) if cfg.smtp.auth else None
                send_message(
                    cfg.smtp, password, msg, list(item.recipients), from_addr=cfg.email, before_data=before_data
                )
                fault_point("smtp.after_data")
            except PartialSendError as e:
                partial = e  # delivered to the others: it counts as sent (a resend would duplicate it for them)
            except (ConnectError, ProtocolError) as e:
                # Not sent, or (DATA begun, no answer) perhaps sent: the latter stays `sending` and is looked up
                # in Sent before it could go again.
                cache.fail_outbox(item.id, str(e), SENDING if data_started else QUEUED)
                settled = True
                return False
            except (SendError, AuthError) as e:
                # Permanent: keep the message as a draft so the user can fix it; it must not be retried blindly.
                with cache.transaction():
                    draft_id = self._store_local(cache, Role.DRAFTS, item.raw, {SEEN, DRAFT})
                    cache.remove_outbox(item.id)
                settled = True
                raise KeptAsDraft(f"{e} The message was kept in Drafts.", draft_id) from None
            cache.set_outbox_state(item.id, SENT)
            fault_point("outbox.after_update")
            settled = True
            self._finish_sent(acc, item)
        finally:
            if not settled and not data_started:
                cache.set_outbox_state(item.id, QUEUED)  # an unexpected error before DATA: try again later
            with acc.sending_guard:
                acc.sending.discard(item.id)
        if partial is not None:
            raise partial
        return True

    def _finish_sent(self, acc: _Account, item: OutboxItem) -> None:
        """The server accepted the item: store the Sent copy (server, else local), then drop it from the outbox."""
        try:
            self._with_io_backend(acc, lambda b: b.save_sent(item.raw))
        except MailError as e:
            log.warning("sent, but the copy to Sent failed: %s", e)
            self._store_local(acc.cache, Role.SENT, item.raw, {SEEN})
        acc.cache.remove_outbox(item.id)

    def _recover_interrupted(self, acc: _Account) -> list[str]:
        """Settle items a crashed (or killed) sender left behind; returns sentences for the user."""
        told: list[str] = []
        with acc.sending_guard:
            busy = set(acc.sending)
        for item in acc.cache.outbox():
            if item.id in busy or item.state in (QUEUED, HELD):
                continue
            subject = message_subject(item.raw)
            if item.state == CLAIMED:  # never reached DATA
                acc.cache.set_outbox_state(item.id, QUEUED)
            elif item.state == SENT:
                # Killed after DATA was accepted: the APPEND to Sent may have happened before the kill. Look first,
                # so the copy is never stored twice (the next sync brings the server's copy into the cache).
                if acc.config.protocol == "imap":
                    try:
                        found = self._with_io_backend(acc, partial(_in_sent, message_id=item.message_id))
                    except MailError as e:
                        log.info("cannot check Sent for a sent message yet: %s", e)
                        continue
                    if found:
                        acc.cache.remove_outbox(item.id)
                        continue
                self._finish_sent(acc, item)
            else:
                if acc.config.protocol == "imap":
                    try:
                        found = self._with_io_backend(acc, partial(_in_sent, message_id=item.message_id))
                    except MailError as e:
                        log.info("cannot check Sent for an interrupted send yet: %s", e)
                        continue
                    if found:
                        log.info("interrupted send of %s had gone out (found in Sent)", item.message_id)
                        acc.cache.remove_outbox(item.id)
                        continue
                    where = "and it is not in Sent, so it may have gone out or not"
                else:
                    where = "and may have gone out already"
                # Unknowable without the user: sending it again could deliver it twice, so it waits for them.
                text = (
                    f"Sending “{subject}” was interrupted while the server was taking it {where}: "
                    "open the outbox to send it again (s) or cancel it (x)."
                )
                with acc.cache.transaction():
                    acc.cache.set_outbox_state(item.id, HELD, text)
                    add_note(acc.cache, "held", text)
                told.append(text)
        return told

    # -- the outbox as the user sees it ----------------------------------------------------------------------------

    def outbox_to_drafts(self, name: str, item_id: int) -> int | None:
        """Take an item out of the outbox (to edit or cancel it) into Drafts; returns the draft's row id, or None
        when it cannot be taken (it is being sent right now, or already gone)."""
        cache = self._get(name).cache
        with cache.transaction():
            item = cache.take_outbox(item_id)
            if item is None:
                return None
            return self._store_local(cache, Role.DRAFTS, item.raw, {SEEN, DRAFT})

    def release_held(self, name: str, item_id: int) -> bool:
        """The user decided a held item (a send that was interrupted) should go out again: back to the queue."""
        cache = self._get(name).cache
        item = cache.outbox_item(item_id)
        if item is None or item.state != HELD:
            return False
        cache.fail_outbox(item_id, "", QUEUED)
        return True

    # -- drafts ----------------------------------------------------------------------------------------------------

    def save_draft(self, name: str, msg: EmailMessage, replaces: Sequence[int] = ()) -> str:
        """Keep a draft (see store_draft); returns where: "server" or "local"."""
        return self.store_draft(name, msg, replaces)[0]

    def store_draft(self, name: str, msg: EmailMessage, replaces: Sequence[int] = ()) -> tuple[str, int | None]:
        """Keep a draft, replacing the rows in replaces: on the server's Drafts folder when reachable (cached at
        once), else in the local cache (uploaded at the next sync). Returns (where, the new draft's row id)."""
        from email.policy import SMTP

        acc = self._get(name)
        raw = msg.as_bytes(policy=SMTP)
        where, new_id = "local", None
        if not self.offline and acc.config.protocol == "imap":
            try:
                new_id = self._with_io_backend(acc, lambda b: b.save_draft(raw))
                where = "server"
            except (MailError, OSError) as e:
                log.info("draft kept locally: %s", e)
        if where == "local":
            new_id = self._store_local(acc.cache, Role.DRAFTS, raw, {SEEN, DRAFT})
        old = [r for r in replaces if r != new_id and acc.cache.message(r) is not None]
        if old:
            acc.cache.delete(old)  # a copy on the server goes at the next sync (queued like any delete)
        return where, new_id

    @staticmethod
    def _store_local(cache: Cache, role: Role, raw: bytes, flags: set[str]) -> int:
        from .mime import parse_envelope

        folder = cache.folder_by_role(role)
        folder_id = folder.id if folder else cache.ensure_folder(role.value.capitalize(), "/", role, local_only=True)
        return cache.store_messages(folder_id, [NewMessage(parse_envelope(raw), flags=frozenset(flags), raw=raw)])[0]
