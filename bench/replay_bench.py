"""Replay benchmark: how fast queued local changes reach a private Dovecot, and what claiming the queue costs.

Run: .venv/bin/python bench/replay_bench.py [--messages N] [--profile rich|plain|both] [--claim N]

For each server shape: N messages are appended, synced, then N flag changes, N/2 moves and N/4 deletes are queued
(each as its own user action, the worst case for grouping); the replay is timed (one sync: replay + folder sync)
and the server is checked (every message once, where it should be). Separately, claiming a queue of --claim
actions (the atomic UPDATE ... WHERE state='queued' a replay starts with) is timed on a file cache.
Prints figures only; exit status 1 when the server does not match what was queued.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.servers import make_certificates, new_root, start_dovecot  # noqa: E402
from tui_mail.backends.imap import ImapBackend  # noqa: E402
from tui_mail.models import FLAGGED, SEEN, Envelope  # noqa: E402
from tui_mail.store.cache import Cache, NewMessage  # noqa: E402
from tui_mail.store.local_changes import replay_owner  # noqa: E402


def message(i: int) -> bytes:
    return (
        f"From: Bench <bench@example.test>\r\nTo: me@example.test\r\nSubject: bench {i:06d}\r\n"
        f"Message-ID: <bench-{i}@example.test>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nBody {i}.\r\n"
    ).encode()


def run_profile(root: Path, certs: object, profile: str, n: int) -> bool:
    server = start_dovecot(root / profile, certs, profile=profile)  # type: ignore[arg-type]
    try:
        user = server.add_user()
        keep = server.folder_name("Keep")
        client = server.imap_client(user)
        client.create_folder(keep)
        for i in range(n):
            client.append("INBOX", message(i))
        with tempfile.TemporaryDirectory() as tmp:
            backend = ImapBackend(server.imap_account(user), user.password, Cache(Path(tmp) / "c.db"))
            backend.sync()
            cache = backend.cache
            inbox, dest = cache.folder_by_name("INBOX"), cache.folder_by_name(keep)
            assert inbox is not None and dest is not None
            rows = cache.window(inbox.id, 0, n)
            rows.sort(key=lambda r: r.subject)
            t0 = time.perf_counter()
            for r in rows:
                cache.set_flags([r.id], add=[SEEN, FLAGGED])
            for r in rows[: n // 2]:
                cache.move([r.id], dest.id)
            for r in rows[n // 2 : n // 2 + n // 4]:
                cache.delete([r.id])
            queued = len(cache.pending_actions())
            t_queue = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = backend.sync()
            t_replay = time.perf_counter() - t0
            backend.close()
        client.select_folder(keep, readonly=True)
        in_keep = len(client.search(["ALL"]))
        client.select_folder("INBOX", readonly=True)
        in_inbox = len(client.search(["ALL"]))
        flagged = len(client.search(["FLAGGED"]))
        client.logout()
        ok = in_keep == n // 2 and in_inbox == n - n // 2 - n // 4 and flagged == in_inbox
        print(
            f"{profile:5}  {queued:6d} actions queued in {t_queue:6.2f} s   replayed ({result.actions_replayed}) + "
            f"folder sync in {t_replay:6.2f} s = {queued / t_replay:7.0f} actions/s   "
            f"server: Keep {in_keep}, INBOX {in_inbox} ({flagged} flagged) {'OK' if ok else 'MISMATCH'}"
        )
        return ok
    finally:
        server.stop()


def claim_figure(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(Path(tmp) / "c.db")
        folder = cache.ensure_folder("INBOX")
        envs = [NewMessage(Envelope(message_id=f"<{i}@x>", subject=f"s{i}"), uid=i + 1) for i in range(count)]
        ids = cache.store_messages(folder, envs, uidvalidity=1, last_uid=count)
        cache.set_flags(ids, add=[SEEN])
        t0 = time.perf_counter()
        with replay_owner() as owner:
            got = cache.claim_actions(owner)
        t_claim = time.perf_counter() - t0
        t0 = time.perf_counter()
        items = cache.pending_list()
        t_list = time.perf_counter() - t0
        print(
            f"claim  {len(got)} queued actions claimed in {t_claim * 1000:.0f} ms; "
            f"pending_list() of {len(items)} in {t_list * 1000:.0f} ms"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--profile", choices=["rich", "plain", "both"], default="both")
    p.add_argument("--claim", type=int, default=10_000)
    args = p.parse_args()
    root = new_root("tui-mail-replay-bench-")
    ok = True
    try:
        certs = make_certificates(root / "certs")
        for profile in ["rich", "plain"] if args.profile == "both" else [args.profile]:
            ok = run_profile(root, certs, profile, args.messages) and ok
        claim_figure(args.claim)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
