"""Fault-injection hooks: `fault_point(name)` kills (or stops) this process when $TUI_MAIL_FAULT names that point.

Used by the fault-injection suite (tests/faults, bench/faults_bench.py) to crash a `tui-mail sync` at exact stages
and check that a resumed sync loses and doubles nothing. With the variable unset a call costs one global lookup.

    TUI_MAIL_FAULT=NAME        SIGKILL the first time NAME is reached
    TUI_MAIL_FAULT=NAME:N      SIGKILL the Nth time NAME is reached (N >= 1)
    TUI_MAIL_FAULT=NAME:N:stop SIGSTOP instead (the test changes the world, then sends SIGCONT and the run goes on)

Several specs may be given, separated by commas. The named stages:

    imap.after_fetch          a chunk of new messages was FETCHed, not yet written to the cache
    cache.mid_transaction     inside a transaction that stores a chunk of rows or bodies (some written, none committed)
    imap.after_commit         a chunk and its cursor were committed
    imap.after_flags          server flag changes were applied to the cache (before expunges are compared)
    imap.replay_start         pending actions were read (claimed) for replay, nothing sent to the server yet
    imap.after_move           a MOVE (or COPY + EXPUNGE) was done on the server, the cache not yet updated
    imap.replayed             one group of actions was done on the server, not yet marked complete in the cache
    imap.after_append         APPEND to Sent/Drafts succeeded, its record (the cached row) not yet written
    pop3.after_retr           a message was RETRieved, not yet committed
    pop3.after_commit         a batch was committed to the cache, not yet DELEted
    pop3.after_dele           a DELE was sent (it takes effect only at QUIT)
    pop3.before_quit          every message is committed and DELEted, QUIT not yet sent
    pop3.after_quit           QUIT done (deletions took effect), not yet recorded in the cache
    outbox.read               an outbox item was claimed for sending, nothing sent yet
    smtp.after_data           SMTP accepted the message (DATA done), the outbox not yet updated
    outbox.after_update       the outbox item is marked sent, its copy not yet stored in Sent
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "TUI_MAIL_FAULT"

_lock = threading.Lock()
_counts: dict[str, int] = {}


def _parse(spec: str) -> dict[str, tuple[int, int]]:
    """ "a:3,b:1:stop" -> {"a": (3, SIGKILL), "b": (1, SIGSTOP)}."""
    out: dict[str, tuple[int, int]] = {}
    for item in spec.split(","):
        parts = item.strip().split(":")
        if not parts[0]:
            continue
        nth = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        sig = signal.SIGSTOP if len(parts) > 2 and parts[2] == "stop" else signal.SIGKILL
        out[parts[0]] = (max(1, nth), sig)
    return out


_points: dict[str, tuple[int, int]] = _parse(os.environ.get(ENV, ""))


def fault_point(name: str) -> None:
    """Kill (or stop) this process here if $TUI_MAIL_FAULT asks for this point at this count; else do nothing."""
    if not _points:
        return
    wanted = _points.get(name)
    if wanted is None:
        return
    with _lock:
        n = _counts[name] = _counts.get(name, 0) + 1
    if n == wanted[0]:
        os.kill(os.getpid(), wanted[1])


def reached(name: str) -> int:
    """How often this process has reached a watched point (for tests of this module)."""
    return _counts.get(name, 0)


def configure(spec: str) -> None:
    """Re-read a spec (tests in the same process); "" switches every point off."""
    global _points
    with _lock:
        _points = _parse(spec)
        _counts.clear()
