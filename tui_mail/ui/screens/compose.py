"""The compose screen: address fields with completion from the cache, a body editor, attachments, send and drafts."""

from __future__ import annotations

import logging
import mimetypes
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static, TextArea

from ...errors import MailError
from ...mime import Draft, build_message, compose_addr
from ...sending import KeptAsDraft, parse_send_at
from ..messages import UndoOffered
from ..widgets.key_footer import KeyFooter
from ..widgets.safe_text import clean, clean_line
from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from ...accounts import AccountManager

log = logging.getLogger(__name__)

ADDRESS_FIELDS = ("to", "cc", "bcc")


class AddressSuggester(Suggester):
    """Completes the address being typed (after the last comma) from addresses seen in the account's cache."""

    def __init__(self, manager: AccountManager, account: str) -> None:
        super().__init__(use_cache=True, case_sensitive=True)
        self.manager = manager
        self.account = account

    async def get_suggestion(self, value: str) -> str | None:
        current = value.rpartition(",")[2]
        prefix = current.lstrip()
        if len(prefix) < 1:
            return None
        lead = value[: len(value) - len(prefix)]
        try:
            candidates = self.manager.cache(self.account).addresses(prefix, limit=10)
        except Exception:  # completion must never break typing
            log.exception("address completion failed")
            return None
        folded = prefix.casefold()
        for candidate in candidates:
            candidate = clean_line(candidate)
            if candidate.casefold().startswith(folded):
                return lead + candidate
            addr = candidate.rpartition("<")[2].rstrip(">") if "<" in candidate else candidate
            if addr.casefold().startswith(folded):
                return lead + addr
        return None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to send: read from a path when sending, or carried over from a forwarded message."""

    filename: str
    content_type: str
    data: bytes | None = None
    path: Path | None = None

    def content(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        try:
            return self.path.stat().st_size if self.path else 0
        except OSError:
            return 0


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _draft_value(draft: Draft | None, name: str) -> str:
    value = getattr(draft, name, "") if draft is not None else ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value or "")


def _draft_attachments(draft: Draft | None) -> list[Attachment]:
    if draft is None:
        return []
    return [
        Attachment(clean_line(filename) or "attachment", content_type or "application/octet-stream", bytes(data))
        for filename, content_type, data in draft.attachments
    ]


class ComposeScreen(Screen[str | None]):
    """Write a message. Dismisses with "sent"/"queued" after sending, or None when closed without sending."""

    DEFAULT_CSS = """
    ComposeScreen {
        layout: vertical;
    }
    ComposeScreen #compose-title {
        height: 1;
        background: $primary;
        color: $text;
        padding: 0 1;
        text-style: bold;
    }
    ComposeScreen #compose-fields {
        grid-size: 2;
        grid-columns: 10 1fr;
        grid-rows: 1;
        grid-gutter: 1 0;
        height: auto;
        padding: 1 1;
    }
    ComposeScreen #compose-fields Label {
        height: 1;
        width: 100%;
        text-align: right;
        padding-right: 1;
        color: $text-muted;
    }
    ComposeScreen #compose-fields Input {
        background: $boost;
    }
    ComposeScreen #compose-fields Input:focus {
        background: $primary 25%;
    }
    ComposeScreen #compose-attachments {
        height: auto;
        max-height: 6;
        padding: 0 1 0 12;
        color: $text-muted;
    }
    ComposeScreen #compose-attach-path {
        display: none;
        margin: 0 1 0 11;
    }
    ComposeScreen #compose-attach-path.-visible {
        display: block;
    }
    ComposeScreen #compose-send-at {
        display: none;
        margin: 0 1 0 11;
    }
    ComposeScreen #compose-send-at.-visible {
        display: block;
    }
    ComposeScreen #compose-body {
        height: 1fr;
        margin: 1 1 0 1;
    }
    /* Short terminals (down to 15 lines): no gaps between the fields, so the body keeps at least 5 lines. */
    ComposeScreen.-short #compose-fields { grid-gutter: 0 0; padding: 0 1; }
    ComposeScreen.-short #compose-body { margin: 0 1; min-height: 7; }
    ComposeScreen #compose-status {
        height: auto;
        padding: 0 1;
        color: $error;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True, id="compose.send"),
        Binding("ctrl+d", "save_draft", "Save draft", priority=True, id="compose.save-draft"),
        Binding("ctrl+e", "edit_body", "Edit in $EDITOR", priority=True, id="compose.editor"),
        Binding("ctrl+a", "attach", "Attach", priority=True, id="compose.attach"),
        Binding("ctrl+t", "send_later", "Send later", priority=True, show=False, id="compose.send-later"),
        Binding("escape", "cancel", "Close", id="compose.cancel"),
    ]

    def __init__(
        self,
        manager: AccountManager,
        account: str,
        draft: Draft | None = None,
        *,
        draft_id: int | None = None,
        answers: int | None = None,
        message_id: str = "",
    ) -> None:
        super().__init__()
        self.manager = manager
        self.draft_id = draft_id  # the stored draft this edits: saving or sending replaces it (never a second one)
        self.answers = answers  # the message replied to: it gets \Answered when this is sent
        self.message_id = message_id  # fixed at the first build, so the same message is never queued twice
        self.queued = False
        self.send_after = 0  # unix time the queued message waits for (undo-send, send-later); 0 = at once
        self.account = account
        self.account_config = manager.config.account(account)
        self.draft = draft
        self.attachments: list[Attachment] = _draft_attachments(draft)
        self.in_reply_to = _draft_value(draft, "in_reply_to")
        self.references = _draft_value(draft, "references")
        self.busy = False
        self._initial: tuple[object, ...] = ()

    # -- layout --------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        acc = self.account_config
        sender = f"{acc.display_name} <{acc.email}>" if acc.display_name else acc.email
        yield Static(Text(f"Compose — from {sender} (account {acc.name})"), id="compose-title")
        suggester = AddressSuggester(self.manager, self.account)
        with Grid(id="compose-fields"):
            for field, label in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"), ("subject", "Subject")):
                yield Label(label, id=f"compose-{field}-label")
                yield Input(
                    value=clean_line(_draft_value(self.draft, field)),
                    placeholder="name@example.org, …" if field in ADDRESS_FIELDS else "",
                    suggester=suggester if field in ADDRESS_FIELDS else None,
                    id=f"compose-{field}",
                    compact=True,
                )
        yield Static(id="compose-attachments")
        yield Input(
            placeholder="Path of the file to attach (Enter adds it, Escape cancels)",
            id="compose-attach-path",
            compact=True,
        )
        yield Input(
            placeholder="Send when? +30m, +2h, 18:30 or 2026-12-24 09:00 (Enter queues it, Escape cancels)",
            id="compose-send-at",
            compact=True,
        )
        yield TextArea(
            clean(_draft_value(self.draft, "body")), id="compose-body", soft_wrap=True, show_line_numbers=False
        )
        yield Static(id="compose-status")
        yield KeyFooter()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < 30, "-short")

    def on_mount(self) -> None:
        self.set_class(self.app.size.height < 30, "-short")
        self._show_attachments()
        self._initial = self._state()
        if self.query_one("#compose-to", Input).value:
            self.body.focus()
            self.body.move_cursor((0, 0))
        else:
            self.query_one("#compose-to", Input).focus()

    # -- helpers ---------------------------------------------------------------------------------------------------

    @property
    def body(self) -> TextArea:
        return self.query_one("#compose-body", TextArea)

    def field(self, name: str) -> str:
        """The current text of a header field (to, cc, bcc, subject)."""
        return self.query_one(f"#compose-{name}", Input).value.strip()

    def _state(self) -> tuple[object, ...]:
        return (
            *(self.field(name) for name in (*ADDRESS_FIELDS, "subject")),
            self.body.text,
            tuple(a.filename for a in self.attachments),
        )

    @property
    def dirty(self) -> bool:
        """Whether anything changed since the screen opened (or since the draft was last saved)."""
        return self._state() != self._initial

    def _status(self, message: str) -> None:
        self.query_one("#compose-status", Static).update(Text(message))

    def _show_attachments(self) -> None:
        widget = self.query_one("#compose-attachments", Static)
        if not self.attachments:
            widget.update("")
            widget.display = False
            return
        widget.display = True
        text = Text()
        for n, att in enumerate(self.attachments):
            if n:
                text.append("\n")
            text.append("📎 ")
            text.append(att.filename)
            text.append(f"  ({att.content_type}, {_human_size(att.size)})", style="dim")
        widget.update(text)

    def addresses(self, name: str) -> list[str]:
        """The addresses typed into one field, each as "Name <addr>"; ValueError names one that is not valid."""
        text = self.field(name)
        if not text:
            return []
        out: list[str] = []
        for display, addr in getaddresses([text]):
            if not addr and not display:
                continue
            if "@" not in addr or addr.startswith("@") or addr.endswith("@") or " " in addr:
                raise ValueError(f"{(addr or display)!r} in {name.capitalize()} is not an email address")
            out.append(compose_addr(display, addr))
        return out

    def build(self) -> tuple[EmailMessage, list[str]]:
        """The message as it stands and its Bcc addresses (ValueError/OSError with one sentence when it can't be)."""
        acc = self.account_config
        msg = build_message(
            from_addr=acc.email,
            from_name=acc.display_name,
            to=self.addresses("to"),
            cc=self.addresses("cc"),
            bcc=self.addresses("bcc"),
            subject=self.field("subject"),
            body=self.body.text,
            attachments=[(a.filename, a.content_type, a.content()) for a in self.attachments],
            in_reply_to=self.in_reply_to,
            references=self.references,
        )
        if self.message_id:
            msg.replace_header("Message-ID", self.message_id)
        else:
            self.message_id = str(msg["Message-ID"])
        bcc = [addr for _name, addr in getaddresses(self.addresses("bcc"))]
        return msg, bcc

    # -- actions ---------------------------------------------------------------------------------------------------

    def action_send(self, send_after: int | None = None) -> None:
        if self.busy:
            return
        if send_after is None:
            undo = self.manager.config.ui.undo_send
            send_after = int(time.time()) + undo if undo > 0 else 0
        if not any(self.field(name) for name in ADDRESS_FIELDS):
            self._fail("Add at least one recipient in To, Cc or Bcc.")
            self.query_one("#compose-to", Input).focus()
            return
        try:
            msg, bcc = self.build()
        except (MailError, ValueError, OSError) as e:
            self._fail(_sentence(e))
            return
        self.busy = True
        self.send_after = send_after
        self._status("")
        if not send_after:
            self.notify("Sending…", timeout=2)
        self._send(msg, bcc, send_after)

    def action_send_later(self) -> None:
        box = self.query_one("#compose-send-at", Input)
        box.add_class("-visible")
        box.value = ""
        box.focus()

    def _hide_send_at(self) -> None:
        box = self.query_one("#compose-send-at", Input)
        box.remove_class("-visible")
        box.value = ""
        self.body.focus()

    @work(thread=True, exclusive=True, group="compose-send")
    def _send(self, msg: EmailMessage, bcc: list[str], send_after: int = 0) -> None:
        try:
            result = self.manager.send(
                self.account,
                msg,
                bcc=bcc,
                replaces=[self.draft_id] if self.draft_id is not None else [],
                answered=self.answers,
                send_after=send_after,
            )
        except KeptAsDraft as e:
            self.draft_id = e.draft_id  # the one copy in Drafts: a later save replaces it
            self.app.call_from_thread(self._send_failed, str(e))
        except MailError as e:
            self.app.call_from_thread(self._send_failed, str(e))
        except Exception:
            log.exception("unexpected error while sending")
            self.app.call_from_thread(
                self._send_failed, "The message could not be sent (unexpected error; see the log)."
            )
        else:
            self.app.call_from_thread(self._sent, result or "sent")

    def _sent(self, result: str) -> None:
        self.busy = False
        self.draft_id = None
        if result == "queued":
            self.queued = True
            self._initial = self._state()  # nothing is lost any more: Escape must not say it would be
            try:
                waiting = self.manager.cache(self.account).outbox_count()
            except Exception:
                waiting = 1
            undo = self.manager.config.ui.undo_send
            if self.send_after and undo > 0 and self.send_after <= time.time() + undo:
                self.app.notify(f"Sending in {undo} s — press z to undo", timeout=max(3, undo))
                self.app.post_message(UndoOffered(self.account, self.message_id, self.send_after))
            elif self.send_after > time.time():
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.send_after))
                self.app.notify(f"Queued — sends at {when} ({waiting} in outbox)")
            else:
                self.app.notify(f"Queued — {waiting} in outbox")
        else:
            self.app.notify("Message sent")
        self.dismiss(result)

    def _send_failed(self, message: str) -> None:
        self.busy = False
        self._fail(message)

    def _fail(self, message: str) -> None:
        self._status(message)
        self.notify(message, severity="error", timeout=10)

    def action_save_draft(self) -> None:
        if self.busy:
            return
        try:
            msg, bcc = self.build()
        except (MailError, ValueError, OSError) as e:
            self._fail(_sentence(e))
            return
        if bcc:
            msg["Bcc"] = ", ".join(bcc)  # a draft keeps its Bcc so that it can be finished later
        self.busy = True
        self._save_draft(msg, self._state())

    @work(thread=True, exclusive=True, group="compose-send")
    def _save_draft(self, msg: EmailMessage, state: tuple[object, ...]) -> None:
        try:
            where, self.draft_id = self.manager.store_draft(
                self.account, msg, replaces=[self.draft_id] if self.draft_id is not None else []
            )
        except MailError as e:
            self.app.call_from_thread(self._send_failed, str(e))
        except Exception:
            log.exception("unexpected error while saving a draft")
            self.app.call_from_thread(
                self._send_failed, "The draft could not be saved (unexpected error; see the log)."
            )
        else:
            self.app.call_from_thread(self._draft_saved, where, state)

    def _draft_saved(self, where: str, state: tuple[object, ...]) -> None:
        self.busy = False
        self._initial = state
        self._status("")
        self.notify("Draft saved" + (" (locally; it is uploaded at the next sync)" if where == "local" else ""))

    def action_edit_body(self) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, name = tempfile.mkstemp(prefix="tui-mail-", suffix=".txt")
        path = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.body.text)
            try:
                with self.app.suspend():
                    code = subprocess.call([*shlex.split(editor), str(path)])
            except SuspendNotSupported:
                self._fail("The external editor cannot run here (this terminal cannot be suspended).")
                return
            except OSError as e:
                self._fail(f"The editor {editor!r} could not be started ({e.strerror}).")
                return
            if code != 0:
                self._fail(f"The editor exited with code {code}; the body was left unchanged.")
                return
            self.body.load_text(clean(path.read_text(encoding="utf-8", errors="replace")))
            self.body.focus()
        finally:
            path.unlink(missing_ok=True)

    def action_attach(self) -> None:
        box = self.query_one("#compose-attach-path", Input)
        box.add_class("-visible")
        box.value = ""
        box.focus()

    def _hide_attach(self) -> None:
        box = self.query_one("#compose-attach-path", Input)
        box.remove_class("-visible")
        box.value = ""
        self.body.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "compose-send-at":
            event.stop()
            try:
                when = parse_send_at(event.value)
            except ValueError as e:
                self._fail(str(e))
                return
            self._hide_send_at()
            self.action_send(send_after=when)
            return
        if event.input.id != "compose-attach-path":
            # Enter in a header field moves on to the next field, as in a form.
            event.stop()
            self.focus_next()
            return
        event.stop()
        raw = event.value.strip()
        if not raw:
            self._hide_attach()
            return
        path = Path(raw).expanduser()
        if not path.is_file():
            self._fail(f"There is no file at {raw}.")
            return
        if not os.access(path, os.R_OK):
            self._fail(f"The file {raw} cannot be read.")
            return
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.attachments.append(Attachment(path.name, content_type, path=path))
        self._status("")
        self._show_attachments()
        self._hide_attach()

    def action_cancel(self) -> None:
        box = self.query_one("#compose-attach-path", Input)
        if box.has_class("-visible"):
            self._hide_attach()
            return
        if self.query_one("#compose-send-at", Input).has_class("-visible"):
            self._hide_send_at()
            return
        if self.busy:
            self.notify("Still sending; please wait.", timeout=3)
            return
        if not self.dirty or self.queued:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen("Discard this message? What you typed will be lost.", yes="Discard", no="Keep editing"),
            answered,
        )


def _sentence(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if text.endswith((".", "!", "?")) else text + "."
