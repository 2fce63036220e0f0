"""Keeping the full-text index filled: turn cached messages (envelope + body when local) into FTS5 documents.

Runs in the background (after a sync, from `tui-mail reindex`), in batches: the slow part (rendering the body to text)
happens outside any transaction, then each batch's documents are written in one transaction that also marks the rows
indexed — guarded so that a row whose body changed meanwhile is left for the next pass. A crash anywhere loses at most
one batch of work and never leaves the index disagreeing with the messages table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .cache import Cache

log = logging.getLogger(__name__)

BATCH = 200
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


def _documents(cache: Cache, limit: int) -> list[Document]:
    rows = cache.conn.execute(
        "SELECT m.id, m.body_hash, m.subject, m.from_name, m.from_addr, m.to_addrs, m.cc_addrs, b.raw "
        "FROM messages m LEFT JOIN bodies b ON b.hash = m.body_hash WHERE m.search_state = 0 ORDER BY m.id DESC "
        "LIMIT ?",
        (limit,),
    ).fetchall()
    docs = []
    for mid, body_hash, subject, from_name, from_addr, to, cc, raw in rows:
        text, names = body_text(bytes(raw)) if raw is not None else ("", "")
        docs.append(Document(mid, body_hash, subject, f"{from_name} {from_addr}", to, cc, text, names))
    return docs


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
    while done < total:
        if should_stop is not None and should_stop():
            break
        docs = _documents(cache, min(BATCH, total - done))
        if not docs:
            break
        done += len(docs)
        _write(cache, docs)
        if progress is not None:
            progress(done, total)
    return done


def rebuild(cache: Cache) -> None:
    """Forget the whole index (every message is indexed again by index_pending)."""
    with cache.transaction() as c:
        c.execute("INSERT INTO search(search) VALUES('delete-all')")
        c.execute("UPDATE messages SET search_doc=NULL, search_state=0")
