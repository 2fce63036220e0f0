"""What the UI tells the user about an account's connection: offline since when, or the exact failure sentence.

A failure is shown once as a notification and kept in the status line until a sync succeeds; `$` (an explicit
sync) shows it again. "Offline" is kept for an unreachable network; every other failure keeps its own sentence.
"""

from __future__ import annotations

import time

from textual.message import Message

from .widgets.status_bar import SyncState

RECONNECT_DELAYS: tuple[float, ...] = (5.0, 15.0, 60.0)  # then the account's poll_interval


class ConnectionLost(Message):
    """The IDLE connection of an account failed (dropped, refused, rejected): error is one sentence."""

    def __init__(self, account: str, error: str, offline: bool) -> None:
        super().__init__()
        self.account = account
        self.error = error
        self.offline = offline


def reconnect_delay(failures: int, interval: float, delays: tuple[float, ...] = RECONNECT_DELAYS) -> float:
    """Seconds to wait before reconnect attempt number failures (1-based): the backoff steps, then interval."""
    return delays[failures - 1] if 0 < failures <= len(delays) else interval


def record_failure(state: SyncState, error: str, offline: bool, *, explicit: bool = False) -> bool:
    """Keep a failure in the account's state; True when the user should be notified of it now (a new sentence,
    or one the user explicitly asked for with `$`). Going offline is not notified unless asked: the status line
    says it."""
    is_new = error != state.error or offline != state.offline
    if offline and not state.offline:
        state.offline_since = time.time()
    if not offline:
        state.offline_since = None
    state.offline = offline
    state.error = error
    return explicit or (is_new and not offline)


def record_success(state: SyncState) -> None:
    """A sync succeeded: the failure and the offline mark are cleared."""
    state.offline = False
    state.offline_since = None
    state.error = ""
