"""Opening and saving attachments: the platform opener, safe unique file names, and the worker that writes them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import App

from .. import mime
from ..errors import MailError
from .messages import Notice
from .screens.folder_picker import DirectoryScreen, PickerScreen
from .widgets.reader import AttachmentInfo, ReaderView
from .widgets.safe_text import clean_line

log = logging.getLogger(__name__)


def default_opener(path: Path) -> None:
    """Open a file with the platform's opener (never through a shell)."""
    if sys.platform.startswith("win"):
        os.startfile(str(path))  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen(
        [opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def unique_path(directory: Path, name: str) -> Path:
    """directory/name, or name with " (2)", " (3)"... when taken; never outside directory."""
    safe = mime.safe_filename(name) or "attachment"
    stem, dot, ext = safe.rpartition(".")
    if not stem:
        stem, dot, ext = safe, "", ""
    candidate = directory / safe
    n = 2
    while candidate.exists():
        candidate = directory / f"{stem} ({n}){dot}{ext}"
        n += 1
    if candidate.resolve().parent != directory.resolve():
        raise MailError(f"Refusing to save {safe!r} outside {directory}.")
    return candidate


class AttachmentActions(App[int]):
    """Mixed into MailApp: the reader's open (`o`) and save (`S`) attachment requests."""

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any
        opener: Callable[[Path], None]

    @on(ReaderView.AttachmentRequest)
    def _attachment_request(self, event: ReaderView.AttachmentRequest) -> None:
        atts = event.attachments
        account, message_id, save = event.account, event.message_id, event.save

        def with_choice(index: int | None) -> None:
            if index is None:
                return
            chosen = next((a for a in atts if a.index == index), None)
            if chosen is None:
                return
            if save:
                self._ask_directory(account, message_id, chosen)
            else:
                self._attachment_worker(account, message_id, chosen, None)

        if len(atts) == 1:
            with_choice(atts[0].index)
        else:
            choices = [(a.index, Text(clean_line(a.filename))) for a in atts]
            self.push_screen(
                PickerScreen("Save which attachment?" if save else "Open which attachment?", choices), with_choice
            )

    def _ask_directory(self, account: str, message_id: int, att: AttachmentInfo) -> None:
        downloads = Path.home() / "Downloads"
        default = str(downloads if downloads.is_dir() else Path.home())

        def chosen(directory: str | None) -> None:
            if directory:
                self._attachment_worker(account, message_id, att, Path(directory).expanduser())

        self.push_screen(DirectoryScreen(f"Save {clean_line(att.filename)} into directory:", default), chosen)

    def _attachment_worker(self, account: str, message_id: int, att: AttachmentInfo, directory: Path | None) -> None:
        """Save (directory given) or open (a private temp dir, then the platform opener) in a thread worker."""

        def work() -> None:
            try:
                raw = self.manager.fetch_body(account, message_id)
                data = mime.attachment_bytes(raw, att.index)
                target_dir = directory if directory is not None else Path(tempfile.mkdtemp(prefix="tui-mail-"))
                if not target_dir.is_dir():
                    raise MailError(f"{target_dir} is not a directory.")
                path = unique_path(target_dir, att.filename)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                if directory is None:
                    self.opener(path)
                    self.post_message(Notice(f"Opened {path.name}."))
                else:
                    self.post_message(Notice(f"Saved {path}."))
            except MailError as e:
                self.post_message(Notice(str(e), "error"))
            except OSError as e:
                self.post_message(Notice(f"Could not write the attachment: {e.strerror or e}.", "error"))
            except Exception:
                log.exception("attachment %s of message %s", att.index, message_id)
                self.post_message(Notice("Could not open the attachment; see the log.", "error"))

        self.run_worker(work, name="attachment", group=f"attachment-{account}", thread=True, exit_on_error=False)
