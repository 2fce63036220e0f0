"""The command palette's "Move a POP3 account to IMAP": pick the accounts and a prefix, upload in a worker with
progress, show the counts per folder, then keep the POP3 account or remove it from the config (its mail stays)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from ...errors import MailError
from ..widgets.safe_text import clean_line

if TYPE_CHECKING:
    from ...config import Config
    from ...migrate import MigrationReport
    from ..app import MailApp

log = logging.getLogger(__name__)


class MigrateProgress(Message):
    """The worker uploaded more of a folder."""

    def __init__(self, folder: str, done: int, total: int) -> None:
        super().__init__()
        self.folder, self.done, self.total = folder, done, total


class MigrateDone(Message):
    """The worker ended: a report, or one sentence saying why it stopped."""

    def __init__(self, report: MigrationReport | None, error: str = "") -> None:
        super().__init__()
        self.report, self.error = report, error


def summary(source: str, target: str, report: MigrationReport) -> str:
    """The counts per folder and one closing sentence."""
    lines = []
    for f in report.folders:
        extra = f", {f.missing} not downloaded" if f.missing else ""
        lines.append(
            f"{f.source} → {f.target}: {f.uploaded} uploaded, {f.already} there already, {f.total} in all{extra}"
        )
    total = sum(f.total for f in report.folders)
    if report.complete:
        lines.append(f"All {total} messages of {source} are on {target}.")
    else:
        lines.append(f"Not every message reached {target}; run the move again (nothing is uploaded twice).")
    return "\n".join(lines)


class MigrateScreen(ModalScreen["tuple[str, Config] | None"]):
    """Move what a POP3 account downloaded into folders of an IMAP account (tui-mail migrate, in the UI)."""

    DEFAULT_CSS = """
    MigrateScreen { align: center middle; background: $background 60%; }
    MigrateScreen > Vertical {
        width: 84; height: auto; max-height: 90%; border: thick $accent; background: $surface; padding: 1 2;
    }
    MigrateScreen Label { margin-top: 1; }
    MigrateScreen Select, MigrateScreen Input { width: 100%; }
    MigrateScreen #migrate-status { margin-top: 1; height: auto; }
    MigrateScreen ProgressBar { margin-top: 1; }
    MigrateScreen Horizontal { height: auto; margin-top: 1; }
    MigrateScreen Button { margin-right: 2; }
    """

    BINDINGS = [Binding("escape", "close", "Close", id="migrate.close")]

    def __init__(self, pop3: list[str], imap: list[str]) -> None:
        super().__init__()
        self.pop3, self.imap = pop3, imap
        self.running = False
        self.report: MigrationReport | None = None
        self.source = ""
        self.target = ""
        self._last_progress = 0.0

    @property
    def mail_app(self) -> MailApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Text("Move a POP3 account's mail (Inbox, Sent, Drafts, your folders; not Trash) to an IMAP server.")
            )
            yield Label("From the POP3 account")
            yield Select([(clean_line(n), n) for n in self.pop3], value=self.pop3[0], allow_blank=False, id="source")
            yield Label("To the IMAP account")
            yield Select([(clean_line(n), n) for n in self.imap], value=self.imap[0], allow_blank=False, id="target")
            yield Label("Into the server folder")
            yield Input(value="Old POP", id="prefix")
            yield ProgressBar(id="migrate-progress", show_eta=False)
            yield Static(id="migrate-status")
            with Horizontal(id="migrate-buttons"):
                yield Button("Move", variant="primary", id="migrate-start")
                yield Button("Close", id="migrate-close")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#source", Select).focus()

    def _say(self, text: str) -> None:
        self.query_one("#migrate-status", Static).update(Text(clean_line(text) if "\n" not in text else text))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id
        if button == "migrate-start":
            self.start()
        elif button == "migrate-close" or button == "migrate-keep":
            if button == "migrate-keep":
                self.app.notify(f"The POP3 account {clean_line(self.source)} is kept.", markup=False)
            self.dismiss(None)
        elif button == "migrate-remove":
            self.remove_source()

    def action_close(self) -> None:
        if self.running:
            self.app.notify("The move goes on in the background; you will be told when it ends.", markup=False)
        self.dismiss(None)

    # -- the move ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.running:
            return
        source = str(self.query_one("#source", Select).value)
        target = str(self.query_one("#target", Select).value)
        prefix = self.query_one("#prefix", Input).value.strip().strip("/")
        if not prefix:
            self._say("Give the server folder to move the mail into, e.g. Old POP.")
            return
        self.source, self.target, self.running = source, target, True
        for widget in (self.query_one("#source"), self.query_one("#target"), self.query_one("#prefix")):
            widget.disabled = True
        self.query_one("#migrate-start", Button).disabled = True
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self._say(f"Connecting to {target}…")
        app = self.mail_app
        screen = self

        def post(message: Message) -> None:
            if screen.is_attached:
                screen.post_message(message)
            elif isinstance(message, MigrateDone):  # the screen was closed: say the outcome anyway
                text = summary(source, target, message.report) if message.report is not None else message.error
                app.call_from_thread(app.notify, text, markup=False, timeout=20)

        def progress(folder: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - self._last_progress > 0.1:
                self._last_progress = now
                post(MigrateProgress(folder, done, total))

        def work() -> None:
            from ...migrate import migrate

            try:
                report = migrate(app.manager, source, target, prefix, progress=progress)
            except MailError as e:
                post(MigrateDone(None, str(e)))
            except Exception:
                log.exception("moving %s to %s", source, target)
                post(MigrateDone(None, "The move stopped unexpectedly; see the log. Run it again to resume."))
            else:
                post(MigrateDone(report))

        app.run_worker(work, name=f"migrate {source}", group="migrate", thread=True, exit_on_error=False)

    def on_migrate_progress(self, event: MigrateProgress) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=event.total or None, progress=event.done)
        self._say(f"Uploading {event.folder}: {event.done:,} of {event.total:,}")

    def on_migrate_done(self, event: MigrateDone) -> None:
        self.running = False
        self.query_one(ProgressBar).display = False
        self.report = event.report
        self.mail_app.start_sync(self.target, quiet=True)  # the new folders show up in the folder pane
        if event.report is None:
            self._say(event.error)
            self.query_one("#migrate-start", Button).disabled = False
            self.query_one("#migrate-start", Button).label = "Try again"
            return
        text = summary(self.source, self.target, event.report)
        buttons = self.query_one("#migrate-buttons", Horizontal)
        buttons.remove_children()
        if event.report.complete:
            text += f"\nKeep the POP3 account {self.source}, or remove it from your config? Its mail stays on this computer."
            buttons.mount(Button(f"Keep {self.source}", variant="primary", id="migrate-keep"))
            buttons.mount(Button(f"Remove {self.source} from the config", variant="warning", id="migrate-remove"))
        else:
            buttons.mount(Button("Close", id="migrate-close"))
        self._say(text)

    def remove_source(self) -> None:
        """Remove the POP3 account from the config file (a backup copy kept, its cache file left in place) and
        stop showing it."""
        from ...config import load_config
        from ...config_edit import retire_account
        from ...errors import ConfigError

        app = self.mail_app
        path = app.config_path or app.config.path
        try:
            said = retire_account(path, self.source, app.manager.cache(self.source).path)
            config = load_config(path, partial=True) if path is not None else None
        except ConfigError as e:
            self._say(str(e))
            return
        app.notify(clean_line(said), markup=False, timeout=20)
        self.dismiss((self.source, config) if config is not None else None)


def open_migrate(app: MailApp) -> None:
    """The palette entry: the screen, and after a removal the accounts reopened from the edited config."""
    pop3 = [a.name for a in app.accounts if a.protocol == "pop3"]
    imap = [a.name for a in app.accounts if a.protocol == "imap"]
    if not pop3 or not imap:
        app.notify("Moving mail needs a POP3 account and an IMAP account.", markup=False)
        return

    def closed(result: tuple[str, Config] | None) -> None:
        if result is not None:
            forget_account(app, *result)

    app.push_screen(MigrateScreen(pop3, imap), closed)


def forget_account(app: Any, name: str, config: Config) -> None:
    """The config lost an account: stop its timer, reopen the accounts from the new config, drop its views, and
    close the old manager's server connections (in a worker: a LOGOUT may wait on the network)."""
    timer = app._poll_timers.pop(name, None)
    if timer is not None:
        timer.stop()
    app.leave_unified()
    app._unified = None
    old = app.manager
    app._setup_done(config)
    if app.manager is not old and hasattr(old, "close"):
        app.run_worker(old.close, name="close old accounts", thread=True, exit_on_error=False)
    app.views.pop(name, None)
    app.sync_states.pop(name, None)
    app.refresh_folders()


__all__ = ["MigrateScreen", "forget_account", "open_migrate", "summary"]
