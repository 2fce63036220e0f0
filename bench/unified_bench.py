"""Unified inbox benchmark: 3 accounts x 100,000 messages read as one list (the merged list's first page, scrolling
page by page, far jumps, a row's position) and the same in the UI (first paint after `0`, moving with `j`, PageDown
and End), next to one account's 100,000-message Inbox.

Usage: .venv/bin/python bench/unified_bench.py [--accounts 3] [--size 100000] [--moves 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ui_bench import build_cache, peak_rss_mb  # noqa: E402

SIZE = (120, 36)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def core(data_dir: Path, names: list[str]) -> None:
    from tui_mail.models import Role
    from tui_mail.store.cache import Cache
    from tui_mail.store.unified import INBOXES, UnifiedCache, members_for

    caches = [(n, Cache(data_dir / f"{n}.sqlite3")) for n in names]
    one = caches[0][1]
    inbox = one.folder_by_role(Role.INBOX)
    assert inbox is not None

    def timed(fn):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        out = fn()
        return time.perf_counter() - started, out

    u = UnifiedCache(members_for(caches))
    t_count, total = timed(lambda: u.count(INBOXES))
    t_first, _ = timed(lambda: u.window(INBOXES, 0, 100))
    t_single_first, _ = timed(lambda: one.window(inbox.id, 0, 100))
    pages = []
    for p in range(1, 201):
        t, rows = timed(lambda p=p: u.window(INBOXES, p * 100, 100))
        assert len(rows) == 100
        pages.append(t)
    single_pages = [timed(lambda p=p: one.window(inbox.id, p * 100, 100))[0] for p in range(1, 201)]
    fresh = UnifiedCache(members_for(caches))
    fresh.count(INBOXES)
    t_mid, _ = timed(lambda: fresh.window(INBOXES, total // 2, 100))
    t_end, last = timed(lambda: fresh.window(INBOXES, total - 100, 100))
    t_single_end, _ = timed(lambda: one.window(inbox.id, one.count(inbox.id) - 100, 100))
    t_pos, pos = timed(lambda: fresh.position(INBOXES, last[-1].id))
    assert pos == total - 1
    print(f"core: {len(names)} accounts, {total:,} messages in their Inboxes")
    print(f"  count {ms(t_count)}; first page {ms(t_first)} (one account's Inbox: {ms(t_single_first)})")
    print(
        f"  scrolling 200 pages: median {ms(statistics.median(pages))}, max {ms(max(pages))} per page "
        f"(one account: median {ms(statistics.median(single_pages))}, max {ms(max(single_pages))})"
    )
    print(
        f"  jump to the middle {ms(t_mid)}, to the end {ms(t_end)} (one account's end: {ms(t_single_end)}); "
        f"position of the last row {ms(t_pos)}"
    )


def ui(data_dir: Path, names: list[str], moves: int) -> None:
    from textual import events

    from tui_mail.accounts import AccountManager
    from tui_mail.config import AccountConfig, Config, ServerConfig
    from tui_mail.ui.app import MailApp
    from tui_mail.ui.widgets.message_list import MessageList

    accounts = tuple(
        AccountConfig(
            name=n,
            email=f"{n}@bench.example",
            protocol="imap",
            incoming=ServerConfig(host=f"imap.{n}.invalid", port=993),
            smtp=ServerConfig(host=f"smtp.{n}.invalid", port=465),
        )
        for n in names
    )
    config = Config(path=None, accounts=accounts)
    manager = AccountManager(config, data_dir=data_dir, offline=True)
    app = MailApp(config, manager, sync_on_start=False, show_clock=False, preview_delay=0.15)
    app.start_index = lambda account: None  # type: ignore[method-assign]  # the bench caches need no search index
    painted: list[float] = []
    original = MessageList.render_line

    def timed_render_line(self: MessageList, y: int):  # type: ignore[no-untyped-def]
        strip = original(self, y)
        if self.source is not None and self.source.account != names[0] and self.row_count and not painted:
            painted.append(time.perf_counter())
        return strip

    MessageList.render_line = timed_render_line  # type: ignore[method-assign]

    async def until_idle(ml: MessageList) -> None:
        while any(n._message_queue.qsize() for n in (app, app.screen, ml)):
            await asyncio.sleep(0.001)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            ml = app.query_one(MessageList)
            # One account's 100k Inbox first, for comparison: j moves there.
            started = time.perf_counter()
            for _ in range(moves):
                app.post_message(events.Key("j", "j"))
            while ml.cursor != moves:
                await asyncio.sleep(0.001)
            await until_idle(ml)
            single_move = time.perf_counter() - started
            started = time.perf_counter()
            app.post_message(events.Key("0", "0"))
            while not painted:
                await asyncio.sleep(0.001)
            first_paint = painted[0] - started
            await until_idle(ml)
            started = time.perf_counter()
            for _ in range(moves):
                app.post_message(events.Key("j", "j"))
            while ml.cursor != moves:
                await asyncio.sleep(0.001)
            await until_idle(ml)
            move = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(100):
                app.post_message(events.Key("pagedown", None))
            await until_idle(ml)
            await pilot.pause()
            pagedown = time.perf_counter() - started
            started = time.perf_counter()
            app.post_message(events.Key("end", None))
            while ml.cursor != ml.row_count - 1:
                await asyncio.sleep(0.001)
            await until_idle(ml)
            await pilot.pause()
            end = time.perf_counter() - started
            print(f"UI ({SIZE[0]}x{SIZE[1]} headless): {ml.row_count:,} rows in All inboxes")
            print(
                f"  one account's Inbox: {moves} x j: {ms(single_move)} ({1000 * single_move / moves:.2f} ms per move)"
            )
            print(
                f"  first paint after 0: {ms(first_paint)}; {moves} x j: {ms(move)} ({1000 * move / moves:.2f} ms "
                f"per move); 100 x PageDown: {ms(pagedown)}; End: {ms(end)}; rows held {ml.cached_row_count}"
            )

    asyncio.run(run())
    manager.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=1000)
    args = parser.parse_args(argv)
    names = [f"acct{i + 1}" for i in range(args.accounts)]
    with tempfile.TemporaryDirectory(prefix="tui-mail-unified-bench-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        for n in names:
            build_cache(data_dir / f"{n}.sqlite3", args.size)
        print(
            f"built {args.accounts} caches x {args.size:,} in {time.perf_counter() - started:.1f} s "
            f"(Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        core(data_dir, names)
        ui(data_dir, names, args.moves)
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
