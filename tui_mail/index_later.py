"""After `tui-mail sync`: index a few new messages at once, hand a big backlog to a detached `tui-mail index`.

Rendering thousands of bodies to text takes longer than downloading them, and nothing needs the index to exist the
moment the mail is stored: the sync returns as soon as the mail is committed and a background process fills the
index (its own short transactions; a crash loses at most a batch of that work, never mail, and never leaves the
index disagreeing with the messages table). One indexer per account at a time (`flock` on `<cache>.index.lock`);
`tui-mail search` takes the same lock and catches up first, so a search never misses mail that is stored.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .store.cache import Cache

INLINE_MAX = 200  # messages waiting: up to this many are indexed before `sync` returns (a cron run's new mail)


def waiting(cache: Cache, at_most: int = INLINE_MAX + 1) -> int:
    """How many messages wait to be indexed, counted up to at_most (the partial index makes this cheap)."""
    row = cache.conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE search_state = 0 LIMIT ?)", (at_most,)
    ).fetchone()
    return int(row[0])


@contextmanager
def indexer_lock(cache: Cache, wait: bool = True) -> Iterator[bool]:
    """Hold the account's indexer lock, waiting for another indexer to finish first (or, with wait=False, not:
    the block then gets False and must not index)."""
    path = cache.path.with_name(cache.path.name + ".index.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # drops the lock


def index_all(cache: Cache, progress: Callable[[int, int], None] | None = None, wait: bool = True) -> int | None:
    """Index until nothing waits (mail stored by a sync meanwhile included), holding the indexer lock; returns how
    many messages were indexed, or None when wait=False and another indexer holds the lock."""
    from .store.search_index import index_pending

    done = 0
    with indexer_lock(cache, wait) as held:
        if not held:
            return None
        while waiting(cache, 1):
            n = index_pending(cache, progress=progress)
            if not n:
                break  # what waits cannot be indexed now (its row changes under us): the next pass takes it
            done += n
    return done


def spawn_indexer(config_path: Path, account: str) -> int:
    """Start `tui-mail index ACCOUNT` detached from this process (own session, no terminal); returns its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_mail", "--config", str(config_path), "index", account],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return proc.pid


def after_sync(cache: Cache, config_path: Path | None, account: str) -> str:
    """Index what the sync brought: at once when it is a little (or there is no config file a detached process
    could read), else in a detached process. Returns "" or a sentence for the user."""
    if config_path is None:
        index_all(cache)
        return ""
    if waiting(cache) <= INLINE_MAX and index_all(cache, wait=False) is not None:
        return ""
    # A big backlog, or another indexer is at work (it may be past its last look for new rows): a detached
    # indexer waits for the lock, then indexes whatever is left.
    spawn_indexer(config_path, account)
    return "new mail is being added to the search index in the background"
