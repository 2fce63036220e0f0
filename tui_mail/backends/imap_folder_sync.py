"""Syncs one IMAP folder into the cache: flags and expunges of what is cached, new envelopes newest first, bodies.

Order and cursors are chosen so that an interrupted sync resumes without refetching or re-checking what is done:
the cached messages are brought up to date first, so the folder's HIGHESTMODSEQ is true for every stored row and is
recorded before any new row lands. New envelopes then arrive newest first (a small first page, so a screen fills at
once, then bigger chunks), each chunk committed together with the UID range it completes; only the gaps between
complete ranges are searched next time. Bodies (download = "full") come last, newest first; a row without one is
what remains. Without CONDSTORE the cached part is checked with one UID SEARCH and one FETCH FLAGS over compressed
UID sets, compared with the cache in one pass.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any

import imapclient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, ProtocolError
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.imapclient import as_pairs, join_message_ids, seq_to_parenstr_upper
from imapclient.response_parser import parse_fetch_response, parse_response

from ..backends.base import ProgressCallback, SyncResult
from ..faults import fault_point
from ..models import Folder
from ..store.cache import NewMessage
from .imap import _flags, _FolderGone, _text, parse_uid_set, safe_envelope, with_arrival_date

if TYPE_CHECKING:
    from .imap import ImapBackend

log = logging.getLogger(__name__)


# What the message list needs of a new message. INTERNALDATE: the date of one whose Date header is missing or
# impossible.
ENVELOPE_ITEMS = ["BODY.PEEK[HEADER]", "FLAGS", "RFC822.SIZE", "INTERNALDATE"]
BODY_WINDOW = 5000  # rows whose bodies are planned at a time (the pipeline drains between windows)


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


def pipelined_fetch(
    c: imapclient.IMAPClient, parts: Sequence[list[int]], items: list[str]
) -> Generator[tuple[list[int], dict[int, dict[bytes, Any]]], None, None]:
    """UID FETCH items for each part, in order, with the next part's command already sent: the server reads and
    sends part n+1 while part n is parsed and stored. At most two commands are in flight. A server may answer
    pipelined commands interleaved (some of part n+1 before part n's tagged OK), so responses are pooled by UID and
    each part takes its own. If anything fails, the outstanding command is read to its end (the connection stays
    in step)."""
    imap = c._imap
    spec = seq_to_parenstr_upper(items)
    queue: deque[tuple[list[int], str]] = deque()
    pool: dict[int, dict[bytes, Any]] = {}

    def collect() -> tuple[list[int], dict[int, dict[bytes, Any]]]:
        part, tag = queue.popleft()
        typ, data = imap._command_complete("FETCH", tag)
        if typ != "OK":
            raise IMAPClientError(f"FETCH failed: {_text(data[0]) if data else typ}")
        typ, data = imap._untagged_response(typ, data, "FETCH")
        for uid, d in parse_fetch_response([x for x in data if x is not None], c.normalise_times, True).items():
            pool.setdefault(uid, {}).update(d)
        return part, {uid: pool.pop(uid) for uid in part if uid in pool}

    try:
        for part in parts:
            queue.append((part, imap._command("UID", "FETCH", join_message_ids(part), spec)))
            if len(queue) > 1:
                yield collect()
        while queue:
            yield collect()
    finally:
        while queue:  # an error (or the caller stopped early): finish what the server is still sending
            part, tag = queue.popleft()
            try:
                imap._command_complete("FETCH", tag)
                imap.untagged_responses.pop("FETCH", None)
            except Exception:
                break


def status_items(condstore: bool) -> list[str]:
    """What the cheap "anything new?" STATUS asks for."""
    return ["MESSAGES", "UIDNEXT", "UIDVALIDITY"] + (["HIGHESTMODSEQ"] if condstore else [])


def status_ahead(b: ImapBackend, folders: Sequence[Folder]) -> dict[str, dict[bytes, Any]]:
    """STATUS of every folder (an unchanged or empty one needs no SELECT then), all commands sent in one flight
    and answered in one round trip: {folder name: status}. A folder the server refuses is left out (its own
    STATUS then says why). Nothing is selected meanwhile: Dovecot answers STATUS of the selected folder from the
    session's stale view."""
    names = [f.name for f in folders]
    if len(names) < 2:
        return {}
    c = b._c
    imap = c._imap
    b._leave()
    spec = "(" + " ".join(status_items(b._condstore)) + ")"
    by_quoted = {c._normalise_folder(n): n for n in names}
    tags = [imap._command("STATUS", quoted, spec) for quoted in by_quoted]
    ok = True
    for tag in tags:
        try:
            typ, _data = imap._command_complete("STATUS", tag)
        except IMAPClientAbortError:
            raise
        except IMAPClientError:  # BAD: the remaining answers are still read, so the connection stays in step
            typ = "BAD"
        ok = ok and typ == "OK"
    out: dict[str, dict[bytes, Any]] = {}
    for line in imap.untagged_responses.pop("STATUS", []) or []:
        if line is None:
            continue
        try:
            parsed = parse_response([line])
        except ProtocolError:
            continue
        if len(parsed) < 2 or not isinstance(parsed[-1], tuple):
            continue
        raw_name = parsed[0]
        name = by_quoted.get(c._normalise_folder(raw_name if isinstance(raw_name, str) else _decode_name(c, raw_name)))
        if name is not None:
            out[name] = dict(as_pairs(parsed[-1]))
    if not ok:
        log.info("some pipelined STATUS commands failed; those folders ask again")
    return out


def _decode_name(c: imapclient.IMAPClient, raw: object) -> str:
    """A folder name as the server sent it in a STATUS answer, as imapclient names folders."""
    if isinstance(raw, bytes | bytearray):
        return decode_utf7(bytes(raw)) if c.folder_encode else bytes(raw).decode("utf-8", "replace")
    return str(raw)


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
        cached = self.cache.server_row_count(folder.id)  # the rows themselves only once the folder changed
        st = b._status_ahead.pop(folder.name, None)
        if folder.uidvalidity is None and st is not None and st.get(b"MESSAGES") == 0 and st.get(b"UIDVALIDITY"):
            # Never synced and empty on the server (a new Drafts, Junk, ...): its state without a SELECT.
            self._empty_folder(st)
            return
        if folder.uidvalidity is not None and folder.uidnext is not None:
            # Cheap path: STATUS tells whether anything changed since the last sync (asked for every folder at
            # once when the sync began; else now).
            if st is None:
                b._leave()
                try:
                    st = c.folder_status(folder.name, status_items(b._condstore))
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as e:
                    raise _FolderGone(str(e)) from None
            if (
                b._condstore
                and st.get(b"UIDVALIDITY") == folder.uidvalidity
                and st.get(b"UIDNEXT") == folder.uidnext
                and st.get(b"HIGHESTMODSEQ") == folder.highestmodseq
                and st.get(b"MESSAGES") == cached
            ):
                b._unchanged_folders += 1
                return
            if (  # any server: an empty folder that stayed empty has nothing to look at
                not cached
                and st.get(b"MESSAGES") == 0
                and st.get(b"UIDVALIDITY") == folder.uidvalidity
                and st.get(b"UIDNEXT") == folder.uidnext
            ):
                b._unchanged_folders += 1
                return
        cached_uids = self.cache.uid_map(folder.id)
        info = b._select(folder.name, readonly=True)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        uidnext = info.get(b"UIDNEXT")
        exists = int(info.get(b"EXISTS", 0))
        modseq = info.get(b"HIGHESTMODSEQ") if b._condstore else None
        cached_modseq = folder.highestmodseq
        if folder.uidvalidity is not None and folder.uidvalidity != uidvalidity:
            dropped = self.cache.reset_folder(folder.id, uidvalidity)
            result.warnings.append(
                f"The folder {folder.name} was replaced on the server (UIDVALIDITY changed); its cache was rebuilt"
                + (f" and {dropped} unsent local change(s) were dropped." if dropped else ".")
            )
            cached_uids = {}
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

        # 2. new envelopes, newest first, searched only where the complete ranges leave gaps
        ranges = self.cache.complete_ranges(folder.id)
        if on_server is None and exists and self._fetch_above(uidvalidity, ranges, uidnext, exists):
            pass  # the few new messages above the complete range came without a UID SEARCH first
        else:
            if on_server is not None:
                found = [u for u in on_server if not _inside(u, ranges)]
            elif exists:
                found = list(c.search(["UID", gaps(ranges)]))
            else:
                found = []
            missing = sorted((u for u in found if u not in cached_uids and not _inside(u, ranges)), reverse=True)
            top = max([int(uidnext) - 1 if uidnext else 0, *found])
            if missing:
                self._fetch_envelopes(uidvalidity, missing, top)
            elif top > 0 and [(1, top)] != ranges[:1]:
                self.cache.mark_complete(folder.id, 1, top)  # the search covered every gap: nothing is missing

        # 3. safety net (and the only way to see expunges with CONDSTORE but without QRESYNC)
        if cached_uids and (not removed_done or len(self.cache.uid_map(folder.id)) != exists):
            everything = set(c.search(["ALL"])) if exists else set()
            stale = [u for u in self.cache.uid_map(folder.id) if u not in everything]
            result.removed += self.cache.remove_uids(folder.id, stale)
        self.cache.set_folder_state(folder.id, uidnext=uidnext, highestmodseq=modseq)

    def _empty_folder(self, st: dict[bytes, Any]) -> None:
        """Record a never-synced folder that STATUS shows empty, as its SELECT would have: UIDVALIDITY, every UID
        below UIDNEXT complete, UIDNEXT and HIGHESTMODSEQ."""
        folder = self.folder
        uidnext = int(st.get(b"UIDNEXT") or 1)
        self.cache.store_messages(folder.id, [], uidvalidity=int(st[b"UIDVALIDITY"]))
        if uidnext > 1:
            self.cache.mark_complete(folder.id, 1, uidnext - 1)
        modseq = st.get(b"HIGHESTMODSEQ") if self.b._condstore else None
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
        fault_point("imap.after_flags")
        return removed_done, on_server

    def _fetch_above(self, uidvalidity: int, ranges: list[tuple[int, int]], uidnext: int | None, exists: int) -> bool:
        """The everyday resync: every UID from 1 to hi is done (hi = 0: an empty folder) and at most one chunk of
        messages can be new (EXISTS minus the cached rows). Their envelopes are fetched as "hi+1:*" at once, so no UID SEARCH round trip comes
        first; the range up to the highest UID seen (or UIDNEXT - 1) is complete with them. Returns whether it ran."""
        b, folder = self.b, self.folder
        if ranges:
            if len(ranges) != 1 or ranges[0][0] != 1:
                return False
            lo = ranges[0][1] + 1
        elif folder.uidvalidity == uidvalidity and folder.uidnext == 1:
            lo = 1  # an empty folder, synced before, that received mail (a first sync goes newest page first)
        else:
            return False
        new = exists - self.cache.server_row_count(folder.id)
        if not 0 < new <= b.chunk_size:
            return False
        c = b._c
        typ, data = c._imap.uid("FETCH", f"{lo}:*", seq_to_parenstr_upper(ENVELOPE_ITEMS))
        if typ != "OK":
            raise IMAPClientError(f"FETCH failed: {_text(data[0]) if data else typ}")
        fetched = parse_fetch_response([x for x in data if x is not None], c.normalise_times, True)
        fault_point("imap.after_fetch")
        uids = sorted(u for u in fetched if u >= lo)  # "lo:*" also names the highest message when all are below lo
        top = max([int(uidnext) - 1 if uidnext else 0, *uids])
        msgs = self._envelopes(uids, fetched)
        self.cache.store_messages(
            folder.id,
            msgs,
            uidvalidity=uidvalidity,
            last_uid=max(uids) if uids else None,
            complete=(lo, top) if top >= lo else None,
        )
        fault_point("imap.after_commit")
        self.result.new_messages += len(msgs)
        self._report(stage="headers", done=len(msgs), total=len(msgs), new_messages=self.result.new_messages)
        return True

    def _envelopes(self, uids: list[int], data: dict[int, dict[bytes, Any]]) -> list[NewMessage]:
        """Rows for the fetched envelopes of uids (ascending); a UID the server no longer answered is skipped."""
        msgs: list[NewMessage] = []
        for uid in uids:  # rows of equal date list in UID order, as the server has them
            d = data.get(uid)
            if d is None:
                continue  # expunged meanwhile
            raw = bytes(d.get(b"BODY[HEADER]") or b"")
            size = int(d.get(b"RFC822.SIZE", 0) or len(raw))
            msgs.append(
                NewMessage(
                    envelope=with_arrival_date(safe_envelope(raw, size), d.get(b"INTERNALDATE")),
                    uid=uid,
                    flags=_flags(d.get(b"FLAGS", ())),
                )
            )
        return msgs

    def _fetch_envelopes(self, uidvalidity: int, missing: list[int], top: int) -> None:
        """Envelopes (headers, flags, size) of the missing UIDs, given newest first; each chunk is stored with the
        UID range it completes: from just above the next missing UID below it (or 1) up to just below the
        previous chunk (or top, the highest UID the search could see)."""
        b, folder, result = self.b, self.folder, self.result
        first = missing[: b.first_page]
        parts = [first, *chunks(missing[len(first) :], b.chunk_size)] if first else []
        pos = 0
        with closing(pipelined_fetch(b._c, parts, ENVELOPE_ITEMS)) as fetched:
            for part, data in fetched:
                fault_point("imap.after_fetch")
                msgs = self._envelopes(sorted(part), data)
                hi = top if pos == 0 else missing[pos - 1] - 1
                end = pos + len(part)
                lo = missing[end] + 1 if end < len(missing) else 1
                # The range advances in the same transaction as the rows it covers.
                self.cache.store_messages(
                    folder.id, msgs, uidvalidity=uidvalidity, last_uid=max(part), complete=(lo, hi)
                )
                fault_point("imap.after_commit")
                pos = end
                result.new_messages += len(msgs)
                self._report(stage="headers", done=pos, total=len(missing), new_messages=result.new_messages)

    def fetch_bodies(self) -> None:
        """Download the bodies the folder's rows still lack, newest first, in chunks of bounded bytes."""
        b, folder, result = self.b, self.folder, self.result
        total = self.cache.count_bodies_missing(folder.id)
        if not total:
            return
        # Still selected since its envelopes were synced: no second SELECT (UIDVALIDITY cannot change meanwhile).
        info = b._selected_info if b._selected == folder.name else b._select(folder.name, readonly=True)
        if info.get(b"UIDVALIDITY") != folder.uidvalidity:
            return  # replaced meanwhile: the next sync rebuilds the folder
        c = b._c
        done = 0
        before: tuple[int, int] | None = None
        # A window of rows at a time, so memory stays bounded however big the folder is.
        while todo := self.cache.bodies_missing(folder.id, BODY_WINDOW, before):
            before = (todo[-1][3], todo[-1][0])
            ids = {uid: mid for mid, uid, _size, _date in todo}
            sizes = {uid: size for _mid, uid, size, _date in todo}
            uids = [uid for _mid, uid, _size, _date in todo]
            del todo
            parts = [p for chunk in chunks(uids, b.chunk_size) for p in split_by_size(chunk, sizes, b.full_chunk_bytes)]
            with closing(pipelined_fetch(c, parts, ["BODY.PEEK[]"])) as fetched:
                for part, data in fetched:
                    fault_point("imap.after_fetch")
                    bodies = []
                    for uid in part:
                        raw = (data.get(uid) or {}).get(b"BODY[]")
                        if raw is not None:  # else expunged meanwhile: the next sync drops the row
                            raw = bytes(raw)
                            bodies.append((ids[uid], raw, safe_envelope(raw, len(raw))))
                    del data
                    self.cache.store_bodies(bodies)
                    fault_point("imap.after_commit")
                    done += len(part)
                    self._report(stage="bodies", done=done, total=total, new_messages=result.new_messages)


def _inside(uid: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= uid <= hi for lo, hi in ranges)


def gaps(ranges: list[tuple[int, int]]) -> str:
    """The IMAP UID set of everything outside the complete ranges (ascending, non-overlapping): "5001:9499,10001:*"."""
    parts: list[str] = []
    nxt = 1
    for lo, hi in ranges:
        if lo > nxt:
            parts.append(f"{nxt}:{lo - 1}" if lo - 1 > nxt else str(nxt))
        nxt = max(nxt, hi + 1)
    parts.append(f"{nxt}:*")
    return ",".join(parts)
