"""Keeping the full-text index filled: turn cached messages (envelope + body when local) into FTS5 documents.

Runs in the background (after a sync, from `tui-mail reindex`), in batches: the slow part (rendering the body to text)
happens outside any transaction, then each batch's documents are written in one transaction that also marks the rows
indexed — guarded so that a row whose body changed meanwhile is left for the next pass. A crash anywhere loses at most
one batch of work and never leaves the index disagreeing with the messages table.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from .cache import Cache

log = logging.getLogger(__name__)

BATCH = 200
PARALLEL_FROM = 2_000  # messages waiting: from here on, bodies are rendered by a process per core
MAX_BODY_TEXT = 200_000  # characters of body text indexed per message (a 50 MB log attachment is not prose)


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
    """(text, file names) of a message as the reader shows it: the displayed body (HTML converted to text, quoted
    lines included) and every attachment's file name."""
    from .. import mime

    try:
        rendered = mime.render_message(raw)
    except Exception:  # a message that cannot be rendered is still found by its headers
        log.debug("render for the index failed", exc_info=True)
        return "", ""
    return rendered.text[:MAX_BODY_TEXT], " ".join(a.filename for a in rendered.attachments)


def _body_texts(raws: list[bytes | None], pool: Executor | None) -> list[tuple[str, str]]:
    if pool is None:
        return [body_text(r) if r is not None else ("", "") for r in raws]
    todo = [r for r in raws if r is not None]
    done = iter(pool.map(body_text, todo, chunksize=16))
    return [next(done) if r is not None else ("", "") for r in raws]


def _documents(cache: Cache, limit: int, pool: Executor | None = None) -> list[Document]:
    rows = cache.conn.execute(
        "SELECT m.id, m.body_hash, m.subject, m.from_name, m.from_addr, m.to_addrs, m.cc_addrs, b.raw "
        "FROM messages m LEFT JOIN bodies b ON b.hash = m.body_hash WHERE m.search_state = 0 ORDER BY m.id DESC "
        "LIMIT ?",
        (limit,),
    ).fetchall()
    texts = _body_texts([bytes(r[7]) if r[7] is not None else None for r in rows], pool)
    return [
        Document(mid, body_hash, subject, f"{from_name} {from_addr}", to, cc, text, names)
        for (mid, body_hash, subject, from_name, from_addr, to, cc, _raw), (text, names) in zip(
            rows, texts, strict=True
        )
    ]


def _write(cache: Cache, docs: list[Document]) -> int:
    with cache.transaction() as c:
        seq = int(c.execute("SELECT value FROM meta WHERE key='search_doc_seq'").fetchone()[0])
        written = 0
        for d in docs:
            seq += 1
            updated = c.execute(
                "UPDATE messages SET search_doc=?, search_state=1 WHERE id=? AND search_state=0 AND body_hash IS ?",
                (seq, d.message_id, d.body_hash),
            ).rowcount
            if not updated:
                continue  # deleted, or its body changed meanwhile: the next pass sees it again
            c.execute(
                "INSERT INTO search(rowid, subject, sender, rcpt_to, rcpt_cc, body, filenames) VALUES (?,?,?,?,?,?,?)",
                (seq, d.subject, d.sender, d.rcpt_to, d.rcpt_cc, d.body, d.filenames),
            )
            written += 1
        c.execute("UPDATE meta SET value=? WHERE key='search_doc_seq'", (str(seq),))
    return written


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
    done = 0
    # A large backlog (an upgraded cache, `reindex`) renders bodies on every core; a sync's few new messages do not
    # pay for starting processes. Writes stay here, in this process's transactions.
    workers = min(os.cpu_count() or 1, 4)
    pool: Executor | None = None
    if total >= PARALLEL_FROM and workers > 1:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        while done < total:
            if should_stop is not None and should_stop():
                break
            docs = _documents(cache, min(BATCH if pool is None else BATCH * 4, total - done), pool)
            if not docs:
                break
            done += len(docs)
            _write(cache, docs)
            if progress is not None:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return done


def rebuild(cache: Cache) -> None:
    """Forget the whole index (every message is indexed again by index_pending)."""
    with cache.transaction() as c:
        c.execute("INSERT INTO search(search) VALUES('delete-all')")
        c.execute("UPDATE messages SET search_doc=NULL, search_state=0")
