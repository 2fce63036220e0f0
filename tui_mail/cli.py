"""Command-line entry point: argument parsing only; subcommands call into the account manager or the UI."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import mimetypes
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, paths
from .accounts import AccountManager
from .config import AccountConfig, Config, ServerConfig, load_config
from .errors import ConfigError, CredentialError, MailError
from .index_later import after_sync, index_all
from .models import Folder, MessageRow, SyncProgress
from .store.cache import Cache
from .store.lock import AccountBusy

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("tui_mail")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"tui-mail: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tui-mail", description="A terminal email client (IMAP and POP3, offline cache).")
    p.add_argument("--config", metavar="PATH", help="config file (default: $TUI_MAIL_CONFIG or the platform path)")
    p.add_argument("--demo", action="store_true", help="open the built-in demo mailbox (no network)")
    p.add_argument("--version", action="version", version=f"tui-mail {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("sync", help="sync one account or all")
    s.add_argument("account", nargs="?")
    s = sub.add_parser("folders", help="list an account's folders with counts")
    s.add_argument("account")
    s = sub.add_parser("list", help="list messages of a folder, newest first")
    s.add_argument("account")
    s.add_argument("folder", nargs="?", default="INBOX")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s = sub.add_parser("read", help="print one message (headers and text) as inert text")
    s.add_argument("account")
    s.add_argument("folder")
    s.add_argument("id", type=int, help="the message id shown by 'list'")
    s = sub.add_parser("send", help="send a message; the body is read from standard input")
    s.add_argument("account")
    s.add_argument("--to", action="append", default=[], required=True)
    s.add_argument("--cc", action="append", default=[])
    s.add_argument("--bcc", action="append", default=[])
    s.add_argument("--subject", default="")
    s.add_argument("--attach", action="append", default=[], metavar="FILE")
    s = sub.add_parser("pending", help="list the changes waiting for the server (and those it refused); cancel one")
    s.add_argument("account", nargs="?")
    s.add_argument("--cancel", type=int, metavar="ID", help="undo a waiting change locally, or dismiss a refused one")
    s = sub.add_parser("password", help="manage stored passwords")
    psub = s.add_subparsers(dest="password_command", metavar="ACTION", required=True)
    ps = psub.add_parser("set", help="store an account's password in the OS keyring")
    ps.add_argument("account")
    s = sub.add_parser("search", help="search messages (all accounts, or ACCOUNT); see README for the query language")
    s.add_argument("words", nargs="+", metavar="[ACCOUNT] QUERY")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true", help="one JSON object per line, with account and folder")
    s.add_argument("--server", action="store_true", help="also search on the IMAP server (what is not downloaded)")
    s = sub.add_parser("reindex", help="rebuild the full-text search index of one account or all")
    s.add_argument("account", nargs="?")
    s = sub.add_parser("index", help="add mail that waits for it to the search index (sync starts this itself)")
    s.add_argument("account", nargs="?")
    from .cli_mail_io import add_parsers

    add_parsers(sub)
    return p


class _LogFile(logging.FileHandler):
    """The log file; a record that cannot be written (a full disk) is dropped, never printed as a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _setup_logging() -> None:
    try:
        handler: logging.Handler = _LogFile(paths.state_dir() / "tui-mail.log", encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("tui_mail")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _prompt(text: str) -> str:
    if not sys.stdin.isatty():
        raise CredentialError("No password is stored and there is no terminal to ask for one.")
    return getpass.getpass(text)


def _account(config: Config, name: str) -> AccountConfig:
    return config.account(name)


def _progress_printer(enabled: bool) -> Callable[[SyncProgress], None]:
    def show(p: SyncProgress) -> None:
        if enabled:
            total = f"/{p.total}" if p.total else ""
            sys.stderr.write(f"\r\x1b[K{p.account}: {p.stage} {p.folder} {p.done}{total}")
            sys.stderr.flush()

    return show


def cmd_sync(manager: AccountManager, config: Config, name: str | None) -> int:
    names = [name] if name else [a.name for a in config.accounts]
    for n in names:
        _account(config, n)
    failed = False
    tty = sys.stderr.isatty()
    for n in names:
        try:
            r = manager.sync(n, _progress_printer(tty))
        except AccountBusy as e:  # a cron sync while the UI syncs: one sentence naming the other pid
            if tty:
                sys.stderr.write("\r\x1b[K")
            print(str(e), file=sys.stderr)
            failed = True
            continue
        except MailError as e:
            if tty:
                sys.stderr.write("\r\x1b[K")
            print(f"{n}: {e}", file=sys.stderr)
            failed = True
            continue
        note = ""
        try:
            # A few new messages are searchable when the sync ends; a big download is indexed by a detached
            # `tui-mail index`, so the sync returns as soon as the mail is stored (search catches up first).
            note = after_sync(manager.cache(n), config.path, n)
        except (MailError, OSError) as e:
            print(f"{n}: search index not updated: {e}", file=sys.stderr)
        if tty:
            sys.stderr.write("\r\x1b[K")
        print(f"{n}: {r.new_messages} new, {r.removed} removed, {r.flag_changes} flag changes, {r.folders} folders")
        if note:
            print(f"{n}: {note}")
        for w in r.warnings:
            print(f"{n}: warning: {w}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_index(manager: AccountManager, config: Config, name: str | None) -> int:
    """Index what waits, one account or all (after waiting for an indexer already at work on it)."""
    names = [name] if name else [a.name for a in config.accounts]
    for n in names:
        _account(config, n)
    for n in names:
        count = index_all(manager.cache(n))
        print(f"{n}: {count or 0:,} messages indexed")
    return EXIT_OK


def cmd_folders(manager: AccountManager, config: Config, name: str) -> int:
    from .storage import account_notes, folder_sizes, human_size

    acc = _account(config, name)
    cache = manager.cache(name)
    sizes = folder_sizes(cache)
    for f in cache.folders():
        role = f" ({f.role.value})" if f.role.value else ""
        print(f"{f.name}{role}\t{f.total} messages\t{f.unread} unread\t{human_size(sizes.get(f.id, 0))}")
    for note in account_notes(acc, cache):
        print(note)
    return EXIT_OK


def _folder(cache: Cache, name: str) -> Folder | None:
    """A folder by its server name, or as the user sees it: "Sent" finds "INBOX.Sent" on a server whose personal
    folders live under an INBOX. prefix."""
    found = cache.folder_by_name(name)
    if found is not None:
        return found
    for f in cache.folders():
        prefix = "INBOX" + f.delimiter
        if f.name.upper().startswith(prefix) and f.name[len(prefix) :] == name.replace("/", f.delimiter):
            return f
    return None


def cmd_list(manager: AccountManager, config: Config, name: str, folder: str, limit: int, as_json: bool) -> int:
    from datetime import datetime

    from .mime import sanitize_line

    _account(config, name)
    cache = manager.cache(name)
    f = _folder(cache, folder)
    if f is None:
        print(f"Account {name} has no folder named {folder!r}.", file=sys.stderr)
        return EXIT_FAILED
    for row in cache.window(f.id, 0, max(0, limit)):
        if as_json:
            print(json.dumps(row_json(row), ensure_ascii=False))
        else:
            when = datetime.fromtimestamp(row.date).strftime("%Y-%m-%d %H:%M") if row.date else "-"
            mark = ("N" if not row.seen else " ") + ("!" if row.flagged else " ")
            print(f"{row.id}\t{mark}\t{when}\t{sanitize_line(row.sender)}\t{sanitize_line(row.subject)}")
    return EXIT_OK


def row_json(row: MessageRow, **extra: object) -> dict[str, object]:
    """One message as `list --json` and `search --json` print it (one JSON object per line)."""
    return {
        **extra,
        "id": row.id,
        "date": row.date,
        "from": row.from_addr,
        "from_name": row.from_name,
        "to": row.to,
        "subject": row.subject,
        "flags": sorted(row.flags),
        "size": row.size,
        "has_attachments": row.has_attachments,
        "message_id": row.message_id,
    }


def cmd_read(manager: AccountManager, config: Config, name: str, folder: str, msg_id: int) -> int:
    from .mime import render_message

    _account(config, name)
    cache = manager.cache(name)
    row = cache.message(msg_id)
    f = _folder(cache, folder)
    if row is None or f is None or row.folder_id != f.id:
        print(f"There is no message {msg_id} in {name}/{folder}.", file=sys.stderr)
        return EXIT_FAILED
    raw = manager.fetch_body(name, msg_id)
    shown = render_message(raw)
    for key in ("From", "To", "Cc", "Date", "Subject"):
        if shown.headers.get(key):
            print(f"{key}: {shown.headers[key]}")
    print()
    print(shown.text)
    for note in shown.notes:
        print(f"[note] {note}")
    for att in shown.attachments:
        print(f"[attachment {att.index}] {att.filename} ({att.content_type}, {att.size} bytes)")
    return EXIT_OK


def cmd_send(manager: AccountManager, config: Config, args: argparse.Namespace) -> int:
    from .mime import build_message

    acc = _account(config, args.account)
    attachments = []
    for f in args.attach:
        path = Path(f)
        try:
            data = path.read_bytes()
        except OSError as e:
            print(f"Cannot read attachment {f} ({e.strerror}).", file=sys.stderr)
            return EXIT_FAILED
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        attachments.append((path.name, ctype, data))
    body = sys.stdin.read() if not sys.stdin.isatty() else ""
    try:
        msg = build_message(
            from_addr=acc.email,
            from_name=acc.display_name,
            to=args.to,
            cc=args.cc,
            bcc=args.bcc,
            subject=args.subject,
            body=body,
            attachments=attachments,
        )
    except ValueError as e:  # an address that is not one: mime says which, in one sentence
        print(f"tui-mail: {e}", file=sys.stderr)
        return EXIT_USAGE
    status = manager.send(acc.name, msg, bcc=args.bcc)
    if status == "sent":
        print("Message sent.")
        return EXIT_OK
    # Safely queued is success: it goes out at the next sync (say why it did not go now, when known).
    message_id = str(msg.get("Message-ID", "")).strip()
    why = next((i.last_error for i in manager.cache(acc.name).outbox() if i.message_id == message_id), "")
    print("queued: sent at the next sync")
    if why:
        print(f"tui-mail: {why}", file=sys.stderr)
    return EXIT_OK


def cmd_pending(manager: AccountManager, config: Config, name: str | None, cancel: int | None) -> int:
    """One line per action: id, state (waiting/sending/refused), what it does, and why the server refused it."""
    from .mime import sanitize_line

    if cancel is not None:
        if name is None:
            if len(config.accounts) != 1:
                print("Say which account the action belongs to: tui-mail pending ACCOUNT --cancel ID.", file=sys.stderr)
                return EXIT_USAGE
            name = config.accounts[0].name
        _account(config, name)
        print(sanitize_line(manager.cancel_action(name, cancel)))
        return EXIT_OK
    names = [name] if name else [a.name for a in config.accounts]
    for n in names:
        _account(config, n)
    states = {"queued": "waiting", "claimed": "sending", "failed": "refused"}
    for n in names:
        items = manager.pending(n)
        if not items:
            print(f"{n}: nothing waits for the server.")
        for item in items:
            line = f"{n}\t{item.id}\t{states.get(item.state, item.state)}\t{sanitize_line(item.sentence)}"
            if item.error:
                line += f"\t{sanitize_line(item.error)}"
            print(line)
    return EXIT_OK


def cmd_password_set(config: Config, name: str) -> int:
    from .credentials import set_password

    acc = _account(config, name)
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {acc.incoming.username or acc.email} (account {acc.name}): ")
    if not password:
        print("No password given; nothing stored.", file=sys.stderr)
        return EXIT_FAILED
    set_password(acc, password)
    print(f"Password for account {acc.name} stored in the OS keyring.")
    return EXIT_OK


def _run_ui(config: Config, manager: AccountManager, config_error: str | None, config_path: Path | None) -> int:
    manager.warm_up()  # log in while Textual and the UI load (their imports take longer than a login)
    from .ui.app import run_app

    return run_app(config, manager, config_error=config_error, config_path=config_path)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.demo:
        import tempfile

        from .demo import build_demo

        data_dir = Path(tempfile.mkdtemp(prefix="tui-mail-demo-"))
        os.environ["TUI_MAIL_DATA_DIR"] = str(data_dir)
        config = build_demo(data_dir)
        manager = AccountManager(config, data_dir=data_dir, offline=True)
        try:
            return _run_ui(config, manager, None, None)
        finally:
            manager.close()
    _setup_logging()
    config_path = paths.config_path(args.config)
    try:
        config = load_config(config_path, partial=args.command is None)  # the UI opens the valid accounts
    except ConfigError as e:
        if args.command is None:
            # The UI either offers the first-run setup screen (no file yet) or shows the error as one sentence.
            empty = Config(path=config_path, accounts=())
            error = None if not config_path.exists() else str(e)
            return _run_ui(empty, AccountManager(empty), error, config_path if error is None else None)
        print(f"tui-mail: {e}", file=sys.stderr)
        return EXIT_USAGE
    manager = AccountManager(config, password_source=None if args.command is None else _cli_password)
    try:
        if args.command is None:
            return _run_ui(config, manager, None, config_path)
        if args.command == "sync":
            return cmd_sync(manager, config, args.account)
        if args.command == "folders":
            return cmd_folders(manager, config, args.account)
        if args.command == "list":
            return cmd_list(manager, config, args.account, args.folder, args.limit, args.json)
        if args.command == "read":
            return cmd_read(manager, config, args.account, args.folder, args.id)
        if args.command == "send":
            return cmd_send(manager, config, args)
        if args.command == "index":
            return cmd_index(manager, config, args.account)
        if args.command in ("search", "reindex"):
            from .cli_search import cmd_reindex, cmd_search

            if args.command == "search":
                return cmd_search(manager, config, args.words, args.limit, args.json, args.server)
            return cmd_reindex(manager, config, args.account)
        if args.command in ("export", "import", "backup", "restore", "migrate"):
            from .cli_mail_io import run

            return run(manager, config, args)
        if args.command == "pending":
            return cmd_pending(manager, config, args.account, args.cancel)
        if args.command == "password":
            return cmd_password_set(config, args.account)
        return EXIT_USAGE
    except ConfigError as e:
        print(f"tui-mail: {e}", file=sys.stderr)
        return EXIT_USAGE
    except MailError as e:
        log.info("command failed: %s", e)
        print(f"tui-mail: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    finally:
        manager.close()


def _cli_password(account: AccountConfig, server: ServerConfig) -> str:
    from .credentials import get_password

    return get_password(account, server, prompt=_prompt)
