"""The large fault run (not in CI): 10k messages, hundreds of kill points, each series resumed and checked.

    .venv/bin/python -m pytest tests/faults -m faults_large -p no:cacheprovider

Sizes: $TUI_MAIL_FAULTS_MESSAGES (default 10000), $TUI_MAIL_FAULTS_ROUNDS (default 30 series of up to 10 kills).
Prints points tried and failures per scenario, and the time of a full sync and of a resume after a late kill.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.faults.conftest import FIGURES, AccountFactory, tally
from tests.faults.harness import (
    FaultAccount,
    cache_snapshot,
    check_imap,
    check_pop3,
    ids_of,
    integrity,
    seed,
)
from tests.faults.test_imap_kills import local_changes
from tests.servers import Dovecot

pytestmark = [pytest.mark.servers, pytest.mark.faults_large]

MESSAGES = int(os.environ.get("TUI_MAIL_FAULTS_MESSAGES", "10000"))
ROUNDS = int(os.environ.get("TUI_MAIL_FAULTS_ROUNDS", "30"))
KILLS_PER_ROUND = 10


def _reset_cache(acct: FaultAccount) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{acct.db}{suffix}")
        except FileNotFoundError:
            pass


def _cheap_check(acct: FaultAccount) -> list[str]:
    """After each kill: the cache opens, is intact, holds no Message-ID twice."""
    if not acct.db.exists():
        return []
    problems = []
    ok = integrity(acct.db)
    if ok != "ok":
        problems.append(f"integrity_check: {ok}")
    doubled = [m for m, n in ids_of(cache_snapshot(acct.db)[0]).items() if n > 1 and m]
    if doubled:
        problems.append(f"{len(doubled)} Message-ID(s) twice in the cache")
    return problems


def test_large_first_sync_kills(imap_server: Dovecot, make_account: AccountFactory) -> None:
    rng = random.Random(f"large-{imap_server.profile}")
    acct = make_account(imap_server)
    ids = seed(imap_server, acct.user, {"INBOX": MESSAGES - MESSAGES // 10, "Work": MESSAGES // 10}, tag="L")
    chunks = (MESSAGES - MESSAGES // 10) // 500
    # Figures: a full first sync, and a resume after a kill with all but the last chunk of INBOX cached.
    t0 = time.monotonic()
    acct.sync_ok()
    full = time.monotonic() - t0
    _reset_cache(acct)
    if chunks > 1:
        assert acct.sync(fault=f"imap.after_commit:{chunks - 1}").killed
        t0 = time.monotonic()
        acct.sync_ok()
        resume = time.monotonic() - t0
        FIGURES.append(
            f"{imap_server.profile}: full sync of {MESSAGES} messages {full:.1f} s; resume after a kill at the "
            f"{chunks - 1}th stored chunk {resume:.1f} s"
        )
        t0 = time.monotonic()
        acct.sync_ok()
        FIGURES.append(f"{imap_server.profile}: no-op resync of {MESSAGES} messages {time.monotonic() - t0:.1f} s")
    failures: list[str] = []
    points = 0
    for round_no in range(ROUNDS):
        _reset_cache(acct)
        problems: list[str] = []
        for _ in range(KILLS_PER_ROUND):
            kind = rng.random()
            if kind < 0.4:
                r = acct.sync(fault=f"cache.mid_transaction:{rng.randint(1, 500)}")
            elif kind < 0.7:
                r = acct.sync(fault=f"imap.after_fetch:{rng.randint(1, 3)}")
            else:
                r = acct.kill_after(rng.uniform(0.3, max(0.5, full / 3)))
            if not r.killed:
                break
            points += 1
            problems += _cheap_check(acct)
        acct.sync_ok()
        problems += check_imap(acct, ids, resync=round_no % 5 == 0)
        if problems:
            failures.append(f"round {round_no}: " + "; ".join(problems[:3]))
    tally(f"large: first-sync kills ({imap_server.profile})", points, len(failures))
    assert not failures, "\n".join(failures[:10])


def test_large_replay_kills(imap_server: Dovecot, make_account: AccountFactory) -> None:
    rng = random.Random(f"large-replay-{imap_server.profile}")
    acct = make_account(imap_server)
    seed(imap_server, acct.user, {"INBOX": MESSAGES // 5, "Work": MESSAGES // 20, "Lists": MESSAGES // 20}, tag="R")
    acct.sync_ok()
    failures: list[str] = []
    points = 0
    for round_no in range(ROUNDS):
        expected = local_changes(acct)
        problems: list[str] = []
        for _ in range(3):
            point = rng.choice(["imap.replay_start", "imap.replayed", "imap.after_move", "imap.after_flags"])
            r = acct.sync(fault=f"{point}:{rng.randint(1, 4)}")
            if not r.killed:
                break
            points += 1
            problems += _cheap_check(acct)
        acct.sync_ok()
        problems += check_imap(acct, expected, resync=round_no % 5 == 0)
        if problems:
            failures.append(f"round {round_no}: " + "; ".join(problems[:3]))
    tally(f"large: replay kills ({imap_server.profile})", points, len(failures))
    assert not failures, "\n".join(failures[:10])


@pytest.mark.parametrize("mode", ["keep", "delete"])
def test_large_pop3_kills(dovecot: Dovecot, make_account: AccountFactory, mode: str) -> None:
    rng = random.Random(f"large-pop3-{mode}")
    acct = make_account(dovecot, protocol="pop3", leave_on_server=mode == "keep")
    ids = seed(dovecot, acct.user, {"INBOX": MESSAGES // 5}, tag=f"P{mode}")
    problems: list[str] = []
    points = 0
    choices = ["pop3.after_retr", "pop3.after_commit", "cache.mid_transaction"]
    choices += ["pop3.after_dele", "pop3.before_quit", "pop3.after_quit"] if mode == "delete" else []
    for _ in range(ROUNDS * 3):
        r = acct.sync(fault=f"{(p := rng.choice(choices))}:{rng.randint(1, 1 if 'quit' in p else 60)}")
        if r.killed:
            points += 1
            problems += check_pop3(acct, ids, complete=False)
            continue
        # Everything was downloaded: check, then start over (keep mode: an empty cache; delete mode: new mail).
        problems += check_pop3(acct, ids, complete=True)
        if mode == "keep":
            _reset_cache(acct)
        else:
            ids |= seed(dovecot, acct.user, {"INBOX": MESSAGES // 20}, tag=f"P{mode}{len(ids)}")
    acct.sync_ok()
    problems += check_pop3(acct, ids, complete=True)
    tally(f"large: pop3 kills ({mode} mode)", points, int(bool(problems)))
    assert not problems, "\n".join(problems[:10])
