"""The first screen of a never-synced account: the newest page of INBOX, fetched before anything else.

A person opening a new account waits for exactly this page, so it needs no folder list, no namespace and no UID
SEARCH of the whole folder: EXAMINE INBOX, then one FETCH of the last `first_page` messages by sequence number
(`n:*`, the highest UIDs), stored together with the UID range it completes. The regular folder sync then finds those
rows cached and fetches only the gaps below them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_fetch_response

from ..models import Role
from ..store.cache import NewMessage
from .imap import _flags, _text, safe_envelope, with_arrival_date

if TYPE_CHECKING:
    from .imap import ImapBackend

ITEMS = "(UID BODY.PEEK[HEADER] FLAGS RFC822.SIZE INTERNALDATE)"


def fetch_first_page(backend: ImapBackend, name: str = "INBOX") -> int:
    """Store the newest page of the folder when it was never synced; returns how many rows were stored (0: it was
    synced before, or it is empty). Must run on the backend's sync connection, under the account's lock."""
    cache = backend.cache
    folder = cache.folder_by_name(name)
    if folder is not None and folder.uidvalidity is not None:
        return 0
    info = backend._select(name, readonly=True)
    exists = int(info.get(b"EXISTS", 0) or 0)
    uidvalidity = int(info.get(b"UIDVALIDITY", 0) or 0)
    if not exists or not uidvalidity:
        return 0
    c = backend._c
    first = max(1, exists - backend.first_page + 1)
    typ, data = c._imap.fetch(f"{first}:*", ITEMS)  # sequence numbers: the last messages are the newest arrivals
    if typ != "OK":
        raise IMAPClientError(f"FETCH failed: {_text(data[0]) if data else typ}")
    fetched: dict[int, dict[bytes, Any]] = parse_fetch_response(
        [x for x in data if x is not None], c.normalise_times, True
    )
    msgs = []
    uids = sorted(u for u in fetched if isinstance(u, int))
    for uid in uids:
        d = fetched[uid]
        raw = bytes(d.get(b"BODY[HEADER]") or b"")
        size = int(d.get(b"RFC822.SIZE", 0) or len(raw))
        envelope = with_arrival_date(safe_envelope(raw, size), d.get(b"INTERNALDATE"))
        msgs.append(NewMessage(envelope=envelope, uid=uid, flags=_flags(d.get(b"FLAGS", ()))))
    if not uids:
        return 0
    lo, top = uids[0], max(uids[-1], int(info.get(b"UIDNEXT") or 0) - 1)
    # The folder list (LIST) comes later and fixes the delimiter; INBOX is INBOX on every server.
    folder_id = folder.id if folder is not None else cache.ensure_folder(name, "/", Role.INBOX)
    modseq = info.get(b"HIGHESTMODSEQ") if backend._condstore else None
    # Every UID from the page's lowest to the top is now cached (or does not exist): one transaction.
    cache.store_messages(
        folder_id,
        msgs,
        uidvalidity=uidvalidity,
        last_uid=uids[-1],
        highestmodseq=int(modseq) if modseq is not None else None,
        complete=(lo, top),
    )
    return len(msgs)
