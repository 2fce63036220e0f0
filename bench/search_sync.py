"""search_bench.py --sync N: what indexing costs a full IMAP sync, measured in one run against a private Dovecot.

Each round syncs the same N generated messages into a fresh cache twice, in alternating order: once with indexing
disabled (the sync alone), once as `tui-mail sync` does it with indexing on (the sync, then the index pass over what
it stored). An untimed sync first warms Dovecot; every sync runs in a fresh child process. The sync path itself does
no FTS work: a stored row waits in messages_search_todo for that pass (the UI runs it in a background worker after
the sync). Best of the rounds is reported for each figure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SLOWDOWN = 0.15


def _sync_once(incoming: dict[str, Any], password: str, path: Path, index: bool) -> tuple[float, float, int]:
    """(sync seconds, index seconds, messages stored) of a full sync into a fresh cache at path, in a fresh child
    process (nothing warmed or left over by the previous run)."""
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    spec = json.dumps({"incoming": incoming, "password": password, "path": str(path), "index": index})
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), spec], capture_output=True, text=True, cwd=ROOT
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            sync_s, index_s, stored = json.loads(line[7:])
            return float(sync_s), float(index_s), int(stored)
    raise RuntimeError(f"the sync child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _child(spec: dict[str, Any]) -> None:
    from tui_mail.backends.imap import ImapBackend
    from tui_mail.config import AccountConfig, ServerConfig
    from tui_mail.store import search_index
    from tui_mail.store.cache import Cache

    account = AccountConfig(
        name="bench",
        email="bench@example.test",
        protocol="imap",
        incoming=ServerConfig(**spec["incoming"]),
        download="full",
        idle=False,
    )
    password, path, index = spec["password"], Path(spec["path"]), spec["index"]
    cache = Cache(path)
    t0 = time.perf_counter()
    backend = ImapBackend(account, password, cache)
    result = backend.sync()
    backend.close()
    sync_s = time.perf_counter() - t0
    index_s = 0.0
    if index:
        t1 = time.perf_counter()
        search_index.index_pending(cache)
        index_s = time.perf_counter() - t1
        assert search_index.backlog(cache) == 0
    cache.close()
    print("RESULT " + json.dumps([sync_s, index_s, result.new_messages]), flush=True)


def run(messages: int, rounds: int, seed: int = 1) -> int:
    """Start Dovecot, fill a Maildir with `messages` generated messages, time the syncs; exit status 0 on target."""
    from mailgen import populate

    from tests.servers import ServerUnavailable, check_environment, make_certificates, new_root, start_dovecot

    try:
        check_environment()
    except ServerUnavailable as e:
        print(f"search_bench --sync: {e}", file=sys.stderr)
        return 2
    root = new_root("tui-mail-search-sync-")
    dovecot = None
    try:
        certs = make_certificates(root / "certs")
        dovecot = start_dovecot(root / "dovecot", certs)
        user = dovecot.add_user("bench", "bench-password")
        st = os.stat(dovecot.mail_dir)
        ds = populate([dovecot.mail_dir / user.name / "Maildir"], messages, seed, user.email, st.st_uid, st.st_gid)
        dovecot.doveadm("force-resync", "-u", user.name, "INBOX")
        account = dovecot.imap_account(user, security="tls")
        incoming = dataclasses.asdict(dataclasses.replace(account.incoming, timeout=120.0))
        print(f"sync with and without indexing: {ds.messages:,} messages in a private Dovecot, best of {rounds}")
        # An untimed first sync: Dovecot reads the Maildir and builds its own cache once, for no timed run to pay.
        _sync_once(incoming, "bench-password", root / "bench.sqlite3", False)
        off: list[float] = []
        on: list[tuple[float, float]] = []
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for index in order:
                sync_s, index_s, stored = _sync_once(incoming, "bench-password", root / "bench.sqlite3", index)
                if stored != ds.messages:
                    raise RuntimeError(f"the sync stored {stored} of {ds.messages} messages")
                label = "indexing on " if index else "indexing off"
                extra = f" + index pass {index_s:.2f} s" if index else ""
                print(f"  [round {r + 1}] {label}: sync {sync_s:.2f} s{extra}", flush=True)
                if index:
                    on.append((sync_s, index_s))
                else:
                    off.append(sync_s)
        base = min(off)
        sync_on = min(s for s, _ in on)
        index_best = min(i for _, i in on)
        total_on = min(s + i for s, i in on)
        slowdown = sync_on / base - 1
        until_searchable = total_on / base - 1
        print(f"\n{'':44} {'seconds':>8} {'vs off':>8}")
        print(f"{'full sync, indexing disabled':44} {base:8.2f} {'':>8}")
        print(f"{'full sync, indexing enabled (sync itself)':44} {sync_on:8.2f} {slowdown:+8.1%}")
        print(f"{'index pass after it (background in the UI)':44} {index_best:8.2f}")
        print(f"{'sync + index pass (`tui-mail sync` process)':44} {total_on:8.2f} {until_searchable:+8.1%}")
        ok = slowdown <= TARGET_SLOWDOWN
        print(f"sync slowdown from indexing <= {TARGET_SLOWDOWN:.0%}: {'PASS' if ok else 'FAIL'} ({slowdown:+.1%})")
        print(f"until every new message is searchable: {until_searchable:+.1%} over the sync alone")
        return 0 if ok else 1
    finally:
        if dovecot is not None:
            dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
