"""Keeping the full-text index filled: turn cached messages (envelope + body when local) into FTS5 documents.

Runs in the background (after a sync, from `tui-mail reindex`), in batches: the slow part (reading the body's text,
mime/indextext.py) happens outside any transaction, then each batch's documents are written in one transaction that
also marks the rows indexed — guarded so that a row whose body changed meanwhile is left for the next pass. A crash
anywhere loses at most the batches in flight and never leaves the index disagreeing with the messages table.

A large backlog (an upgraded cache, `reindex`) reads bodies in helper processes (their own read connections, so
neither the bodies nor the Python work cross into this process) while this one writes the previous batch: the
build runs on two cores, and the UI process holding the indexing thread keeps its interpreter for the UI.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass

from .cache import Cache

log = logging.getLogger(__name__)

BATCH = 500  # documents per transaction for a sync's new mail
BULK_BATCH = 2_000  # per transaction when filling a large backlog: fewer, larger FTS5 segments to merge later
PARALLEL_FROM = 2_000  # messages waiting: from here on, bodies are read by helper processes
FTS_HASHSIZE = 16 * 1024 * 1024  # bytes of postings FTS5 gathers in memory before it writes a segment (default 1 MB)
BUILD_CACHE_KIB = 64 * 1024  # page cache of the indexing connection while a large backlog is filled (default 2 MB)
_HASHES_PER_QUERY = 500  # bound parameters per body read

Texts = dict[str, tuple[str, str]]  # body hash -> (body text, attachment file names)


@dataclass(frozen=True, slots=True)
class Document:
    message_id: int
    body_hash: str | None
    subject: str
    sender: str
    rcpt_to: str
    rcpt_cc: str
    body: str
    filenames: str


def backlog(cache: Cache) -> int:
    """How many messages wait to be indexed."""
    return int(cache.conn.execute("SELECT COUNT(*) FROM messages WHERE search_state = 0").fetchone()[0])


def body_text(raw: bytes) -> tuple[str, str]:
    """(text, file names) of a message for the index: the body parts the reader shows (HTML made text, quoted lines
    included, at most mime.indextext.INDEX_TEXT_CAP characters) and every attachment's file name."""
    from ..mime.indextext import index_text

    return index_text(raw)


