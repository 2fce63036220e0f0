"""Moving what a POP3 account downloaded into folders of an IMAP account, resumably and never uploading twice.

Each message is confirmed by the server (APPENDUID, else a UID SEARCH by Message-ID, or found in the target
folder already) before it is recorded as migrated in the source cache (meta `migrated:<target>:<server folder>:<body hash>`), so
a run killed at any point resumes where it was: recorded messages are skipped without a server round trip, and a
message APPENDed but not recorded is found in the target folder's listing instead of being uploaded again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from .accounts import AccountManager
from .backends.base import Backend
from .errors import ConfigError, MailError
from .models import Folder, Role
from .store.cache import Cache, text_to_flags

Progress = Callable[[str, int, int], None]  # (source folder, done, total)
_FAULT_ENV = "TUI_MAIL_FAULT"  # tests: "migrate-append:N" kills this process right after the N-th APPEND


@dataclass
class FolderReport:
    """One source folder's outcome."""

    source: str
    target: str
    total: int = 0
    uploaded: int = 0
    already: int = 0  # on the server before this run (an earlier run, or the same message there anyway)
    missing: int = 0  # no full text in the cache (cannot be uploaded)


@dataclass
class MigrationReport:
    folders: list[FolderReport] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(f.uploaded + f.already == f.total for f in self.folders)


def _marker(target: str, folder: str, body_hash: str) -> str:
    """The meta key saying this message is confirmed in that server folder of the target account."""
    return f"migrated:{target}:{folder}:{body_hash}"


def source_folders(cache: Cache) -> list[Folder]:
    """The folders worth moving: every folder with messages except Trash."""
    return [f for f in cache.folders() if f.total and f.role is not Role.TRASH]


def target_leaf(folder: Folder) -> str:
    """The folder's name under the prefix: "Inbox", "Sent", "Drafts" or its own name (hierarchy kept)."""
    if folder.role is Role.INBOX:
        return "Inbox"
    return folder.name


def migrate(
    manager: AccountManager,
    source: str,
    target: str,
    prefix: str,
    progress: Progress | None = None,
) -> MigrationReport:
    """Upload every message of SOURCE's folders into PREFIX/<folder> on TARGET's IMAP server. Resumable; deletes
    nothing. Raises MailError (one sentence) for a connection that fails; what was confirmed stays recorded."""
    if manager.config.account(target).protocol != "imap":
        raise ConfigError(f"Account {target} is not an IMAP account; mail can only be moved to an IMAP server.")
    if source == target:
        raise ConfigError("The source and target accounts are the same.")
    cache = manager.cache(source)
    report = MigrationReport()

    def run(backend: Backend) -> None:
        from .backends.imap import ImapBackend
        from .backends.imap_upload import ImapUploader

        assert isinstance(backend, ImapBackend)
        uploader = ImapUploader(backend)
        done = {
            str(r[0]) for r in cache.conn.execute("SELECT key FROM meta WHERE key LIKE ?", (f"migrated:{target}:%",))
        }
        appended = 0
        limit = _fault_limit()
        for folder in source_folders(cache):
            leaf = target_leaf(folder).split(folder.delimiter or "/")
            name = uploader.folder_name(*[p for p in prefix.split("/") if p], *leaf)
            rep = FolderReport(folder.name, name)
            report.folders.append(rep)
            rows = cache.conn.execute(
                "SELECT id, flags, date, body_hash FROM messages WHERE folder_id=? ORDER BY date, id", (folder.id,)
            ).fetchall()
            rep.total = len(rows)
            todo = [r for r in rows if r[3] is not None and _marker(target, name, r[3]) not in done]
            rep.already = sum(1 for r in rows if r[3] is not None and _marker(target, name, r[3]) in done)
            rep.missing = sum(1 for r in rows if r[3] is None)
            if todo:
                uploader.ensure_folder(name)
            for n, (row_id, flags, date, body_hash) in enumerate(todo, 1):
                raw = cache.body(row_id)
                if raw is None:
                    rep.missing += 1
                    continue
                uid, fresh = uploader.upload(name, raw, text_to_flags(flags), date)
                if fresh:
                    appended += 1
                    if limit is not None and appended >= limit:
                        os.kill(os.getpid(), signal.SIGKILL)  # the worst moment: on the server, not recorded
                    rep.uploaded += 1
                else:
                    rep.already += 1
                cache.set_meta(_marker(target, name, body_hash), str(uid or ""))
                done.add(_marker(target, name, body_hash))
                if progress is not None:
                    progress(folder.name, n, len(todo))

    manager.with_server(target, run)
    return report


def _fault_limit() -> int | None:
    value = os.environ.get(_FAULT_ENV, "")
    if value.startswith("migrate-append:"):
        try:
            return int(value.split(":", 1)[1])
        except ValueError:
            return None
    return None


def forget_migrated(manager: AccountManager, source: str, target: str) -> int:
    """Delete from the source cache the messages the target server confirmed (after a complete migration, when
    the user chose not to keep them here). Returns how many went."""
    cache = manager.cache(source)
    hashes = {
        str(r[0]).rsplit(":", 1)[1]
        for r in cache.conn.execute("SELECT key FROM meta WHERE key LIKE ?", (f"migrated:{target}:%",))
    }
    ids = [r[0] for r in cache.conn.execute("SELECT id, body_hash FROM messages") if r[1] in hashes]
    if not ids:
        return 0
    cache.delete(ids)
    return len(ids)


__all__ = ["FolderReport", "MailError", "MigrationReport", "forget_migrated", "migrate"]
