"""The `export`, `import`, `backup`, `restore` and `migrate` subcommands: the user's mail in and out of tui-mail."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .accounts import AccountManager
from .config import Config
from .errors import ConfigError, MailError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommands on the main parser."""
    s = sub.add_parser(
        "export",
        help="write folders as Maildir or mbox (bytes as received, flags kept)",
        usage="tui-mail export ACCOUNT [FOLDER ...] [--format maildir|mbox] DEST",
    )
    s.add_argument("account")
    s.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    s = sub.add_parser("import", help="import a Maildir or mbox into a folder (uploaded on IMAP accounts)")
    s.add_argument("account")
    s.add_argument("folder")
    s.add_argument("source", metavar="SOURCE")
    s.add_argument("--no-upload", action="store_true", help="IMAP: only into the cache now; run import again later")
    s = sub.add_parser("backup", help="a consistent snapshot of an account's cache (safe while the UI runs)")
    s.add_argument("account")
    s.add_argument("dest", metavar="DEST", help="a file, or a directory (a dated name is chosen)")
    s = sub.add_parser("restore", help="replace an account's cache by a backup (checked first)")
    s.add_argument("account")
    s.add_argument("source", metavar="BACKUP")
    s.add_argument("--force", action="store_true", help="replace even a cache newer than the backup")
    s = sub.add_parser("migrate", help="move a POP3 account's mail into folders of an IMAP account")
    s.add_argument("account", help="the POP3 account")
    s.add_argument("--to", required=True, metavar="ACCOUNT", help="the IMAP account")
    s.add_argument("--prefix", default="Old POP", help='parent folder on the server (default "Old POP")')
    s.add_argument("--remove-local", action="store_true", help="afterwards, delete the migrated mail from this cache")
    keep = s.add_mutually_exclusive_group()
    keep.add_argument(
        "--remove-source",
        dest="remove_source",
        action="store_true",
        default=None,
        help="afterwards, remove the POP3 account from the config file (its cache file and mail stay)",
    )
    keep.add_argument("--keep-source", dest="remove_source", action="store_false", help="keep it (do not ask)")


