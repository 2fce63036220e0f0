"""Export/import benchmark: N generated messages (the sync bench's corpus) out of a cache to Maildir and mbox and back.

Run: .venv/bin/python bench/mail_io_bench.py [--messages N] [--seed S] [--keep]

The parent fills a cache with the generated corpus (timed: the cache-write part of a sync, without any network), then
runs each phase in a fresh child process so each gets its own peak RSS: export to Maildir, export to mbox, import of
each into an empty cache (with the search index filled, as `tui-mail import` does). Prints one line per phase.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(work: Path, n: int, seed: int) -> float:
    from sync_bench import generate

    from tui_mail.mailbox_io import _MAILDIR_FLAGS
    from tui_mail.mime import parse_envelope
    from tui_mail.models import Role
    from tui_mail.store.cache import Cache, NewMessage

    cache = Cache(work / "source.sqlite3")
    folder = cache.ensure_folder("INBOX", "/", Role.INBOX)
    started = time.perf_counter()
    batch: list[NewMessage] = []
    for g in generate(n, seed, "bench@example.test"):
        flags = frozenset(_MAILDIR_FLAGS[c] for c in g.flags if c in _MAILDIR_FLAGS)
        batch.append(NewMessage(parse_envelope(g.raw), flags=flags, raw=g.raw))
        if len(batch) == 500:
            cache.store_messages(folder, batch)
            batch = []
    cache.store_messages(folder, batch)
    cache.close()
    return time.perf_counter() - started


def phase(name: str, work: Path) -> dict[str, float]:
    from tui_mail.store.cache import Cache
    from tui_mail.store.search_index import index_pending
    from tui_mail.transfer import export_folders, import_mailbox

    started = time.perf_counter()
    if name.startswith("export-"):
        fmt = name.split("-", 1)[1]
        cache = Cache(work / "source.sqlite3")
        inbox = cache.folder_by_name("INBOX")
        assert inbox is not None
        result = export_folders(cache, [inbox], fmt, work / f"out-{fmt}", single=True)
        count = result.done
    else:
        fmt = name.split("-", 1)[1]
        cache = Cache(work / f"imported-{fmt}.sqlite3")
        folder = cache.ensure_folder("Imported", "/", local_only=True)
        count = import_mailbox(cache, folder, work / f"out-{fmt}").done
        stored = time.perf_counter() - started
        index_pending(cache)
        return {
            "seconds": time.perf_counter() - started,
            "stored": stored,
            "messages": count,
            "rss_mb": _rss_mb(),
        }
    return {"seconds": time.perf_counter() - started, "messages": count, "rss_mb": _rss_mb()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", "-n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        print(json.dumps(phase(args.phase, Path(args.work))))
        return 0
    work = Path(tempfile.mkdtemp(prefix="tui-mail-io-bench-"))
    try:
        seconds = fill(work, args.messages, args.seed)
        size = (work / "source.sqlite3").stat().st_size / 1e6
        print(f"cache fill (parse + store, no network): {args.messages:,} messages, {seconds:.1f} s, {size:.0f} MB")
        for name in ("export-maildir", "export-mbox", "import-maildir", "import-mbox"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", name, "--work", str(work)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout)
            split = f"  (stored in {r['stored']:.1f} s, then search index)" if "stored" in r else ""
            print(
                f"{name:15s} {r['messages']:>7,} messages  {r['seconds']:6.1f} s  peak RSS {r['rss_mb']:6.1f} MB{split}"
            )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
