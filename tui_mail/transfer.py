"""Export cache folders to Maildir/mbox and import Maildir/mbox into a cache folder (then upload it to IMAP)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .mailbox_io import MaildirWriter, MboxWriter, header_date, read_mailbox
from .models import Folder, Role
from .store.cache import Cache, NewMessage, text_to_flags

Progress = Callable[[str, int, int], None]  # (folder, done, total)
_IMPORT_CHUNK = 500


@dataclass
class TransferResult:
    """What an export or import did, per folder: written/stored, skipped as already there, and problems."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # folder -> (done, already there)
    missing: int = 0  # export: messages whose text is not downloaded
    warnings: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(d for d, _ in self.counts.values())

    @property
    def skipped(self) -> int:
        return sum(s for _, s in self.counts.values())


def mailbox_file_name(folder: Folder) -> str:
    """A file-system-safe name for a folder's mailbox inside an export directory ("INBOX.Sent" -> "INBOX.Sent")."""
    name = folder.name.replace(folder.delimiter or "/", ".") if folder.delimiter else folder.name
    name = re.sub(r"[\x00-\x1f/\\]", "_", name).strip(". ") or f"folder-{folder.id}"
    return name


def export_folders(
    cache: Cache,
    folders: Iterable[Folder],
    fmt: str,
    dest: Path,
    *,
    single: bool,
    fetch: Callable[[int], bytes | None] | None = None,
    progress: Progress | None = None,
) -> TransferResult:
    """Write every message of the folders, bytes as received, flags included. single: DEST is the one mailbox;
    else DEST is a directory with one mailbox per folder. fetch(row id) may download a body not cached yet."""
    result = TransferResult()
    for folder in folders:
        target = dest if single else dest / mailbox_file_name(folder)
        total = cache.folder(folder.id).total
        written = skipped = 0
        writer: MaildirWriter | MboxWriter = MaildirWriter(target) if fmt == "maildir" else MboxWriter(target)
        try:
            rows = cache.conn.execute(
                "SELECT m.id, m.flags, m.date, b.raw FROM messages m LEFT JOIN bodies b ON b.hash = m.body_hash "
                "WHERE m.folder_id=? ORDER BY m.date, m.id",
                (folder.id,),
            )
            for n, (row_id, flags, date, raw) in enumerate(rows, 1):
                if raw is None and fetch is not None:
                    raw = fetch(row_id)
                if raw is None:
                    result.missing += 1
                    continue
                if writer.add(bytes(raw), text_to_flags(flags), date or header_date(bytes(raw))):
                    written += 1
                else:
                    skipped += 1
                if progress is not None and n % 200 == 0:
                    progress(folder.name, n, total)
        finally:
            writer.close()
        if progress is not None:
            progress(folder.name, total, total)
        result.counts[folder.name] = (written, skipped)
    if result.missing:
        result.warnings.append(
            f"{result.missing} message(s) were skipped because only their headers are downloaded; "
            'sync with download = "full" (or open them) first.'
        )
    return result


def import_mailbox(cache: Cache, folder_id: int, source: Path, progress: Progress | None = None) -> TransferResult:
    """Store every message of a Maildir or mbox into the folder through Cache.store_messages (search index and
    conversations stay current), with its flags. A message whose exact bytes the folder holds already is skipped,
    so an interrupted import can be run again. Raises MailboxFormatError for a SOURCE that is neither."""
    from .mime import parse_envelope

    folder = cache.folder(folder_id)
    result = TransferResult()
    stored = skipped = 0
    batch: list[NewMessage] = []
    seen_here: set[str] = set()

    def flush() -> None:
        nonlocal batch
        if batch:
            cache.store_messages(folder_id, batch)
            batch = []

    for n, msg in enumerate(read_mailbox(source), 1):
        digest = hashlib.sha256(msg.raw).hexdigest()  # the cache's body key
        there = digest in seen_here or any(  # by the body index: the folder's own index would scan the folder
            r[0] == folder_id for r in cache.conn.execute("SELECT folder_id FROM messages WHERE body_hash=?", (digest,))
        )
        if there:
            skipped += 1
            continue
        seen_here.add(digest)
        try:
            env = parse_envelope(msg.raw)
        except Exception:  # a message the parser chokes on is still imported, with a plain row
            from .models import Envelope

            env = Envelope(subject="(message could not be read)", size=len(msg.raw))
        batch.append(NewMessage(env, flags=msg.flags, raw=msg.raw))
        stored += 1
        if len(batch) >= _IMPORT_CHUNK:
            flush()
            if progress is not None:
                progress(folder.name, n, 0)
    flush()
    result.counts[folder.name] = (stored, skipped)
    return result


