"""Opening and saving attachments: the opener for the file's type, safe unique file names, the worker that writes."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import App

from ..errors import MailError
from .messages import Notice
from .openers import find_opener, run_opener
from .screens.folder_picker import DirectoryScreen, PickerScreen
from .widgets.reader import ReaderView
from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from .widgets.reader_lines import AttachmentInfo

log = logging.getLogger(__name__)


def default_opener(path: Path) -> None:
    """Open a file with the platform's opener (never through a shell)."""
    if sys.platform.startswith("win"):
        os.startfile(str(path))  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    run_opener([opener, str(path)])


def save_target(typed: Path, filename: str) -> Path:
    """Where "save" writes: into typed when it is a directory, else the file name the user typed (made safe and
    unique, never outside its directory)."""
    if typed.is_dir():
        return unique_path(typed, filename)
    parent = typed.parent
    if not parent.is_dir():
        raise MailError(f"{parent} is not a directory.")
    return unique_path(parent, typed.name)


def unique_path(directory: Path, name: str) -> Path:
    """directory/name, or name with " (2)", " (3)"... when taken; never outside directory."""
    from .. import mime  # the MIME package loads on first use, not with the first screen

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
        config: Any
        opener: Callable[[Path], None] | None

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
        from .. import mime

        downloads = Path.home() / "Downloads"
        folder = downloads if downloads.is_dir() else Path.home()
        default = str(folder / (mime.safe_filename(att.filename) or "attachment"))

        def chosen(typed: str | None) -> None:
            if typed:
                self._attachment_worker(account, message_id, att, Path(typed).expanduser())

        title = f"Save {clean_line(att.filename)} as (a file name, or a directory to keep its name):"
        self.push_screen(DirectoryScreen(title, default), chosen)

    def _attachment_worker(self, account: str, message_id: int, att: AttachmentInfo, directory: Path | None) -> None:
        """Save (directory given) or open (a private temp dir, then the platform opener) in a thread worker."""

        def work() -> None:
            from .. import mime

            try:
                raw = self.manager.fetch_body(account, message_id)
                data = mime.attachment_bytes(raw, att.index)
                argv: list[str] | None = None
                if directory is None:
                    path = unique_path(Path(tempfile.mkdtemp(prefix="tui-mail-")), att.filename)
                    if self.opener is None:
                        argv = find_opener(att.content_type, path, getattr(self.config, "openers", {}))
                        if argv is None:
                            raise MailError(
                                f"No program here opens {clean_line(att.content_type) or 'this kind of'} files; "
                                "add one under [openers] in the config, or save it with S."
                            )
                else:
                    path = save_target(directory, att.filename)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                if directory is None:
                    if argv is not None:
                        run_opener(argv)
                    elif self.opener is not None:
                        self.opener(path)
                    self.post_message(Notice(f"Opened {path.name}" + (f" with {Path(argv[0]).name}." if argv else ".")))
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
