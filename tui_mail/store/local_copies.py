"""Messages that exist only in the cache (no server UID): kept when their folder goes, found and placed for upload.

A Sent copy or a draft that could not be APPENDed lives in the cache without a UID until the sync uploads it.
When the server folder it sits in disappears, its rows move to a local-only folder ("Local/<name>") instead of
being deleted with the folder; after an upload the row takes its server UID (or goes, if the server copy is
cached already), so the message is in the cache once.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from ..models import Role
from .cache import Cache, text_to_flags

LOCAL_PREFIX = "Local/"

# A row with no UID that a queued action refers to is a move placeholder (the server still has the message in
# its source folder), not a local-only copy: the replay owns it.
_ONLY_HERE = (
    "m.uid IS NULL AND m.pop_uidl IS NULL AND NOT EXISTS (SELECT 1 FROM pending_actions p WHERE p.message_id = m.id)"
)


@dataclass(frozen=True, slots=True)
class LocalCopy:
    """A message kept only in the cache, waiting to be uploaded to the server folder of its role."""

    id: int
    folder_id: int
    message_id: str  # the Message-ID header ("" when it has none)
    flags: frozenset[str]
    raw: bytes


def rescue_rows(c: sqlite3.Connection, folder_id: int) -> tuple[str, int] | None:
    """Inside the caller's transaction: move the folder's rows without a server UID to a local-only folder that
    survives ("Local/<name>", keeping a Sent/Drafts role so the copies are still uploaded). Returns (that
    folder's name, how many rows moved), or None when there was nothing to keep."""
    row = c.execute("SELECT name, role FROM folders WHERE id=?", (folder_id,)).fetchone()
    if row is None:
        return None
    n = c.execute("SELECT COUNT(*) FROM messages WHERE folder_id=? AND uid IS NULL", (folder_id,)).fetchone()[0]
    if not n:
        return None
    name, role = str(row[0]), str(row[1])
    keep_role = role if role in (Role.SENT.value, Role.DRAFTS.value) else Role.NONE.value
    target = LOCAL_PREFIX + name
    suffix = 1
    while True:
        existing = c.execute("SELECT id, local_only FROM folders WHERE name=?", (target,)).fetchone()
        if existing is None or existing[1]:
            break
        suffix += 1  # a server folder of that name: never mix local rows into it
        target = f"{LOCAL_PREFIX}{name} ({suffix})"
    if existing is None:
        cur = c.execute(
            "INSERT INTO folders(name, delimiter, role, local_only) VALUES (?, '/', ?, 1)", (target, keep_role)
        )
        target_id = int(cur.lastrowid or 0)
    else:
        target_id = int(existing[0])
    c.execute("UPDATE messages SET folder_id=? WHERE folder_id=? AND uid IS NULL", (target_id, folder_id))
    return target, int(n)


def add_note(cache: Cache, kind: str, text: str) -> None:
    """Something the user must be told (the notes table), e.g. where kept messages went."""
    with cache.transaction() as c:
        c.execute("INSERT INTO notes(created, kind, text) VALUES (?, ?, ?)", (int(time.time()), kind, text))


def local_copies(cache: Cache, role: Role) -> list[LocalCopy]:
    """Messages of folders with this role that exist only in the cache and have their full text, oldest first."""
    rows = cache.conn.execute(
        "SELECT m.id, m.folder_id, m.message_id, m.flags, b.raw FROM messages m "
        "JOIN folders f ON f.id = m.folder_id JOIN bodies b ON b.hash = m.body_hash "
        f"WHERE f.role=? AND {_ONLY_HERE} ORDER BY m.date, m.id",
        (role.value,),
    ).fetchall()
    return [LocalCopy(r[0], r[1], r[2] or "", text_to_flags(r[3]), bytes(r[4])) for r in rows]


def place_uploaded(cache: Cache, row_id: int, folder_id: int, uid: int | None, uidvalidity: int | None) -> None:
    """A local copy is on the server now: the row becomes the server message (folder, UID) when the UID is known
    and not cached yet; otherwise it goes, and the folder sync brings the server's copy (never two rows)."""
    with cache.transaction() as c:
        row = c.execute("SELECT body_hash FROM messages WHERE id=?", (row_id,)).fetchone()
        if row is None:
            return
        validity = c.execute("SELECT uidvalidity FROM folders WHERE id=?", (folder_id,)).fetchone()
        usable = (
            uid is not None
            and uidvalidity is not None
            and validity is not None
            and validity[0] in (None, uidvalidity)
            and c.execute(
                "SELECT 1 FROM messages WHERE folder_id=? AND uid=? AND uidvalidity=?", (folder_id, uid, uidvalidity)
            ).fetchone()
            is None
        )
        if usable:
            c.execute(
                "UPDATE messages SET folder_id=?, uid=?, uidvalidity=? WHERE id=?",
                (folder_id, uid, uidvalidity, row_id),
            )
            return
        c.execute("DELETE FROM messages WHERE id=?", (row_id,))
        if row[0]:
            c.execute(
                "DELETE FROM bodies WHERE hash=? AND NOT EXISTS (SELECT 1 FROM messages WHERE body_hash=?)",
                (row[0], row[0]),
            )


def drop_if_empty_local(cache: Cache, folder_id: int) -> None:
    """Remove a local-only folder of an IMAP account once its copies are all on the server."""
    with cache.transaction() as c:
        c.execute(
            "DELETE FROM folders WHERE id=? AND local_only=1 AND NOT EXISTS (SELECT 1 FROM messages WHERE folder_id=?)",
            (folder_id, folder_id),
        )