def _progress(what: str) -> Callable[[str, int, int], None]:
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(folder: str, done: int, total: int) -> None:
        if not tty or (time.monotonic() - last[0] < 0.1 and done != total):
            return
        last[0] = time.monotonic()
        width = 30
        if total:
            filled = min(width, width * done // total)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r\x1b[K{what} {folder} [{bar}] {done:,}/{total:,}")
        else:
            sys.stderr.write(f"\r\x1b[K{what} {folder} {done:,}")
        sys.stderr.flush()

    return show


def _clear() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")


def run(manager: AccountManager, config: Config, args: argparse.Namespace) -> int:
    """Dispatch one of this module's subcommands."""
    config.account(args.account)
    try:
        if args.command == "export":
            return cmd_export(manager, args)
        if args.command == "import":
            return cmd_import(manager, config, args)
        if args.command == "backup":
            return cmd_backup(manager, args)
        if args.command == "restore":
            return cmd_restore(manager, args)
        if args.command == "migrate":
            return cmd_migrate(manager, config, args)
    finally:
        _clear()
    return EXIT_USAGE


def _export_args(args: argparse.Namespace) -> argparse.Namespace:
    """FOLDER... and DEST around --format in any order (argparse alone cannot split them)."""
    p = argparse.ArgumentParser(prog="tui-mail export", usage="tui-mail export ACCOUNT [FOLDER ...] DEST")
    p.add_argument("paths", nargs="+", metavar="FOLDER... DEST")
    p.add_argument("--format", choices=("maildir", "mbox"), default="maildir")
    try:
        got = p.parse_intermixed_args(args.rest)
    except SystemExit:
        raise SystemExit(EXIT_USAGE) from None
    args.folders, args.dest, args.format = got.paths[:-1], got.paths[-1], got.format
    return args


def cmd_export(manager: AccountManager, args: argparse.Namespace) -> int:
    from .transfer import export_folders, import_target

    args = _export_args(args)

    cache = manager.cache(args.account)
    if args.folders:
        folders = []
        for name in args.folders:
            f = import_target(cache, name)
            if f is None:
                print(f"Account {args.account} has no folder named {name!r}.", file=sys.stderr)
                return EXIT_FAILED
            folders.append(f)
    else:
        folders = [f for f in cache.folders() if f.total]
    dest = Path(args.dest)
    single = len(args.folders) == 1
    if dest.exists() and single and args.format == "mbox" and dest.is_dir():
        print(f"{dest} is a directory; an mbox export of one folder needs a file name.", file=sys.stderr)
        return EXIT_USAGE

    def fetch(row_id: int) -> bytes | None:
        if manager.offline:
            return None
        try:
            return manager.fetch_body(args.account, row_id)
        except MailError:
            return None

    started = time.monotonic()
    result = export_folders(
        cache, folders, args.format, dest, single=single, fetch=fetch, progress=_progress("exporting")
    )
    _clear()
    for w in result.warnings:
        print(f"{args.account}: warning: {w}", file=sys.stderr)
    print(
        f"{args.account}: exported {result.done:,} messages from {len(result.counts)} folder(s) to {dest} "
        f"({args.format}; {result.skipped:,} already there) in {time.monotonic() - started:.1f}s"
    )
    return EXIT_OK if not result.missing else EXIT_FAILED


def cmd_import(manager: AccountManager, config: Config, args: argparse.Namespace) -> int:
    from .mailbox_io import MailboxFormatError
    from .transfer import import_mailbox, import_target, upload_imported

    acc = config.account(args.account)
    cache = manager.cache(args.account)
    imap = acc.protocol == "imap"
    folder = import_target(cache, args.folder)
    uploader = None
    if imap and not args.no_upload:
        from .backends.imap import ImapBackend
        from .backends.imap_upload import ImapUploader

        def connect(backend: object) -> ImapUploader:
            assert isinstance(backend, ImapBackend)
            up = ImapUploader(backend)
            name = folder.name if folder is not None else up.folder_name(*args.folder.split("/"))
            up.ensure_folder(name)
            return up

        uploader = manager.with_server(args.account, connect)
    if folder is None:
        if imap and uploader is None:
            print(f"Account {args.account} has no folder named {args.folder!r}.", file=sys.stderr)
            return EXIT_FAILED
        name = uploader.folder_name(*args.folder.split("/")) if uploader is not None else args.folder
        sep = uploader.separator if uploader is not None else "/"
        folder = cache.folder(cache.ensure_folder(name, sep, local_only=not imap))
    started = time.monotonic()
    try:
        result = import_mailbox(cache, folder.id, Path(args.source), progress=_progress("importing"))
    except MailboxFormatError as e:
        print(f"tui-mail: {e}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as e:
        print(f"tui-mail: cannot read {args.source} ({e.strerror}).", file=sys.stderr)
        return EXIT_FAILED
    _clear()
    stored, skipped = result.counts[folder.name]
    print(
        f"{args.account}: imported {stored:,} messages into {folder.name} ({skipped:,} already there) "
        f"in {time.monotonic() - started:.1f}s"
    )
    if uploader is not None:
        up = uploader

        def upload(_backend: object) -> tuple[int, int]:
            return upload_imported(cache, folder, up, progress=_progress("uploading"))

        sent, already = manager.with_server(args.account, upload)
        _clear()
        print(f"{args.account}: uploaded {sent:,} messages to the server ({already:,} were there already)")
        manager.index(args.account)
    elif imap:
        print(f"{args.account}: the messages wait in the cache; run the same import again to upload them")
    else:
        manager.index(args.account)
    return EXIT_OK


def cmd_backup(manager: AccountManager, args: argparse.Namespace) -> int:
    from .backup import backup

    info = backup(manager.cache(args.account), Path(args.dest))
    print(f"{args.account}: backup of {info.messages:,} messages written to {info.path}")
    return EXIT_OK


def cmd_restore(manager: AccountManager, args: argparse.Namespace) -> int:
    from .backup import restore
    from .store.lock import AccountLock

    cache = manager.cache(args.account)
    path = cache.path
    cache.close()
    # Not while a sync (the UI's or cron's) writes this account: AccountBusy says which process has it.
    with AccountLock(path.with_name(path.name + ".lock"), args.account).hold(5.0):
        info = restore(path, Path(args.source), force=args.force)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
    print(f"{args.account}: cache restored from {args.source} ({info.messages:,} messages, made {when})")
    return EXIT_OK


def cmd_migrate(manager: AccountManager, config: Config, args: argparse.Namespace) -> int:
    from .migrate import forget_migrated, migrate

    config.account(args.to)
    report = migrate(manager, args.account, args.to, args.prefix, progress=_progress("uploading"))
    _clear()
    for f in report.folders:
        extra = f", {f.missing} not downloaded" if f.missing else ""
        print(f"{f.source} -> {f.target}: {f.uploaded} uploaded, {f.already} there already, {f.total} in all{extra}")
    total = sum(f.total for f in report.folders)
    if not report.complete:
        print(f"{args.account}: not every message reached {args.to}; run the same command again.", file=sys.stderr)
        return EXIT_FAILED
    if args.remove_local:
        n = forget_migrated(manager, args.account, args.to)
        print(f"{args.account}: all {total} messages are on {args.to}; {n} removed from this computer.")
    else:
        print(f"{args.account}: all {total} messages are on {args.to}.")
    remove = args.remove_source
    if remove is None and sys.stdin.isatty() and sys.stdout.isatty():
        print(f"Keep the POP3 account {args.account} in your config, or remove it? [K/r] ", end="", flush=True)
        answer = sys.stdin.readline()  # (input() would put the question on stderr)
        remove = answer.strip().lower() in ("r", "remove")
    if remove:
        from .config_edit import retire_account

        try:
            print(retire_account(config.path, args.account, manager.cache(args.account).path))
        except ConfigError as e:
            print(f"tui-mail: {e}", file=sys.stderr)
            return EXIT_FAILED
    else:
        print(
            f"The POP3 account {args.account} is kept; remove it from the config when you no longer need it "
            "(or run again with --remove-source)."
        )
    return EXIT_OK
