"""Smoke test of bench/peers_bench.py: the side-by-side harness still runs end to end on a tiny corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ServerUnavailable, check_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.servers
def test_peers_bench_runs_on_a_tiny_corpus_through_the_delaying_proxy(tmp_path: Path) -> None:
    """20 messages, one round, tui-mail and the imapclient floor only (no peers needed), at a 50 ms round trip:
    every scenario yields a figure and the results file holds the table. No timing is asserted."""
    try:
        check_environment()
    except ServerUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the test servers: {e}", pytrace=False)
        pytest.skip(str(e))
    if shutil.which("tmux") is None and os.geteuid() != 0:
        pytest.skip("tmux not installed (apt-get install tmux): the harness times the UI on a tmux screen")
    results = tmp_path / "latest.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "peers_bench.py"),
            *("--messages", "20", "--repeat", "1", "--rtt", "50"),
            *("--only", "tui-mail,imapclient", "--results", str(results)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = results.read_text()
    assert "20 messages" in text and "round trip 50 ms" in text
    for scenario in (
        "first open of a never-synced account",
        "full IMAP sync",
        "headers-only sync",
        "POP3 download",
        "open the UI on a warm cache",
        "open the newest message",
        "no-op resync",
        "resync after 100 new",
    ):
        row = next(line for line in text.splitlines() if line.startswith(f"| {scenario}"))
        assert "| tui-mail |" in row and "cannot run" not in row, row
    assert "| imapclient |" in text
