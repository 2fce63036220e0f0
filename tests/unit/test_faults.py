"""The fault hook: a no-op unless $TUI_MAIL_FAULT names the point; then SIGKILL (or SIGSTOP) at the Nth time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tui_mail import faults

SCRIPT = "from tui_mail.faults import fault_point\nfor i in range(5):\n    print(i, flush=True)\n    fault_point('x')\n"


def _run(spec: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if spec is not None:
        env[faults.ENV] = spec
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)


def test_unset_does_nothing() -> None:
    r = _run(None)
    assert r.returncode == 0 and r.stdout.split() == ["0", "1", "2", "3", "4"]


def test_the_nth_time_kills() -> None:
    r = _run("other,x:3")
    assert r.returncode == -signal.SIGKILL
    assert r.stdout.split() == ["0", "1", "2"]


def test_first_time_by_default_and_other_points_ignored() -> None:
    assert _run("x").stdout.split() == ["0"]
    assert _run("y:1").returncode == 0


def test_stop_then_continue() -> None:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    env[faults.ENV] = "x:2:stop"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
    try:
        _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and out.split() == ["0", "1", "2", "3", "4"]


def test_configure_in_process() -> None:
    faults.configure("")
    faults.fault_point("x")  # no-op
    assert faults.reached("x") == 0
