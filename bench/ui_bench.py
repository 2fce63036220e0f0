"""UI benchmark: a 100,000-message folder against a 100-message one (first paint, moving 1,000 rows, opening a
message, peak RSS). Each size runs in a fresh Python process so that start-up time and RSS are honest.

Usage: .venv/bin/python bench/ui_bench.py [--sizes 100000,100] [--moves 1000]
Targets (issue 3): first paint <= 0.8 s, RSS <= 150 MB, moving 1,000 rows at 100k within 20% of the same at 100.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 36)
START = 1_790_000_000  # 2026-09-21, a fixed base for deterministic rows

FIRST = ["Priya", "Jonas", "Mei", "Olu", "Sam", "Ana", "Lars", "Chen", "Fatima", "Diego", "Yuki", "Noor"]
LAST = ["Raman", "Berg", "Tanaka", "Adeyemi", "Carter", "Silva", "Nilsen", "Wei", "Haddad", "Lopez", "Sato", "Khan"]
TOPICS = [
    "Release plan",
    "Flaky test in the sync engine",
    "Quarterly report",
    "Lunch on Friday?",
    "Review request: virtual list",
    "Invoice",
    "Build failed on main",
    "Holiday schedule",
    "Design notes: keybindings",
    "Meeting moved",
]
BODY = (
    b"From: Priya Raman <priya@bench.example>\r\nTo: bench@bench.example\r\nSubject: Benchmark body\r\n"
    b"Date: Mon, 21 Sep 2026 10:00:00 +0000\r\nMessage-ID: <body@bench.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    + b"".join(b"Line %d of a reasonably long benchmark message body, quoted and plain.\r\n" % i for i in range(60))
)


def build_cache(path: Path, count: int) -> float:
    """A cache with one INBOX of `count` realistic envelope rows (every row shares one cached body).
    Returns the seconds it took."""
    from tui_mail.models import Role
    from tui_mail.store.cache import Cache
    from tui_mail.store.list_order import mark_heads

    started = time.perf_counter()
    cache = Cache(path)
    folder_id = cache.ensure_folder("INBOX", "/", Role.INBOX)
    rng = random.Random(count)
    rows = []
    thread_id = 0
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        date = START + n * 97
        reply = n > 1 and rng.random() < 0.3
        if not reply:
            thread_id = n
        flags = " ".join(f for f, p in (("\\Seen", 0.8), ("\\Flagged", 0.05)) if rng.random() < p)
        rows.append(
            (
                folder_id,
                n,
                1,
                f"<m{n}@bench.example>",
                f"<m{n - 1}@bench.example>" if reply else "",
                date,
                f"{first} {last}",
                f"{first.lower()}.{last.lower()}@bench.example",
                "Bench User <bench@bench.example>",
                ("Re: " if reply else "") + f"{rng.choice(TOPICS)} #{n}",
                flags,
                int("\\Seen" in flags),
                rng.randint(2_000, 80_000),
                int(rng.random() < 0.1),
                "A short snippet of the message text, as the list shows it…",
                "bench-body",
                thread_id,
                1 if reply else 0,
                date,
            )
        )
    # A thread's date is its newest message's date (the cache keeps this up to date on insert).
    newest: dict[int, int] = {}
    for r in rows:
        newest[r[16]] = max(newest.get(r[16], 0), r[5])
    rows = [(*r[:18], newest[r[16]]) for r in rows]
    with cache.transaction() as c:
        c.execute("INSERT OR IGNORE INTO bodies(hash, raw) VALUES (?, ?)", ("bench-body", BODY))
        c.executemany(
            "INSERT INTO messages(folder_id, uid, uidvalidity, message_id, in_reply_to, date, from_name, from_addr, "
            "to_addrs, subject, flags, seen, size, has_attachments, snippet, body_hash, thread_id, thread_depth, "
            "thread_date) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        c.execute("UPDATE folders SET uidvalidity=1, last_uid=? WHERE id=?", (count, folder_id))
        mark_heads(c)  # rows written straight into the table: mark each thread's newest (what the cache does)
    cache.close()
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage: Linux carries ru_maxrss over exec from the parent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(data_dir: Path, moves: int, spawned: float) -> dict[str, float]:
    """Run inside a fresh process: start the app over the cache and measure."""
    import asyncio

    from textual import events

    # When the parent started this process (psutil's create_time is only as precise as the boot time, 1 s).
    process_start = spawned
    os.environ["TUI_MAIL_DATA_DIR"] = str(data_dir)
    imports_started = time.time()

    from tui_mail.accounts import AccountManager
    from tui_mail.config import AccountConfig, Config, ServerConfig, UiConfig
    from tui_mail.ui.app import MailApp
    from tui_mail.ui.screens.reader_screen import ReaderScreen
    from tui_mail.ui.widgets.message_list import MessageList

    imports_done = time.time()
    first_paint: list[float] = []
    original = MessageList.render_line

    def timed_render_line(self: MessageList, y: int):  # type: ignore[no-untyped-def]
        strip = original(self, y)
        if not first_paint and self.row_count and self.source is not None:
            first_paint.append(time.time())
        return strip

    MessageList.render_line = timed_render_line  # type: ignore[method-assign]

    account = AccountConfig(
        name="bench",
        email="bench@bench.example",
        protocol="imap",
        incoming=ServerConfig(host="imap.bench.invalid", port=993),
        smtp=ServerConfig(host="smtp.bench.invalid", port=465),
    )
    # UI_BENCH_THREADS=0 opens the folder flat (bench/threads_bench.py compares both); threaded is the default.
    ui = UiConfig(threads=os.environ.get("UI_BENCH_THREADS", "1") != "0", sort=os.environ.get("UI_BENCH_SORT", "date"))
    config = Config(path=None, accounts=(account,), ui=ui)
    manager = AccountManager(config, data_dir=data_dir, offline=True)
    app = MailApp(config, manager, sync_on_start=False, show_clock=False, preview_delay=0.15)
    result: dict[str, float] = {}
    app_started = 0.0

    async def run() -> None:
        nonlocal app_started
        app_started = time.time()
        async with app.run_test(size=SIZE) as pilot:
            while not first_paint:
                await pilot.pause(0.005)
            result["first_paint_s"] = first_paint[0] - process_start
            result["python_start_s"] = imports_started - process_start
            result["imports_s"] = imports_done - imports_started
            result["app_start_s"] = first_paint[0] - app_started
            await pilot.pause()
            await app.workers.wait_for_complete()
            ml = app.query_one(MessageList)
            result["rows"] = ml.row_count
            queries_before = ml.window_queries
            # Keys are posted the way the terminal driver posts them (like holding `j` down), so the figure is the
            # app's own cost per move, not the test harness's idle detection. Every key moves the cursor one row:
            # straight down in a big folder, bouncing between the ends in a folder shorter than `moves`.
            plan: list[str] = []
            cursor = ml.cursor
            for _ in range(moves):
                key = "j" if (cursor < ml.row_count - 1 and (not plan or plan[-1] == "j" or cursor == 0)) else "k"
                cursor += 1 if key == "j" else -1
                plan.append(key)
            started = time.perf_counter()
            for key in plan:
                app.post_message(events.Key(key, key))
            while ml.cursor != cursor or any(n._message_queue.qsize() for n in (app, app.screen, ml)):
                await asyncio.sleep(0.001)
            await pilot.pause()
            result["move_s"] = time.perf_counter() - started
            result["cursor"] = ml.cursor
            result["window_queries"] = ml.window_queries - queries_before
            result["cached_rows"] = ml.cached_row_count
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            started = time.perf_counter()
            app.post_message(events.Key("enter", None))
            while not isinstance(app.screen, ReaderScreen) or any(
                n._message_queue.qsize() for n in (app, app.screen, *app.screen.walk_children())
            ):
                await asyncio.sleep(0.001)
            result["open_s"] = time.perf_counter() - started
            await app.workers.wait_for_complete()

    asyncio.run(run())
    manager.close()
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,100")
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per size; the best time and the worst RSS count")
    parser.add_argument("--child", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child), args.moves, args.spawned)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    built: dict[int, float] = {}
    runs: dict[int, list[dict[str, float]]] = {count: [] for count in sizes}
    with tempfile.TemporaryDirectory(prefix="tui-mail-bench-") as tmp:
        for count in sizes:
            (Path(tmp) / str(count)).mkdir()
            built[count] = build_cache(Path(tmp) / str(count) / "bench.sqlite3", count)
        # Sizes take turns, so that a change in machine load affects both alike.
        for _ in range(max(1, args.repeat)):
            for count in sizes:
                data_dir = Path(tmp) / str(count)
                env = {**os.environ, "PYTHONPATH": str(ROOT), "TUI_MAIL_DATA_DIR": str(data_dir)}
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        *("--child", str(data_dir), "--moves", str(args.moves), "--spawned", repr(time.time())),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return 1
                runs[count].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results: dict[int, dict[str, float]] = {}
    for count in sizes:
        best = min(runs[count], key=lambda r: r["first_paint_s"])
        results[count] = {
            **best,
            "build_s": built[count],
            "move_s": min(r["move_s"] for r in runs[count]),
            "open_s": min(r["open_s"] for r in runs[count]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[count]),
        }

    print(
        f"UI bench ({SIZE[0]}x{SIZE[1]} headless, {args.moves} moves with 'j', best of {args.repeat} runs, "
        f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    header = f"{'messages':>9} {'first paint':>12} {'(python+imports+app)':>22} {'move ' + str(args.moves):>10} "
    header += f"{'per move':>9} {'open msg':>9} {'peak RSS':>9} {'rows held':>9} {'windows':>8}"
    print(header)
    for count, r in results.items():
        parts = f"{r['python_start_s']:.2f}+{r['imports_s']:.2f}+{r['app_start_s']:.2f}"
        print(
            f"{count:>9,} {r['first_paint_s']:>11.3f}s {parts:>22} {r['move_s']:>9.3f}s "
            f"{1000 * r['move_s'] / args.moves:>7.2f}ms {1000 * r['open_s']:>7.1f}ms {r['peak_rss_mb']:>7.1f}MB "
            f"{int(r['cached_rows']):>9} {int(r['window_queries']):>8}"
        )
    if len(sizes) >= 2:
        big, small = max(sizes), min(sizes)
        ratio = results[big]["move_s"] / results[small]["move_s"]
        print(f"move time ratio {big:,}/{small:,}: {ratio:.2f} (target <= 1.20)")
        worst_paint = max(r["first_paint_s"] for r in results.values())
        worst_rss = max(r["peak_rss_mb"] for r in results.values())
        print(
            f"targets: first paint <= 0.8 s: {'ok' if worst_paint <= 0.8 else 'MISSED'} ({worst_paint:.3f} s); "
            f"RSS <= 150 MB: {'ok' if worst_rss <= 150 else 'MISSED'} ({worst_rss:.1f} MB); "
            f"move ratio <= 1.2: {'ok' if ratio <= 1.2 else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
