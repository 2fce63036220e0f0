"""Syncs one IMAP folder into the cache: flags and expunges of what is cached (compared in bulk), then new mail.

Order and cursors are chosen so that an interrupted sync resumes without refetching or re-checking what is done:
the cached messages are brought up to date first, so the folder's HIGHESTMODSEQ is true for every stored row and is
recorded before any new row lands; new messages then arrive in chunks, each committed together with the cursor
that covers it. Without CONDSTORE the cached part is checked with one UID SEARCH and one FETCH FLAGS over
compressed UID sets, compared with the cache in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ..backends.base import ProgressCallback, SyncResult
from ..models import Folder
from ..store.cache import NewMessage
from .imap import _flags, _FolderGone, _text, parse_uid_set, safe_envelope

if TYPE_CHECKING:
    from .imap import ImapBackend


def chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    """items cut into lists of at most size."""
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def split_by_size(uids: list[int], sizes: dict[int, int], limit: int) -> list[list[int]]:
    """uids cut into runs whose summed sizes stay under limit (a run holds at least one UID)."""
    out: list[list[int]] = []
    cur: list[int] = []
    total = 0
    for u in uids:
        s = sizes.get(u, 0)
        if cur and total + s > limit:
            out.append(cur)
            cur, total = [], 0
        cur.append(u)
        total += s
    if cur:
        out.append(cur)
    return out


class FolderSync:
    """One folder's sync on the backend's (connected) sync connection."""

    def __init__(
        self, backend: ImapBackend, folder: Folder, result: SyncResult, progress: ProgressCallback | None
    ) -> None:
        self.b = backend
        self.cache = backend.cache
        self.folder = folder
        self.result = result
        self.progress = progress

    def run(self) -> None:
        b, folder, result = self.b, self.folder, self.result
        c = b._c
        cached_uids = self.cache.uid_map(folder.id)
        if folder.uidvalidity is not None and folder.uidnext is not None:
            b._leave()
            # Cheap path: STATUS tells whether anything changed since the last sync.
            what = ["MESSAGES", "UIDNEXT", "UIDVALIDITY"] + (["HIGHESTMODSEQ"] if b._condstore else [])
            try:
                st = c.folder_status(folder.name, what)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                raise _FolderGone(str(e)) from None
            if (
                b._condstore
                and st.get(b"UIDVALIDITY") == folder.uidvalidity
                and st.get(b"UIDNEXT") == folder.uidnext
                and st.get(b"HIGHESTMODSEQ") == folder.highestmodseq
                and st.get(b"MESSAGES") == len(cached_uids)
            ):
                return
        info = b._select(folder.name, readonly=True)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        uidnext = info.get(b"UIDNEXT")
        exists = int(info.get(b"EXISTS", 0))
        modseq = info.get(b"HIGHESTMODSEQ") if b._condstore else None
        last_uid = folder.last_uid
        cached_modseq = folder.highestmodseq
        if folder.uidvalidity is not None and folder.uidvalidity != uidvalidity:
            dropped = self.cache.reset_folder(folder.id, uidvalidity)
            result.warnings.append(
                f"The folder {folder.name} was replaced on the server (UIDVALIDITY changed); its cache was rebuilt"
                + (f" and {dropped} unsent local change(s) were dropped." if dropped else ".")
            )
            cached_uids = {}
            last_uid = 0
            cached_modseq = None
        if folder.uidvalidity != uidvalidity:
            self.cache.store_messages(folder.id, [], uidvalidity=uidvalidity)  # remember it even when empty

        # 1. flags and expunges of the messages cached before this sync
        removed_done = False
        on_server: set[int] | None = None
        if cached_uids:
            self._report(stage="flags")
            removed_done, on_server = self._update_known(sorted(cached_uids), cached_modseq, modseq, exists)
        elif modseq is not None:
            # Nothing cached: the modseq is true for every row this sync stores (they are fetched after SELECT).
            self.cache.set_folder_state(folder.id, highestmodseq=modseq)

        # 2. new messages
        if on_server is not None:
            new_uids = sorted(u for u in on_server if u > last_uid and u not in cached_uids)
        elif exists:
            found = c.search(["UID", f"{last_uid + 1}:*"])
            new_uids = sorted(u for u in found if u > last_uid and u not in cached_uids)
        else:
            new_uids = []
        if new_uids:
            self._fetch_new(uidvalidity, new_uids)

        # 3. safety net (and the only way to see expunges with CONDSTORE but without QRESYNC)
        if cached_uids and (not removed_done or len(self.cache.uid_map(folder.id)) != exists):
            everything = set(c.search(["ALL"])) if exists else set()
            stale = [u for u in self.cache.uid_map(folder.id) if u not in everything]
            result.removed += self.cache.remove_uids(folder.id, stale)
        self.cache.set_folder_state(folder.id, uidnext=uidnext, highestmodseq=modseq)

    def _report(self, **kw: Any) -> None:
        self.b._report(self.progress, folder=self.folder.name, **kw)

    def _update_known(
        self, uids: list[int], cached_modseq: int | None, modseq: int | None, exists: int
    ) -> tuple[bool, set[int] | None]:
        """Bring the flags of the cached UIDs up to date and drop what the server expunged.
        Returns (expunges fully handled, the server's UIDs when a UID SEARCH ALL was done)."""
        b, folder, result = self.b, self.folder, self.result
        c = b._c
        changed: dict[int, frozenset[str]] = {}
        removed_done = False
        on_server: set[int] | None = None
        if b._condstore and cached_modseq is not None and modseq is not None:
            if modseq != cached_modseq:
                modifiers = [f"CHANGEDSINCE {cached_modseq}"] + (["VANISHED"] if b._qresync else [])
                c._imap.untagged_responses.pop("VANISHED", None)
                for uid, data in b._fetch_flags(uids, modifiers).items():
                    if b"FLAGS" in data:
                        changed[uid] = _flags(data[b"FLAGS"])
                if b._qresync:
                    gone: set[int] = set()
                    for line in c._imap.untagged_responses.pop("VANISHED", []) or []:
                        text = _text(line).replace("(EARLIER)", "").strip()
                        gone.update(parse_uid_set(text))
                    result.removed += self.cache.remove_uids(folder.id, sorted(gone & set(uids)))
                    removed_done = True
            else:
                # Unchanged HIGHESTMODSEQ: no flag changes, and on a QRESYNC server no expunges either.
                removed_done = b._has("QRESYNC")
        else:
            # No CONDSTORE (or no modseq recorded yet): one UID SEARCH for what still exists, one FETCH FLAGS over
            # compressed sets of those UIDs, both compared with the cache in bulk.
            on_server = set(c.search(["ALL"])) if exists else set()
            present = [u for u in uids if u in on_server]
            returned: set[int] = set()
            for uid, data in b._fetch_flags(present).items() if present else ():
                if b"FLAGS" in data:
                    changed[uid] = _flags(data[b"FLAGS"])
                    returned.add(uid)
            result.removed += self.cache.remove_uids(folder.id, [u for u in uids if u not in returned])
            removed_done = True
        result.flag_changes += self.cache.apply_server_flags(folder.id, changed, highestmodseq=modseq)
        return removed_done, on_server

    def _fetch_new(self, uidvalidity: int, uids: list[int]) -> None:
        b, folder, result = self.b, self.folder, self.result
        c = b._c
        full = b.account.download == "full"
        done = 0
        sizes: dict[int, int] = {}
        if full:
            # One round trip for every new message's size, so full downloads are cut into chunks of bounded bytes.
            sizes = {u: int(d.get(b"RFC822.SIZE", 0)) for u, d in b._fetch_flags(uids, items="(RFC822.SIZE)").items()}
        for chunk in chunks(uids, b.chunk_size):
            parts = split_by_size(chunk, sizes, b.full_chunk_bytes) if full else [chunk]
            for part in parts:
                items = (
                    ["BODY.PEEK[]", "FLAGS", "RFC822.SIZE"] if full else ["BODY.PEEK[HEADER]", "FLAGS", "RFC822.SIZE"]
                )
                data = c.fetch(part, items)
                msgs: list[NewMessage] = []
                for uid in part:
                    d = data.get(uid)
                    if d is None:
                        continue  # expunged meanwhile
                    raw = d.get(b"BODY[]") if full else d.get(b"BODY[HEADER]")
                    if raw is None:
                        raw = b""
                    size = int(d.get(b"RFC822.SIZE", 0) or len(raw))
                    msgs.append(
                        NewMessage(
                            envelope=safe_envelope(bytes(raw), size),
                            uid=uid,
                            flags=_flags(d.get(b"FLAGS", ())),
                            raw=bytes(raw) if full else None,
                        )
                    )
                # The cursor advances in the same transaction as the data it covers.
                self.cache.store_messages(folder.id, msgs, uidvalidity=uidvalidity, last_uid=max(part))
                done += len(part)
                result.new_messages += len(msgs)
                self._report(stage="bodies" if full else "headers", done=done, total=len(uids),
                             new_messages=result.new_messages)  # fmt: skip
