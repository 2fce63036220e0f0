"""Filling the index is resumable: a build killed (SIGKILL) between batches leaves an index that agrees with the
messages table, and the next pass finishes it with the same results as an uninterrupted build."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from tui_mail.mime import parse_envelope
from tui_mail.models import Role
from tui_mail.store import search_index
from tui_mail.store.cache import Cache, NewMessage

N = 60
QUERIES = ["walrus", "filename:notes", "subject:number", "walrus -odd", "even*"]

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from tui_mail.store import search_index
    from tui_mail.store.cache import Cache

    def progress(done, total):
        print(done, flush=True)
        if done >= 20:  # two batches are committed, more are being read by the helpers: die now
            os.kill(os.getpid(), signal.SIGKILL)

    if __name__ == "__main__":
        search_index.BULK_BATCH = 10
        search_index.PARALLEL_FROM = 1
        search_index._helpers = lambda: 2
        search_index.index_pending(Cache(sys.argv[1]), progress=progress)
        print("not killed", flush=True)
    """
)


def message(i: int) -> bytes:
    parity = "even" if i % 2 == 0 else "odd"
    return (
        f"From: Sender {i} <s{i}@example.com>\r\nTo: me@example.org\r\nSubject: Message number {i}\r\n"
        f"Message-ID: <m{i}@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\nThe walrus says {parity}.\r\n"
        f"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=notes-{i}.txt\r\n\r\n"
        "x\r\n--b--\r\n"
    ).encode()


def consistent(path: Path) -> tuple[int, int]:
    """Check what must hold after any crash; returns (indexed, waiting)."""
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("INSERT INTO search(search) VALUES('integrity-check')")  # raises on a damaged FTS5 index
    indexed = conn.execute("SELECT count(*) FROM messages WHERE search_state = 1").fetchone()[0]
    waiting = conn.execute("SELECT count(*) FROM messages WHERE search_state = 0").fetchone()[0]
    # every indexed message has its own document, numbered below the sequence; none waiting has one
    docs = conn.execute("SELECT count(DISTINCT search_doc) FROM messages WHERE search_state = 1").fetchone()[0]
    assert docs == indexed
    assert not conn.execute(
        "SELECT count(*) FROM messages WHERE search_state = 0 AND search_doc IS NOT NULL"
    ).fetchone()[0]
    seq = int(conn.execute("SELECT value FROM meta WHERE key = 'search_doc_seq'").fetchone()[0])
    assert conn.execute("SELECT coalesce(max(search_doc), 0) FROM messages").fetchone()[0] <= seq
    conn.close()
    return indexed, waiting


def test_a_killed_build_resumes_and_agrees_with_an_uninterrupted_one(tmp_path: Path) -> None:
    path = tmp_path / "work.sqlite3"
    cache = Cache(path)
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    raws = [message(i) for i in range(N)]
    cache.store_messages(inbox, [NewMessage(parse_envelope(r), flags=frozenset(), raw=r) for r in raws])
    cache.close()
    reference = tmp_path / "reference.sqlite3"
    shutil.copy(path, reference)

    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert proc.returncode == -9, proc.stderr
    assert "not killed" not in proc.stdout

    indexed, waiting = consistent(path)
    assert indexed == 20 and waiting == N - 20  # the committed batches are kept, those in flight are redone

    cache = Cache(path)
    assert search_index.index_pending(cache) == N - 20
    assert consistent(path) == (N, 0)
    ref = Cache(reference)
    assert search_index.index_pending(ref) == N
    folder = cache.folder_by_role(Role.INBOX)
    assert folder is not None
    for q in QUERIES:
        got = sorted(r.subject for r in cache.window(folder.id, 0, 100, query=q))
        want = sorted(r.subject for r in ref.window(folder.id, 0, 100, query=q))
        assert got == want and got, q
