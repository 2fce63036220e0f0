"""Replaying local changes on the IMAP server: pending flag changes, moves and deletes, with their bookkeeping."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ..errors import describe
from ..faults import fault_point
from ..models import PendingAction
from ..store.local_changes import replay_owner
from .base import SyncResult
from .imap import _FolderGone, _text, parse_uid_set

if TYPE_CHECKING:
    from .imap import ImapBackend

log = logging.getLogger(__name__)

_COPYUID = re.compile(rb"(\d+)\s+([\d:,]+)\s+([\d:,]+)")
_RESPONSE_CODE = re.compile(r"\[([A-Z][A-Z-]*)(?:[\] ])")
# Refused for good (RFC 5530 codes): never retried, the cache is put back as the server has it.
PERMANENT = frozenset({"TRYCREATE", "NONEXISTENT", "EXPUNGEISSUED", "CANNOT"})
_PER_MESSAGE = frozenset({"EXPUNGEISSUED"})
_GONE = frozenset({"EXPUNGEISSUED", "NONEXISTENT"})


def replay(b: ImapBackend, result: SyncResult) -> None:
    """Replay the cache's pending local changes on the server, folder by folder.

    Only what this replay claimed is sent (another replay of the same cache gets nothing twice); whatever is left
    claimed when it ends early (an error, a dropped connection) goes back to the queue."""
    with replay_owner() as owner:
        actions = b.cache.claim_actions(owner)
        if not actions:
            return
        fault_point("imap.replay_start")
        try:
            _replay_claimed(b, actions, result)
        finally:
            b.cache.release_claims(owner)


def _group_key(a: PendingAction) -> tuple[object, ...]:
    args = a.args
    return (a.kind, a.folder_id, repr(args.get("add")), repr(args.get("remove")), args.get("dest"))


def _replay_claimed(b: ImapBackend, actions: list[PendingAction], result: SyncResult) -> None:
    folders = {f.id: f for f in b.cache.folders()}
    groups: list[list[PendingAction]] = []
    for a in actions:
        if groups and _group_key(groups[-1][0]) == _group_key(a):
            groups[-1].append(a)
        else:
            groups.append([a])
    selected: int | None = None
    skip: set[int] = set()
    for group in groups:
        first = group[0]
        folder = folders.get(first.folder_id)
        if folder is None or first.folder_id in skip:
            continue
        if selected != folder.id:
            selected = None
            try:
                info = b._select(folder.name, readonly=False)
            except _FolderGone:
                # The source folder is gone on the server, and its messages with it.
                for a in group:
                    b.cache.refuse_action(a.id, f"the folder {folder.name} no longer exists on the server")
                continue
            if folder.uidvalidity is not None and info.get(b"UIDVALIDITY") != folder.uidvalidity:
                skip.add(folder.id)  # the folder sync resets it and reports the dropped changes
                continue
            selected = folder.id
        _replay_group(b, group, result)


def _replay_group(b: ImapBackend, group: list[PendingAction], result: SyncResult) -> None:
    first = group[0]
    uids = [a.uid for a in group if a.uid is not None]
    try:
        _apply(b, first, uids, group)
    except (IMAPClientAbortError, OSError):
        # The connection dropped with this group on the wire: counted, so an action that keeps killing the
        # connection is given up after MAX_ATTEMPTS instead of being retried forever.
        for a in group:
            b.cache.fail_action(a.id, "the connection dropped while it was being sent")
        raise
    except IMAPClientError as e:
        code = response_code(e)
        if code in _PER_MESSAGE and len(group) > 1:
            for a in group:  # one of them is gone: the others may still go through
                _replay_group(b, [a], result)
            return
        if first.kind == "delete" and code in _GONE:
            for a in group:  # what the user wanted has happened already
                b.cache.complete_action(a.id)
            return
        reason = _reason(first, code, e)
        if code in PERMANENT:
            for a in group:
                b.cache.refuse_action(a.id, reason)
            result.warnings.append(f"The server refused to {_verb(first.kind)}: {reason}.")
            return
        gave_up = False
        for a in group:
            gave_up = b.cache.fail_action(a.id, reason) or gave_up
        if gave_up:
            result.warnings.append(f"The server refused to {_verb(first.kind)} again and again: {reason}.")
        else:
            log.info("will retry %s: %s", first.kind, reason)
        return
    for a in group:
        b.cache.complete_action(a.id)
    result.actions_replayed += len(group)
    fault_point("imap.replayed")


def response_code(e: BaseException) -> str:
    """The IMAP response code of a refused command ("TRYCREATE", "NONEXISTENT", ...), or "" when it has none."""
    m = _RESPONSE_CODE.search(str(e))
    return m.group(1).upper() if m else ""


def _reason(first: PendingAction, code: str, e: BaseException) -> str:
    """Why the server refused, in words a user understands (the code in brackets for the curious)."""
    dest = str(first.args.get("dest", ""))
    words = {
        "TRYCREATE": f"the folder {dest} does not exist on the server any more",
        "NONEXISTENT": f"the folder {dest} does not exist on the server any more"
        if first.kind == "move"
        else "the message no longer exists on the server",
        "EXPUNGEISSUED": "the message was deleted on the server meanwhile",
        "CANNOT": "the server cannot do this",
    }.get(code)
    detail = describe(e)
    return f"{words} [{code}]" if words else detail


def _apply(b: ImapBackend, first: PendingAction, uids: list[int], group: list[PendingAction]) -> None:
    c = b._c
    if not uids:
        return
    if first.kind == "flags":
        add = [str(f) for f in first.args.get("add", [])]  # type: ignore[attr-defined]
        remove = [str(f) for f in first.args.get("remove", [])]  # type: ignore[attr-defined]
        if add:
            c.add_flags(uids, add, silent=True)
        if remove:
            c.remove_flags(uids, remove, silent=True)
    elif first.kind == "move":
        dest = str(first.args["dest"])
        c._imap.untagged_responses.pop("COPYUID", None)
        if b.use_move and b._has("MOVE"):
            c.move(uids, dest)
        else:
            todo = uids
            if any(a.attempts for a in group):
                # A retry: a source already marked \Deleted by us was copied before the connection dropped (we mark
                # only after a successful COPY); copying it again would double it in the destination.
                flags = c.get_flags(uids)
                todo = [u for u in uids if "\\deleted" not in {_text(f).lower() for f in flags.get(u, ())}]
            if todo:
                c.copy(todo, dest)
            c.add_flags(uids, ["\\Deleted"], silent=True)
            if b._has("UIDPLUS"):
                c.uid_expunge(uids)
            else:
                c.expunge()
        fault_point("imap.after_move")
        mapping = _copyuid(c._imap.untagged_responses.pop("COPYUID", None))
        for a in group:
            # Check and write in one cache transaction (a separate check let another writer slip in between, and
            # dropping the "placeholder" through Cache.delete then queued a real delete of the moved message).
            new = mapping.get(a.uid) if a.uid is not None else None
            b.cache.settle_move(a.id, new[1] if new else None, new[0] if new else None)
    elif first.kind == "delete":
        c.add_flags(uids, ["\\Deleted"], silent=True)
        if b._has("UIDPLUS"):
            c.uid_expunge(uids)
        else:
            c.expunge()
    else:
        log.warning("unknown pending action kind %r", first.kind)


def _copyuid(responses: list[Any] | None) -> dict[int, tuple[int, int]]:
    """COPYUID response codes -> {old uid: (uidvalidity, new uid)}."""
    out: dict[int, tuple[int, int]] = {}
    for r in responses or []:
        m = _COPYUID.search(r if isinstance(r, bytes) else str(r).encode())
        if not m:
            continue
        validity = int(m.group(1))
        old = parse_uid_set(m.group(2).decode())
        new = parse_uid_set(m.group(3).decode())
        for a, b in zip(old, new, strict=False):
            out[a] = (validity, b)
    return out


def _verb(kind: str) -> str:
    return {"flags": "change flags", "move": "move messages", "delete": "delete messages"}.get(kind, kind)
