"""What storing N synced messages costs in the cache, and what each secondary index of `messages` adds to it.

Run: .venv/bin/python bench/store_bench.py [--messages 10000] [--repeat 3] [--quick]

The sync's two writes are timed as the IMAP sync does them, 500 rows per transaction: the envelope pass
(`Cache.store_messages`, threading included) and the body pass (`Cache.store_bodies`). Envelopes are parsed before the
clock starts (sync_bench's generator, same seed). Each variant builds a fresh cache; "without X" drops that one index
first, "without threading" replaces the conversation pass with nothing. Best of R. Figures only, no target.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from sync_bench import generate  # noqa: E402

from tui_mail.mime import parse_envelope  # noqa: E402
from tui_mail.models import Role  # noqa: E402
from tui_mail.store import cache as cache_mod  # noqa: E402
from tui_mail.store.cache import Cache, NewMessage  # noqa: E402

INDEXES = [
    "messages_by_search_doc",
    "messages_search_todo",
    "messages_all_by_date",
    "messages_all_by_conversation",
    "messages_by_thread_id",
    "messages_by_conversation",
    "messages_by_date",
    "messages_without_body",
]
FLAG_MAP = {"S": "\\Seen", "F": "\\Flagged", "R": "\\Answered", "D": "\\Draft"}


def corpus(n: int) -> list[tuple[NewMessage, bytes]]:
    out = []
    for uid, g in enumerate(generate(n, 1, "me@example.org"), start=1):
        raw = g.raw.replace(b"\n", b"\r\n")
        head = raw[: raw.find(b"\r\n\r\n") + 4]
        flags = frozenset(FLAG_MAP[c] for c in g.flags if c in FLAG_MAP)
        out.append((NewMessage(parse_envelope(head, len(raw)), uid=uid, flags=flags), raw))
    return out


def run(msgs: list[tuple[NewMessage, bytes]], drop: str | None, no_threads: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        cache = Cache(Path(d) / "c.sqlite3")
        if drop:
            cache.conn.execute(f"DROP INDEX {drop}")
        inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
        real_link = cache_mod.threads.link_batch
        if no_threads:
            cache_mod.threads.link_batch = lambda c, items: None  # type: ignore[assignment]
        try:
            t0 = time.perf_counter()
            ids: list[int] = []
            for i in range(0, len(msgs), 500):
                part = [m for m, _raw in msgs[i : i + 500]]
                ids += cache.store_messages(inbox, part, uidvalidity=1, last_uid=part[-1].uid)
            t1 = time.perf_counter()
            by_uid = dict(zip([m.uid for m, _ in msgs], ids, strict=True))  # store sorts by date: map back by uid
            for i in range(0, len(msgs), 500):
                cache.store_bodies([(by_uid[m.uid], raw, None) for m, raw in msgs[i : i + 500]])
            t2 = time.perf_counter()
        finally:
            cache_mod.threads.link_batch = real_link
        cache.close()
    return t1 - t0, t2 - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="only all indexes and without threading")
    args = ap.parse_args()
    msgs = corpus(args.messages)
    variants: list[tuple[str, str | None, bool]] = [("all indexes", None, False)]
    if not args.quick:
        variants += [(f"without {ix}", ix, False) for ix in INDEXES]
    variants += [("without threading", None, True)]
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):  # interleaved rounds, best of R
        for label, drop, no_threads in variants:
            env, bodies = run(msgs, drop, no_threads)
            old = best.get(label)
            best[label] = (min(old[0], env), min(old[1], bodies)) if old else (env, bodies)
    base_env, base_bodies = best["all indexes"]
    print(f"{args.messages} messages, best of {args.repeat}; envelope pass / body pass seconds (difference to all)")
    print(f"{'variant':42} {'envelopes':>10} {'diff':>7} {'bodies':>8} {'diff':>7}")
    for label, (env, bodies) in best.items():
        print(f"{label:42} {env:10.3f} {env - base_env:+7.3f} {bodies:8.3f} {bodies - base_bodies:+7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
