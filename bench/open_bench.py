"""Warm open at 1k/10k/100k messages: the UI started in a real terminal (tmux) until the newest subject shows, over
caches written straight into SQLite (bench/ui_bench.py's builder), next to the Python + Textual floor.

Usage: .venv/bin/python bench/open_bench.py [--sizes 1000,10000,100000] [--repeat 5]

Syncing 100,000 messages through Dovecot takes minutes and 2.4 GB, so the caches are generated directly (one
INBOX of N realistic envelope rows, as ui_bench.py builds them); the account points at a closed port on 127.0.0.1,
so the start-up sync fails at once (after the first paint, where it runs) and nothing but the cache is timed. Cost
that grows with the folder before the first paint shows up as a slope from 1k to 100k. The floor row is a bare
Textual App whose one Label shows the same text (bench/peers_floor.py textual): what any Textual UI pays.
Rounds interleave the sizes and the floor; best and median of the rounds are printed, and the process's CPU
seconds when the subject showed (less sensitive to a loaded machine than wall time).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from peers_procs import Run, _tmux, ui_run  # noqa: E402
from ui_bench import build_cache  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(session: str) -> float:
    """utime + stime of the pane's process (read when the text showed, instead of its RSS)."""
    pid = _tmux("display-message", "-p", "-t", session, "#{pane_pid}").stdout.strip()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    import peers_procs

    peers_procs._pane_rss_mb = _cpu_seconds  # the Run's rss_mb field carries CPU seconds here
    work = Path(tempfile.mkdtemp(prefix="tui-mail-open-"))
    cfg = work / "config.toml"
    cfg.write_text(
        '[ui]\npreview_pane = false\ncursor_blink = false\nthreads = false\n\n[[accounts]]\nname = "bench"\n'
        'email = "bench@bench.example"\nprotocol = "imap"\nidle = false\n[accounts.incoming]\nhost = "127.0.0.1"\n'
        f'port = {_closed_port()}\nsecurity = "none"\nusername = "bench"\npassword_command = "echo x"\n'
    )
    for n in sizes:
        data = work / f"data-{n}"
        seconds = build_cache(data / "bench.sqlite3", n)
        print(f"cache of {n:,} messages built in {seconds:.1f} s", flush=True)

    def env(data: Path) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "TUI_MAIL_DATA_DIR": str(data),
            "TUI_MAIL_STATE_DIR": str(data / "state"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
        }

    tui = [str(ROOT / ".venv/bin/tui-mail"), "--config", str(cfg)]
    runs: dict[str, list[Run]] = {}
    try:
        for r in range(args.repeat):
            floor_text = "Newest subject #100000"
            run, _ = ui_run(
                [sys.executable, str(BENCH / "peers_floor.py"), "textual", floor_text], env(work), floor_text
            )
            runs.setdefault("Textual floor (bare App, one Label)", []).append(run)
            for n in sizes:
                run, _ = ui_run(tui, env(work / f"data-{n}"), f"#{n}")  # the newest row's subject ends in #N
                runs.setdefault(f"tui-mail warm open, {n:,} messages", []).append(run)
            print(f"round {r + 1}/{args.repeat} done", flush=True)
    finally:
        _tmux("kill-server")
    print("\n| what | best s | median s | CPU s at paint (median) | runs (s) |\n|---|---:|---:|---:|---|")
    for name, rs in runs.items():
        ok = sorted(x.seconds for x in rs if x.seconds is not None)
        cpu = sorted(x.rss_mb for x in rs if x.seconds is not None)
        if not ok:
            print(f"| {name} | - | - | - | {rs[0].error} |")
            continue
        shown = ", ".join(f"{x.seconds:.3f}" if x.seconds is not None else "fail" for x in rs)
        print(f"| {name} | {ok[0]:.3f} | {ok[len(ok) // 2]:.3f} | {cpu[len(cpu) // 2]:.2f} | {shown} |")
    return 0 if all(any(x.seconds is not None for x in rs) for rs in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
