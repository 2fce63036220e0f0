"""Backup and restore of an account's cache: a consistent SQLite snapshot, checked before it replaces anything."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import MailError
from .store.cache import Cache
from .store.schema import SCHEMA_VERSION

LAST_BACKUP_META = "last_backup"


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup file holds: its schema version, when it was made, and how many messages."""

    path: Path
    schema: int
    created: int
    messages: int
    state: str = ""  # fingerprint() of the cache when it was backed up


def default_name(account: str, when: float | None = None) -> str:
    return f"{account}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when or time.time()))}.tui-mail-backup"


def backup(cache: Cache, dest: Path) -> BackupInfo:
    """Snapshot the cache with SQLite's online backup API (consistent while the UI or a sync writes), into a temp
    file beside DEST that is checked and then renamed, so DEST is either the old file or a whole backup. DEST may
    be a directory (a dated file name is chosen). Records the time in the cache (shown for POP3 accounts)."""
    if dest.is_dir():
        dest = dest / default_name(cache.account)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.unlink(missing_ok=True)
    now = int(time.time())
    try:
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            source = sqlite3.connect(cache.path, isolation_level=None, timeout=30.0)
            try:
                source.backup(target, pages=4096)
            finally:
                source.close()
            target.execute("PRAGMA journal_mode=DELETE")
            for key, value in (("backup_created", str(now)), ("backup_state", fingerprint(target))):
                target.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (key, value),
                )
        finally:
            target.close()
        info = check(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except (sqlite3.Error, OSError, MailError) as e:
        tmp.unlink(missing_ok=True)
        why = e.strerror if isinstance(e, OSError) else str(e)
        raise MailError(f"The backup of {cache.account} could not be written to {dest} ({why}).") from None
    try:  # a short wait: a long write elsewhere must not hold up a finished backup
        conn = sqlite3.connect(cache.path, isolation_level=None, timeout=2.0)
        try:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (LAST_BACKUP_META, str(now)),
            )
        finally:
            conn.close()
    except sqlite3.OperationalError:
        pass
    return BackupInfo(dest, info.schema, now, info.messages, info.state)


def check(path: Path) -> BackupInfo:
    """Integrity and schema version of a cache or backup file; MailError (one sentence) when it is not usable."""
    if not path.is_file():
        raise MailError(f"{path} does not exist.")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                raise MailError(f"{path} is damaged (SQLite integrity check: {result[0][0]}).")
            schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"messages", "folders", "meta"} <= tables:
                raise MailError(f"{path} is not a tui-mail cache.")
            messages = int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
            row = conn.execute("SELECT value FROM meta WHERE key='backup_created'").fetchone()
            created = int(row[0]) if row else int(path.stat().st_mtime)
            row = conn.execute("SELECT value FROM meta WHERE key='backup_state'").fetchone()
            state = str(row[0]) if row else ""
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise MailError(f"{path} is not a readable tui-mail cache ({e}).") from None
    return BackupInfo(path, schema, created, messages, state)


def fingerprint(conn: sqlite3.Connection) -> str:
    """A summary of the cache's user data that any change of mail, flags, queued actions or outbox alters."""
    parts = [
        conn.execute("SELECT COUNT(*), MAX(id), TOTAL(LENGTH(flags)), TOTAL(seen), TOTAL(folder_id) FROM messages"),
        conn.execute("SELECT COUNT(*), MAX(id) FROM pending_actions"),
        conn.execute("SELECT COUNT(*), MAX(id) FROM outbox"),
        conn.execute("SELECT COUNT(*), MAX(id) FROM folders"),
        conn.execute("SELECT value FROM meta WHERE key='last_sync'"),
    ]
    return repr([p.fetchone() for p in parts])


def _live_fingerprint(path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        return fingerprint(conn)
    finally:
        conn.close()


def restore(cache_path: Path, source: Path, *, force: bool = False) -> BackupInfo:
    """Replace the cache file by a checked backup. Refuses (MailError) a damaged backup, one from a newer tui-mail,
    and without force one older than the cache's schema or a cache changed since the backup was made. The replaced
    cache is kept beside it as <name>.before-restore. The caller makes sure no UI or sync uses the cache."""
    info = check(source)
    if info.schema > SCHEMA_VERSION:
        raise MailError(
            f"{source} was written by a newer tui-mail (schema {info.schema}, this one knows {SCHEMA_VERSION})."
        )
    if cache_path.exists() and not force:
        current = check(cache_path)
        if current.schema > info.schema:
            raise MailError(
                f"The cache is newer than the backup (schema {current.schema} against {info.schema}); "
                "use --force to replace it anyway."
            )
        if info.state and _live_fingerprint(cache_path) != info.state:
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
            raise MailError(
                f"The cache has changed since this backup was made ({made}); use --force to replace it anyway."
            )
    tmp = cache_path.with_name(f".{cache_path.name}.restoring")
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if cache_path.exists():
            _checkpoint(cache_path)
            os.replace(cache_path, cache_path.with_name(cache_path.name + ".before-restore"))
        for suffix in ("-wal", "-shm"):
            Path(f"{cache_path}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, cache_path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MailError(f"The cache could not be restored ({e.strerror}).") from None
    return info


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the old cache file before it is set aside, so the kept copy is whole."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error:
        pass
