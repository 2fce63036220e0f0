"""What planning a full download's bodies holds in memory for a 100,000-message folder: the whole folder's rows at
once (as before storeperf) vs BODY_WINDOW rows at a time (tracemalloc peaks of the plan alone; figures only).

Run: .venv/bin/python bench/body_plan_bench.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_mail.backends.imap_folder_sync import BODY_WINDOW, chunks, split_by_size
from tui_mail.models import Envelope, Role
from tui_mail.store.cache import Cache, NewMessage


def plan(todo: list[tuple[int, int, int, int]]) -> Any:
    """What fetch_bodies builds from its rows: uid -> row, uid -> size, the UIDs, the FETCH parts."""
    ids = {uid: mid for mid, uid, _size, _date in todo}
    sizes = {uid: size for _mid, uid, size, _date in todo}
    uids = [uid for _mid, uid, _size, _date in todo]
    parts = [p for c in chunks(uids, 500) for p in split_by_size(c, sizes, 16 << 20)]
    return ids, sizes, uids, parts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=100_000)
    args = ap.parse_args()
    rnd = random.Random(1)
    with tempfile.TemporaryDirectory() as d:
        cache = Cache(Path(d) / "c.db")
        folder = cache.ensure_folder("INBOX", "/", Role.INBOX)
        for i in range(0, args.messages, 5000):
            part = range(i, min(i + 5000, args.messages))
            envs = [
                Envelope(message_id=f"<{j}@x>", date=1_600_000_000 + rnd.randrange(10**8), size=rnd.randrange(10**5))
                for j in part
            ]
            cache.store_messages(
                folder, [NewMessage(e, uid=j + 1) for e, j in zip(envs, part, strict=True)], uidvalidity=1
            )
        tracemalloc.start()
        whole = cache.bodies_missing(folder)
        held = plan(whole)
        print(f"whole folder at once: {len(whole)} rows, peak {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB")
        del whole, held
        tracemalloc.stop()
        tracemalloc.start()
        before: tuple[int, int] | None = None
        n = 0
        while todo := cache.bodies_missing(folder, BODY_WINDOW, before):
            before, n = (todo[-1][3], todo[-1][0]), n + len(todo)
            held = plan(todo)
            del todo, held
        print(f"windows of {BODY_WINDOW}: {n} rows, peak {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB")
        cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
