"""Never twice: counts doubled and lost mail when `tui-mail send` is SIGKILLed while the SMTP server holds its DATA
reply (1 s by default), and when two `tui-mail sync` processes replay the same queued moves.

Starts a private Dovecot and a slow aiosmtpd (tests/servers.py), then for each run: a fresh user, `tui-mail send`
killed at a random moment within the delayed reply, then `tui-mail sync`; it counts what the recipient got
(1 = right, 2 = doubled, 0 = lost) and how many wait held for the user, for a server that files a Sent copy itself
(Gmail-like) and one that does not.
The two-process part queues 200 single moves and runs two syncs at once, then counts copies on the server.

    .venv/bin/python bench/outbox_bench.py --runs 20 --sync-runs 5
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cli(config: Path, env: dict[str, str], *args: str, stdin: str = "") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    return proc


def kill_runs(dovecot: Any, certs: Any, runs: int, delay: float, copy_to_sent: bool, seed: int) -> dict[str, int]:
    from tests.integration.test_outbox import SlowSmtp, write_config

    rng = random.Random(seed)
    counts = {"right": 0, "doubled": 0, "lost": 0, "held": 0}
    for n in range(runs):
        smtp = SlowSmtp(dovecot, certs, delay=delay, copy_to_sent=copy_to_sent)
        smtp.start()
        try:
            user, recipient = dovecot.add_user(), dovecot.add_user()
            work = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
            env = dict(os.environ, TUI_MAIL_DATA_DIR=str(work / "data"), TUI_MAIL_STATE_DIR=str(work / "state"))
            env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
            config = write_config(work / "config.toml", dovecot, smtp, user)
            send = _cli(config, env, "send", "work", "--to", recipient.email, "--subject", f"run {n}", stdin="hi\n")
            if not smtp.data_seen.wait(60):
                raise RuntimeError("the message never reached the SMTP server")
            time.sleep(rng.uniform(0, delay * 1.2))  # somewhere in the delayed reply (or just after it)
            send.kill()
            send.wait(30)
            smtp.released.set()
            smtp.delay = 0
            sync = _cli(config, env, "sync")
            sync.wait(120)
            got = len(smtp.messages_to(recipient.email))
            counts["right" if got == 1 else "doubled" if got > 1 else "lost"] += 1
            from tui_mail.store.cache import Cache

            cache = Cache(work / "data" / "work.sqlite3")
            counts["held"] += sum(1 for i in cache.outbox() if i.state == "held")
            cache.close()
        finally:
            smtp.stop()
    return counts


def sync_runs(dovecot: Any, runs: int) -> tuple[int, int]:
    """(runs with a doubled or lost message, messages doubled or lost in all) for two concurrent syncs."""
    from email.message import EmailMessage

    from tests.integration.test_one_writer import server_message_ids
    from tests.integration.test_one_writer import write_config as write_sync_config
    from tui_mail.accounts import AccountManager
    from tui_mail.config import load_config
    from tui_mail.models import Role

    bad_runs = bad_messages = 0
    for _ in range(runs):
        user = dovecot.add_user()
        client = dovecot.imap_client(user)
        for i in range(200):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "s@example.test", user.email, f"m{i}"
            msg["Message-ID"] = f"<bench-{i}@example.test>"
            msg.set_content("x\n")
            client.append("INBOX", msg.as_bytes())
        client.create_folder("A")
        client.create_folder("B")
        client.logout()
        work = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
        env = dict(os.environ, TUI_MAIL_DATA_DIR=str(work / "data"), TUI_MAIL_STATE_DIR=str(work / "state"))
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        config = write_sync_config(work / "config.toml", dovecot, user)
        _cli(config, env, "sync").wait(120)
        os.environ["TUI_MAIL_DATA_DIR"] = env["TUI_MAIL_DATA_DIR"]
        manager = AccountManager(load_config(config))
        cache = manager.cache("work")
        inbox = cache.folder_by_role(Role.INBOX)
        a, b = cache.folder_by_name("A"), cache.folder_by_name("B")
        assert inbox is not None and a is not None and b is not None
        for i, row in enumerate(cache.window(inbox.id, 0, 500)):
            manager.move("work", [row.id], (a if i % 2 else b).id)
        manager.close()
        procs = [_cli(config, env, "sync", "work") for _ in range(2)]
        for p in procs:
            p.wait(300)
        ids = server_message_ids(dovecot, user, "A") + server_message_ids(dovecot, user, "B")
        wrong = abs(len(ids) - 200) + (len(ids) - len(set(ids)))
        bad_runs += bool(wrong)
        bad_messages += wrong
    return bad_runs, bad_messages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="kills per server behaviour (default 20)")
    ap.add_argument("--delay", type=float, default=1.0, help="seconds the SMTP server holds its DATA reply")
    ap.add_argument("--sync-runs", type=int, default=5, help="two-process sync runs (default 5; 0 skips)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from tests.servers import ServerUnavailable, check_environment, make_certificates, new_root, start_dovecot

    try:
        check_environment()
    except ServerUnavailable as e:
        print(f"outbox_bench: {e}", file=sys.stderr)
        return 2
    root = new_root("tui-mail-outbox-bench-")
    certs = make_certificates(root / "certs")
    dovecot = start_dovecot(root / "dovecot", certs)
    try:
        for copy in (True, False):
            c = kill_runs(dovecot, certs, args.runs, args.delay, copy, args.seed)
            kind = "server files a Sent copy" if copy else "no server-side Sent copy"
            print(
                f"send killed during a {args.delay:g} s DATA reply, {kind}: {c['right']}/{args.runs} delivered once, "
                f"{c['doubled']} doubled, {c['lost']} lost; {c['held']} held in the outbox for the user to decide"
            )
        if args.sync_runs:
            bad_runs, bad = sync_runs(dovecot, args.sync_runs)
            print(
                f"two concurrent syncs replaying 200 queued moves: {bad_runs}/{args.sync_runs} runs with a doubled or "
                f"lost message ({bad} messages)"
            )
    finally:
        dovecot.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
