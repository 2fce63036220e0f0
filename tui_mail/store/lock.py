"""One writer per account across processes: an fcntl lock file beside the cache, holding the owner's pid."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MailError


class AccountBusy(MailError):
    """Another tui-mail process (the UI, or a cron `tui-mail sync`) is syncing this account right now."""

    def __init__(self, account: str, pid: int | None) -> None:
        who = f"another tui-mail (pid {pid})" if pid else "another tui-mail"
        super().__init__(f"{account} is already syncing in {who}.")
        self.account = account
        self.pid = pid

    @property
    def short(self) -> str:
        """The status-line form: "syncing in another tui-mail (pid N)"."""
        return f"syncing in another tui-mail (pid {self.pid})" if self.pid else "syncing in another tui-mail"


class AccountLock:
    """An inter-process lock (`flock` on `<cache>.lock`) that is re-entrant across the threads of one process.

    The first holder in a process takes the file lock; further holders in the same process (another thread of
    the UI, or a nested call) only count up, since the threading locks of AccountManager already order them.
    A process that cannot get the file lock within the timeout gets AccountBusy naming the other pid.
    """

    poll_interval = 0.05

    def __init__(self, path: Path | str, account: str) -> None:
        self.path = Path(path)
        self.account = account
        self._guard = threading.Lock()
        self._acquiring = threading.Lock()
        self._count = 0
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock now."""
        with self._guard:
            return self._count > 0

    def owner_pid(self) -> int | None:
        """The pid written by the current (or last) holder, if any."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting up to timeout seconds for another process to let go; AccountBusy if it does not."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._guard:
            if self._count:
                self._count += 1
                return
        if not self._acquiring.acquire(timeout=max(0.0, timeout)):
            raise AccountBusy(self.account, self.owner_pid())
        try:
            with self._guard:
                if self._count:  # another thread of this process took it while we waited
                    self._count += 1
                    return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise AccountBusy(self.account, self.owner_pid()) from None
                        time.sleep(self.poll_interval)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            except BaseException:
                os.close(fd)  # closing also drops a lock taken just before the failure
                raise
            with self._guard:
                self._fd = fd
                self._count = 1
        finally:
            self._acquiring.release()

    def release(self) -> None:
        """Let go once; the file lock is dropped when the last holder in this process lets go."""
        with self._guard:
            if self._count == 0:
                return
            self._count -= 1
            if self._count or self._fd is None:
                return
            fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no stale pid for the next reader
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        """`with lock.hold(timeout):` — acquire, run the block, release."""
        self.acquire(timeout)
        try:
            yield
        finally:
            self.release()
