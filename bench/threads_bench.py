"""Threads bench: a 100,000-message folder opened threaded vs flat (first paint, each in a fresh process, runs taking
turns), then what the thread keys cost at that size: collapse all (`_`), expand one (`-`), sort by sender/subject/size
flat and threaded (`o`), and the SQL of the folded list; then one page of a list sorted by sender/subject/size
before (re-sorted per page) and now (ids ordered once in a worker, pages sliced).

Usage: .venv/bin/python bench/threads_bench.py [--size 100000] [--repeat 5]
Targets (issue 9): threaded first paint within 10% of flat; the collapsed list as fast as a flat one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ui_bench  # noqa: E402


def first_paint(data_dir: Path, threads: bool) -> tuple[float, float]:
    """(first paint from process start, from app start): the second leaves out Python start-up and imports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "UI_BENCH_THREADS": "1" if threads else "0"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "ui_bench.py"),
            *("--child", str(data_dir), "--moves", "20", "--spawned", repr(time.time())),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["first_paint_s"]), float(result["app_start_s"])


def best_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def list_costs(path: Path) -> list[tuple[str, float, float, float]]:
    """(what, count ms, first page ms, position of a row 40% down ms): what set_source/reload do on the UI thread."""
    from tui_mail.store.cache import Cache
    from tui_mail.store.list_order import ListOrder

    cache = Cache(path)
    folder = cache.folders()[0].id
    some_thread = cache.window(folder, 10, 1, order=ListOrder(threaded=True))[0].thread_id or 0
    cases = [
        ("flat, by date", ListOrder()),
        ("threaded, by date", ListOrder(threaded=True)),
        ("threaded, all collapsed (_)", ListOrder(threaded=True, collapsed=True)),
        ("threaded, all collapsed, one open", ListOrder(threaded=True, collapsed=True).toggled(some_thread)),
        ("threaded, one collapsed (-)", ListOrder(threaded=True).toggled(some_thread)),
        ("flat, reversed (oldest first)", ListOrder(reverse=True)),
        ("flat, by sender", ListOrder(sort="sender")),
        ("flat, by subject", ListOrder(sort="subject")),
        ("flat, by size", ListOrder(sort="size")),
        ("threaded, by sender", ListOrder(threaded=True, sort="sender")),
        ("threaded collapsed, by sender", ListOrder(threaded=True, sort="sender", collapsed=True)),
    ]
    out = []
    for name, order in cases:
        count = cache.count(folder, order=order)
        target = cache.window(folder, int(count * 0.4), 1, order=order)[0].id
        out.append(
            (
                name,
                best_ms(lambda o=order: cache.count(folder, order=o)),  # type: ignore[misc]
                best_ms(lambda o=order: cache.window(folder, 0, 100, order=o)),  # type: ignore[misc]
                best_ms(lambda o=order, t=target: cache.position(folder, t, order=o)),  # type: ignore[misc]
            )
        )
    cache.close()
    return out


def sorted_pages(path: Path) -> list[tuple[str, float, float, float]]:
    """(sort, one page 40% down as before: the SQL re-sorting the folder, ms; the worker's one ordering of the
    ids, ms; one page now: a slice of those ids read by id, ms) — what scrolling a sorted list costs the UI thread."""
    from tui_mail.store.cache import Cache
    from tui_mail.store.list_order import ListOrder

    cache = Cache(path)
    folder = cache.folders()[0].id
    out = []
    for sort in ("sender", "subject", "size"):
        order = ListOrder(sort=sort)
        ids = cache.ordered_ids(folder, order=order)
        middle = int(len(ids) * 0.4)
        out.append(
            (
                f"flat, by {sort}",
                best_ms(lambda o=order, m=middle: cache.window(folder, m, 100, order=o)),  # type: ignore[misc]
                best_ms(lambda o=order: cache.ordered_ids(folder, order=o)),  # type: ignore[misc]
                best_ms(lambda page=ids[middle : middle + 100]: cache.rows(page)),  # type: ignore[misc]
            )
        )
    cache.close()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tui-mail-threads-bench-") as tmp:
        data_dir = Path(tmp)
        built = ui_bench.build_cache(data_dir / "bench.sqlite3", args.size)
        paints: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(max(1, args.repeat)):
            for threads in (False, True):  # taking turns, so machine load hits both alike
                paints[threads].append(first_paint(data_dir, threads))
        costs = list_costs(data_dir / "bench.sqlite3")
        pages = sorted_pages(data_dir / "bench.sqlite3")
    flat, threaded = min(p[0] for p in paints[False]), min(p[0] for p in paints[True])
    flat_app, threaded_app = min(p[1] for p in paints[False]), min(p[1] for p in paints[True])
    print(
        f"Threads bench: {args.size:,} messages in one folder (built in {built:.1f} s with the triggers), best of "
        f"{args.repeat}, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"first paint flat {flat:.3f} s, threaded {threaded:.3f} s: threaded/flat {threaded / flat:.2f} (target <= 1.10)"
    )
    print(
        f"  of which the app (start to first row): flat {flat_app:.3f} s, threaded {threaded_app:.3f} s: "
        f"{threaded_app / flat_app:.2f}"
    )
    print(f"{'list':36} {'count':>9} {'page 1':>9} {'position':>9}")
    for name, count_ms, page_ms, pos_ms in costs:
        print(f"{name:36} {count_ms:>7.1f}ms {page_ms:>7.1f}ms {pos_ms:>7.1f}ms")
    print("collapse all = count + position + page 1 of 'all collapsed'; sort = the same for 'by sender'.")
    print(f"{'scrolling a sorted list':36} {'before':>9} {'order':>9} {'page now':>9}")
    for name, before_ms, order_ms, page_ms in pages:
        print(f"{name:36} {before_ms:>7.1f}ms {order_ms:>7.1f}ms {page_ms:>7.1f}ms")
    print("before = a 100-row page re-sorting the folder on the UI thread (each page); order = once, in a worker;")
    print("page now = the UI thread's cost per page (a slice of the ordered ids, rows read by id).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
