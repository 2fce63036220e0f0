"""Replaying local changes on the IMAP server: pending flag changes, moves and deletes, with their bookkeeping."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ..errors import describe
from ..models import PendingAction
from .base import SyncResult
from .imap import _FolderGone, parse_uid_set

if TYPE_CHECKING:
    from .imap import ImapBackend

log = logging.getLogger(__name__)

_COPYUID = re.compile(rb"(\d+)\s+([\d:,]+)\s+([\d:,]+)")


def replay(b: ImapBackend, result: SyncResult) -> None:
    """Replay the cache's pending local changes on the server, folder by folder."""
    actions = b.cache.pending_actions()
    if not actions:
        return
    folders = {f.id: f for f in b.cache.folders()}
    groups: list[list[PendingAction]] = []
    for a in actions:
        last = groups[-1][0] if groups else None
        if last is not None and (last.kind, last.folder_id, last.args) == (a.kind, a.folder_id, a.args):
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
                for a in group:
                    b.cache.fail_action(a.id, f"The folder {folder.name} no longer exists on the server.")
                continue
            if folder.uidvalidity is not None and info.get(b"UIDVALIDITY") != folder.uidvalidity:
                skip.add(folder.id)  # the folder sync resets it and reports the dropped changes
                continue
            selected = folder.id
        uids = [a.uid for a in group if a.uid is not None]
        try:
            _apply(b, first, uids, group)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as e:
            msg = f"The server refused to {_verb(first.kind)} ({describe(e)})."
            for a in group:
                b.cache.fail_action(a.id, msg)
            result.warnings.append(msg)
            continue
        for a in group:
            b.cache.complete_action(a.id)
        result.actions_replayed += len(group)


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
            c.copy(uids, dest)
            c.add_flags(uids, ["\\Deleted"], silent=True)
            if b._has("UIDPLUS"):
                c.uid_expunge(uids)
            else:
                c.expunge()
        mapping = _copyuid(c._imap.untagged_responses.pop("COPYUID", None))
        for a in group:
            if a.message_id is None:
                continue
            try:
                if b.cache.message_location(a.message_id)[1] is not None:
                    continue  # not a placeholder any more (a replay after a crash): leave it alone
            except KeyError:
                continue
            new = mapping.get(a.uid) if a.uid is not None else None
            if new is not None:
                b.cache.assign_uid(a.message_id, new[1], new[0])
            else:
                # Unknown new UID: drop the placeholder; the folder sync brings the message back.
                b.cache.delete([a.message_id])
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