def _texts(conn: sqlite3.Connection, hashes: Sequence[str]) -> Texts:
    """The index text of each stored body, by hash (a body shared by several messages is read once)."""
    out: Texts = {}
    for i in range(0, len(hashes), _HASHES_PER_QUERY):
        chunk = hashes[i : i + _HASHES_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        for body_hash, raw in conn.execute(f"SELECT hash, raw FROM bodies WHERE hash IN ({marks})", chunk):
            out[body_hash] = body_text(bytes(raw))
    return out


_worker_conn: sqlite3.Connection | None = None


def _helper_start(parent: int) -> None:
    """In a new helper process: leave as soon as the process that started it is gone (killed, crashed), rather
    than wait forever for work that will never come."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _texts_in_worker(path: str, hashes: list[str]) -> Texts:
    """In a helper process: _texts() over its own read-only connection to the cache."""
    global _worker_conn
    if _worker_conn is None:
        _worker_conn = sqlite3.connect(path, timeout=30.0)
        _worker_conn.execute("PRAGMA query_only = ON")
        _worker_conn.execute("PRAGMA busy_timeout = 30000")
    return _texts(_worker_conn, hashes)


_Row = tuple[int, str | None, str, str, str, str, str]


def _pending_rows(cache: Cache, limit: int, below: int | None) -> list[_Row]:
    """Up to limit rows waiting for the index, newest first, with ids below `below` (the batches in flight)."""
    sql = "SELECT id, body_hash, subject, from_name, from_addr, to_addrs, cc_addrs FROM messages WHERE search_state = 0"
    params: tuple[int, ...] = (limit,)
    if below is not None:
        sql += " AND id < ?"
        params = (below, limit)
    return cache.conn.execute(sql + " ORDER BY id DESC LIMIT ?", params).fetchall()


def _documents(rows: list[_Row], texts: Texts) -> list[Document]:
    docs = []
    for mid, body_hash, subject, from_name, from_addr, to, cc in rows:
        text, names = texts.get(body_hash, ("", "")) if body_hash is not None else ("", "")
        docs.append(Document(mid, body_hash, subject, f"{from_name} {from_addr}", to, cc, text, names))
    return docs


def _write(cache: Cache, docs: list[Document]) -> int:
    with cache.transaction() as c:
        seq = int(c.execute("SELECT value FROM meta WHERE key='search_doc_seq'").fetchone()[0])
        fresh = []
        for d in docs:
            seq += 1
            updated = c.execute(
                "UPDATE messages SET search_doc=?, search_state=1 WHERE id=? AND search_state=0 AND body_hash IS ?",
                (seq, d.message_id, d.body_hash),
            ).rowcount
            if updated:  # else deleted, or its body changed meanwhile: the next pass sees it again
                fresh.append((seq, d.subject, d.sender, d.rcpt_to, d.rcpt_cc, d.body, d.filenames))
        c.executemany(
            "INSERT INTO search(rowid, subject, sender, rcpt_to, rcpt_cc, body, filenames) VALUES (?,?,?,?,?,?,?)",
            fresh,
        )
        c.execute("UPDATE meta SET value=? WHERE key='search_doc_seq'", (str(seq),))
    return len(fresh)


def _helpers() -> int:
    """Helper processes for a large backlog: one core stays with this process (it writes), the rest read bodies."""
    cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 3))


def index_pending(
    cache: Cache,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Index messages waiting for it, newest rows first; returns how many were indexed. progress(done, total)."""
    total = backlog(cache)
    if limit is not None:
        total = min(total, limit)
    if total <= 0:
        return 0
    bulk = total >= PARALLEL_FROM
    size = BULK_BATCH if bulk else BATCH
    helpers = _helpers() if bulk else 0
    pool: Executor | None = None
    conn = cache.conn
    page_cache = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    if bulk:
        conn.execute(f"PRAGMA cache_size = -{BUILD_CACHE_KIB}")
        with cache.transaction() as c:
            c.execute("INSERT INTO search(search, rank) VALUES('hashsize', ?)", (FTS_HASHSIZE,))
    if helpers:
        pool = ProcessPoolExecutor(
            helpers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_helper_start,
            initargs=(os.getpid(),),
        )
    in_flight: deque[tuple[list[_Row], Future[Texts] | Texts]] = deque()
    queued = done = 0
    below: int | None = None
    try:
        while True:
            # Keep every helper busy with the next batches while this process writes the oldest one.
            while len(in_flight) < helpers + 1 and queued < total:
                rows = _pending_rows(cache, min(size, total - queued), below)
                if not rows:
                    break
                below = rows[-1][0]
                queued += len(rows)
                hashes = sorted({r[1] for r in rows if r[1] is not None})
                texts: Future[Texts] | Texts = (
                    pool.submit(_texts_in_worker, str(cache.path), hashes) if pool else _texts(conn, hashes)
                )
                in_flight.append((rows, texts))
            if not in_flight or (should_stop is not None and should_stop()):
                break
            rows, texts = in_flight.popleft()
            if isinstance(texts, Future):
                texts = texts.result()
            _write(cache, _documents(rows, texts))
            done += len(rows)
            if progress is not None:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if bulk:
            conn.execute(f"PRAGMA cache_size = {page_cache}")
    return done


def rebuild(cache: Cache) -> None:
    """Forget the whole index (every message is indexed again by index_pending)."""
    with cache.transaction() as c:
        c.execute("INSERT INTO search(search) VALUES('delete-all')")
        c.execute("UPDATE messages SET search_doc=NULL, search_state=0")
