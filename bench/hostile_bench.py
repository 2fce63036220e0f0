"""UI bench for hostile sizes (issue 8, "never freeze"): a 2 MB one-line message at the top of the Inbox, 50,000
short lines, 5 MB of HTML tables. Each run is a fresh Python process over a fresh cache.

Usage: .venv/bin/python bench/hostile_bench.py [--repeat 3] [--keys 40]
Prints: time to first paint of the list with the 2 MB message on top, time until its body shows (cut, with the
marker), and key latency (post a key, wait until the cursor moved) while each hostile body renders in its worker.
Budgets: first paint <= 1.0 s, worst key latency while rendering <= 100 ms (median <= 30 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 36)
BUDGET_PAINT_S = 1.0
BUDGET_WORST_KEY_MS = 100.0
BUDGET_MEDIAN_KEY_MS = 30.0


def _msg(subject: str, day: int, ctype: str, body: bytes) -> bytes:
    head = (
        f"From: Hostile Sender <hostile@bench.example>\r\nTo: bench@bench.example\r\nSubject: {subject}\r\n"
        f"Date: {day:02d} Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '-')}@bench.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {ctype}; charset=utf-8\r\n\r\n"
    )
    return head.encode() + body


def messages() -> list[bytes]:
    row = b"<tr>" + b"".join(b"<td>cell %d</td>" % i for i in range(10)) + b"</tr>\n"
    # Each hostile message has a small one just below it: keys bounce between the two, so each row times one body.
    out = [
        _msg("One 2 MB line", 20, "text/plain", b"x" * 2_000_000 + b"\r\n"),
        _msg("50,000 short lines", 18, "text/plain", b"".join(b"line %d\r\n" % i for i in range(50_000))),
        _msg("5 MB of HTML tables", 16, "text/html", b"<table>" + row * (5_000_000 // len(row)) + b"</table>"),
    ]
    days = [19, 17, 15] + [10 - n % 9 for n in range(27)]
    out += [_msg(f"Small message {n}", day, "text/plain", b"Hello.\r\n") for n, day in enumerate(days)]
    return out


def build_cache(path: Path) -> None:
    from tui_mail.mime import parse_envelope
    from tui_mail.models import Role
    from tui_mail.store.cache import Cache, NewMessage

    cache = Cache(path)
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    raws = messages()
    cache.store_messages(
        inbox,
        [NewMessage(parse_envelope(raw), uid=i + 1, flags=frozenset(), raw=raw) for i, raw in enumerate(raws)],
        uidvalidity=1,
        last_uid=len(raws),
    )
    cache.close()


def child(data_dir: Path, keys: int, spawned: float) -> dict[str, object]:
    import asyncio

    from textual import events

    os.environ["TUI_MAIL_DATA_DIR"] = str(data_dir)
    from tui_mail.accounts import AccountManager
    from tui_mail.config import AccountConfig, Config, ServerConfig, UiConfig
    from tui_mail.ui.app import MailApp
    from tui_mail.ui.widgets.message_list import MessageList

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
    )
    config = Config(path=None, accounts=(account,), ui=UiConfig(threads=False))
    manager = AccountManager(config, data_dir=data_dir, offline=True)
    app = MailApp(config, manager, sync_on_start=False, show_clock=False, preview_delay=0)
    result: dict[str, object] = {}

    async def latency_while_rendering(ml: MessageList, index: int) -> list[float]:
        """Put the cursor on a hostile message (its render starts), then bounce j/k and time each key."""
        ml.cursor = index
        await asyncio.sleep(0)
        out: list[float] = []
        for n in range(keys):
            key = "j" if n % 2 == 0 else "k"
            want = ml.cursor + (1 if key == "j" else -1)
            started = time.perf_counter()
            app.post_message(events.Key(key, key))
            while ml.cursor != want:
                await asyncio.sleep(0.0005)
            out.append((time.perf_counter() - started) * 1000)
        return out

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            while not first_paint:
                await pilot.pause(0.005)
            result["first_paint_s"] = first_paint[0] - spawned
            started = time.perf_counter()
            while app.reader.rendering or "line cut" not in app.reader.text:
                await asyncio.sleep(0.002)
            result["body_shown_s"] = time.perf_counter() - started
            await app.workers.wait_for_complete()
            ml = app.query_one(MessageList)
            for name, index in (("idle", 10), ("2mb_line", 0), ("50k_lines", 2), ("5mb_html", 4)):
                app.reader.clear()
                cold_started = time.perf_counter()
                ms = await latency_while_rendering(ml, index)
                busy = any(w.is_running for w in app.workers)
                result[f"keys_{name}"] = {
                    "median_ms": statistics.median(ms),
                    "worst_ms": max(ms),
                    "render_still_running": busy,
                }
                await app.workers.wait_for_complete()
                result[f"cold_{name}_s"] = time.perf_counter() - cold_started
                started = time.perf_counter()
                ml.cursor = index  # time to show this body again (the parse is cached) once nothing else runs
                await asyncio.sleep(0)
                while app.reader.rendering:
                    await asyncio.sleep(0.002)
                await app.workers.wait_for_complete()
                result[f"render_{name}_s"] = time.perf_counter() - started

    asyncio.run(run())
    manager.close()
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keys", type=int, default=40, help="keys pressed while each hostile body renders")
    parser.add_argument("--child", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child), args.keys, args.spawned)))
        return 0
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="tui-mail-hostile-") as tmp:
        build_cache(Path(tmp) / "bench.sqlite3")
        for _ in range(max(1, args.repeat)):
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TUI_MAIL_DATA_DIR": tmp}
            cmd = [sys.executable, __file__, "--child", tmp, "--keys", str(args.keys), "--spawned", repr(time.time())]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(
        f"Hostile-size UI bench ({SIZE[0]}x{SIZE[1]} headless, best of {len(runs)} runs, {args.keys} keys per body, "
        f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    paint = min(float(r["first_paint_s"]) for r in runs)  # type: ignore[arg-type]
    shown = min(float(r["body_shown_s"]) for r in runs)  # type: ignore[arg-type]
    print(f"first paint with a 2 MB one-line message on top: {paint:.3f} s (budget {BUDGET_PAINT_S} s)")
    print(f"its body shown (cut, with the marker):           {shown:.3f} s after first paint")
    ok = paint <= BUDGET_PAINT_S
    print(
        f"{'body':<10} {'cold':>8} {'again':>7} {'key median':>11} {'key worst':>10}  render still running during keys"
    )
    for name in ("idle", "2mb_line", "50k_lines", "5mb_html"):
        best = min(runs, key=lambda r: r[f"keys_{name}"]["worst_ms"])  # type: ignore[index]
        keys = best[f"keys_{name}"]
        render = min(float(r[f"render_{name}_s"]) for r in runs)  # type: ignore[arg-type]
        cold = min(float(r[f"cold_{name}_s"]) for r in runs)  # type: ignore[arg-type]
        print(
            f"{name:<10} {cold:>7.2f}s {render:>6.2f}s "
            f"{keys['median_ms']:>9.1f}ms {keys['worst_ms']:>8.1f}ms  "  # type: ignore[index]
            f"{keys['render_still_running']}"  # type: ignore[index]
        )
        if name == "idle":  # small messages only: the same keys with nothing big rendering, for comparison
            continue
        ok = ok and keys["worst_ms"] <= BUDGET_WORST_KEY_MS and keys["median_ms"] <= BUDGET_MEDIAN_KEY_MS  # type: ignore[index,operator]
    print(
        f"budgets: first paint <= {BUDGET_PAINT_S} s, key latency while rendering median <= {BUDGET_MEDIAN_KEY_MS} ms "
        f"and worst <= {BUDGET_WORST_KEY_MS} ms: {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