def unplaced_rows(cache: Cache, folder_id: int) -> list[tuple[int, int]]:
    """(row id, date) of the folder's messages that exist only in the cache (imported, not uploaded yet)."""
    return [
        (r[0], r[1])
        for r in cache.conn.execute(
            "SELECT m.id, m.date FROM messages m WHERE m.folder_id=? AND m.uid IS NULL AND m.pop_uidl IS NULL "
            "AND m.body_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pending_actions p WHERE p.message_id = m.id) "
            "ORDER BY m.date, m.id",
            (folder_id,),
        )
    ]


def upload_imported(
    cache: Cache, folder: Folder, uploader: object, progress: Progress | None = None
) -> tuple[int, int]:
    """APPEND the folder's cache-only messages to its server folder (never twice: see ImapUploader); each row
    takes its server UID once the server confirmed it. Returns (uploaded, found on the server already)."""
    from .backends.imap_upload import ImapUploader
    from .store.local_copies import place_uploaded

    assert isinstance(uploader, ImapUploader)
    rows = unplaced_rows(cache, folder.id)
    uploaded = already = 0
    for n, (row_id, date) in enumerate(rows, 1):
        raw = cache.body(row_id)
        row = cache.message(row_id)
        if raw is None or row is None:
            continue
        uid, appended = uploader.upload(folder.name, raw, row.flags, date)
        place_uploaded(cache, row_id, folder.id, uid, uploader.uidvalidity(folder.name))
        uploaded += appended
        already += not appended
        if progress is not None:
            progress(folder.name, n, len(rows))
    return uploaded, already


def import_target(cache: Cache, name: str) -> Folder | None:
    """The cache folder NAME refers to (as the user sees it: "Sent" finds "INBOX.Sent"), or None."""
    found = cache.folder_by_name(name)
    if found is not None:
        return found
    for f in cache.folders():
        prefix = "INBOX" + f.delimiter
        if f.name.upper().startswith(prefix) and f.name[len(prefix) :] == name.replace("/", f.delimiter):
            return f
    if name.lower() == "inbox":
        return cache.folder_by_role(Role.INBOX)
    return None


def upload_pending_imports(backend: object, cache: Cache) -> list[str]:
    """During an IMAP sync: upload what an interrupted `import` left in server folders of the cache (rows with no
    UID yet), like any other queued local change. Returns warnings for the user (a refused upload)."""
    from .backends.imap_upload import ImapUploader
    from .errors import ProtocolError

    candidates = cache.conn.execute(
        "SELECT id FROM folders f WHERE local_only=0 AND role NOT IN (?, ?) AND EXISTS (SELECT 1 FROM messages m "
        "WHERE m.folder_id=f.id AND m.uid IS NULL AND m.pop_uidl IS NULL AND m.body_hash IS NOT NULL)",
        (Role.SENT.value, Role.DRAFTS.value),
    ).fetchall()  # one index probe per folder (messages_by_uid), cheap enough for every sync
    folders = [cache.folder(r[0]) for r in candidates if unplaced_rows(cache, r[0])]
    if not folders:
        return []
    uploader = ImapUploader(backend)  # type: ignore[arg-type]
    warnings: list[str] = []
    for folder in folders:
        try:
            upload_imported(cache, folder, uploader)
        except ProtocolError as e:
            warnings.append(f"Imported messages in {folder.name} wait on this computer: {e}")
    return warnings
