"""IMAP server-side search: run a query's criteria with UID SEARCH per folder, store the envelopes of hits the
cache does not hold yet (so they can be listed and opened), and return the hits as cache row ids."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ..errors import describe
from ..models import Folder
from ..search.imap_criteria import Criteria
from ..store.cache import NewMessage

if TYPE_CHECKING:
    from .imap import ImapBackend

log = logging.getLogger(__name__)

MAX_HITS_PER_FOLDER = 5_000  # newest first; a query matching more than this is too broad to download envelopes for
ENVELOPE_CHUNK = 200


@dataclass
class ServerHits:
    message_ids: list[int] = field(default_factory=list)  # cache rows, hits already cached and fetched now
    fetched: int = 0  # envelopes downloaded because they were not in the cache yet
    notes: list[str] = field(default_factory=list)


def server_search(backend: ImapBackend, criteria: Criteria, folders: Sequence[Folder]) -> ServerHits:
    """UID SEARCH (CHARSET UTF-8) in each folder; hits not cached get their headers fetched and stored."""
    from .imap import _flags, safe_envelope  # the backend's own helpers

    hits = ServerHits()
    cache = backend.cache

    def run() -> None:
        backend.connect()
        for folder in folders:
            if folder.local_only:
                continue
            try:
                info = backend._select(folder.name, readonly=True)
            except Exception as e:  # _FolderGone and friends: one folder's problem
                if isinstance(e, IMAPClientAbortError):
                    raise
                hits.notes.append(f"The folder {folder.name} could not be searched on the server.")
                continue
            uidvalidity = int(info.get(b"UIDVALIDITY", 0))
            try:
                uids = sorted(backend._c.search(criteria.items, charset="UTF-8"), reverse=True)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                hits.notes.append(f"The server could not search {folder.name} ({describe(e)}).")
                continue
            if len(uids) > MAX_HITS_PER_FOLDER:
                hits.notes.append(f"{len(uids):,} hits in {folder.name} on the server; only the newest are listed.")
                uids = uids[:MAX_HITS_PER_FOLDER]
            if folder.uidvalidity is not None and folder.uidvalidity != uidvalidity:
                hits.notes.append(f"{folder.name} changed on the server; sync before searching it there.")
                continue
            known = cache.uid_map(folder.id)
            missing = [u for u in uids if u not in known]
            for i in range(0, len(missing), ENVELOPE_CHUNK):
                part = missing[i : i + ENVELOPE_CHUNK]
                data = backend._c.fetch(part, ["BODY.PEEK[HEADER]", "FLAGS", "RFC822.SIZE"])
                msgs = []
                for uid in part:
                    d = data.get(uid)
                    if d is None:
                        continue
                    raw = bytes(d.get(b"BODY[HEADER]") or b"")
                    size = int(d.get(b"RFC822.SIZE", 0) or len(raw))
                    msgs.append(NewMessage(safe_envelope(raw, size), uid=uid, flags=_flags(d.get(b"FLAGS", ()))))
                # No cursor moves: these rows fill gaps below the folder's sync position, which the sync skips.
                cache.store_messages(folder.id, msgs, uidvalidity=uidvalidity)
                hits.fetched += len(msgs)
            known = cache.uid_map(folder.id)
            hits.message_ids.extend(known[u] for u in uids if u in known)

    backend._guard(run)
    return hits
