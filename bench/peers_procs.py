"""Process plumbing of bench/peers_bench.py: timed child processes, tmux screen timings, and the delaying proxy."""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GNU_TIME = "/usr/bin/time"
TMUX_SOCKET = f"tui-mail-peers-bench-{os.getpid()}"
UI_TIMEOUT = 300.0
SYNC_TIMEOUT = 900.0
TERM_SIZE = (120, 35)

# ---------------------------------------------------------------------------------------------------------------
# results


@dataclass
class Run:
    """One timed run of one tool in one scenario."""

    seconds: float | None
    rss_mb: float = 0.0
    error: str = ""


@dataclass
class Cell:
    """All runs of one tool in one scenario; the best counts."""

    tool: str
    runs: list[Run] = field(default_factory=list)
    reason: str = ""  # why the tool could not run at all

    def best(self) -> Run | None:
        ok = [r for r in self.runs if r.seconds is not None]
        return min(ok, key=lambda r: r.seconds or 0.0) if ok else None

    def why(self) -> str:
        if self.reason:
            return self.reason
        errs = [r.error for r in self.runs if r.error]
        return errs[0] if errs else ""


# ---------------------------------------------------------------------------------------------------------------
# a delaying TCP proxy on loopback (adds `delay` seconds each way per chunk; never touches the real loopback)


class DelayProxy:
    """Forwards 127.0.0.1:port to a target port, delivering every chunk `delay` seconds after it arrived, in order."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        def _close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.stop()

        self._loop.call_soon_threadsafe(_close)
        self._thread.join(5)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        task = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((self._loop.time() + self.delay, data))
                if not data:
                    break
            await task
        except (ConnectionError, asyncio.CancelledError):
            task.cancel()
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer), return_exceptions=True)


# ---------------------------------------------------------------------------------------------------------------
# processes


def _spawn_timed(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: str | None = None,
    timeout: float = SYNC_TIMEOUT,
) -> Run:
    """Run cmd to exit; seconds from spawn to exit and the peak RSS of the process (wait4)."""
    kw: dict[str, Any] = {}
    if user is not None:
        pw = pwd.getpwnam(user)
        kw.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
    # The peak RSS comes from GNU time when present: a process forked from this (large) Python inherits its
    # high-water mark in ru_maxrss, one forked from the small `time` does not.
    rss_file = ""
    if os.path.exists(GNU_TIME):
        fd, rss_file = tempfile.mkstemp(prefix="peers-rss-")
        os.close(fd)
        os.chmod(rss_file, 0o666)
        cmd = [GNU_TIME, "-f", "%M", "-o", rss_file, *cmd]
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            **kw,
        )
    except OSError as e:
        return Run(None, error=f"cannot start {cmd[0]}: {e}")
    out = b""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss / 1024
    if rss_file:
        try:
            rss = int(Path(rss_file).read_text().split()[-1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(rss_file)
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip().splitlines()[-3:]
        return Run(None, rss, f"exit {proc.returncode}: {' / '.join(tail)[:300]}")
    return Run(seconds, rss)


def _tmux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-L", TMUX_SOCKET, "-f", "/dev/null", *args], capture_output=True, text=True)


def _tmux_keepalive() -> None:
    """A placeholder session, so the private tmux server does not exit (and race a new session) whenever the last
    timed session is killed; the whole server is killed at the end of the run."""
    if _tmux("has-session", "-t", "keepalive").returncode != 0:
        _tmux("new-session", "-d", "-s", "keepalive", "-x", "20", "-y", "5", "sleep 86400")


def _pane_rss_mb(session: str) -> float:
    pid = _tmux("display-message", "-p", "-t", session, "#{pane_pid}").stdout.strip()
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _wait_screen(session: str, text: str, t0: float, timeout: float) -> float | None:
    while time.perf_counter() - t0 < timeout:
        screen = _tmux("capture-pane", "-p", "-t", session).stdout
        if text in screen:
            return time.perf_counter() - t0
        if _tmux("has-session", "-t", session).returncode != 0:
            return None
        time.sleep(0.01)
    return None


def ui_run(
    cmd: list[str], env: dict[str, str], expect: str, *, open_keys: tuple[str, ...] = (), open_expect: str = ""
) -> tuple[Run, Run | None]:
    """Start cmd in a detached tmux session of TERM_SIZE; time until `expect` is on screen. With open_keys, then
    press them and time until `open_expect` shows (opening a message)."""
    session = f"s{time.monotonic_ns()}"
    shell = "exec env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + shlex.join(cmd)
    _tmux_keepalive()
    t0 = time.perf_counter()
    proc = _tmux("new-session", "-d", "-s", session, "-x", str(TERM_SIZE[0]), "-y", str(TERM_SIZE[1]), shell)
    if proc.returncode != 0:
        return Run(None, error=f"tmux: {proc.stderr.strip()}"), None
    opened: Run | None = None
    try:
        seconds = _wait_screen(session, expect, t0, UI_TIMEOUT)
        if seconds is None:
            screen = _tmux("capture-pane", "-p", "-t", session).stdout.strip().splitlines()
            tail = " / ".join(line.strip() for line in screen if line.strip())[-300:]
            return Run(None, error=f"{expect!r} never showed; screen: {tail or '(empty, exited)'}"), None
        if open_keys:
            time.sleep(0.3)  # let it settle, as a person would before pressing Enter
            t1 = time.perf_counter()
            _tmux("send-keys", "-t", session, *open_keys)
            s2 = _wait_screen(session, open_expect, t1, 30.0)
            opened = Run(s2, error="" if s2 is not None else f"{open_expect!r} never showed")
        return Run(seconds, _pane_rss_mb(session)), opened
    finally:
        _tmux("kill-session", "-t", session)
