"""SIGKILL a POP3 sync between RETR, commit, DELE and QUIT (keep and delete mode): nothing lost, nothing doubled."""

from __future__ import annotations

import random

import pytest

from tests.faults.conftest import AccountFactory, tally
from tests.faults.harness import check_pop3, seed
from tests.servers import Dovecot

pytestmark = pytest.mark.servers

COUNT = 60  # three commit batches: 25, 25 and 10 in delete mode; 10, 20 and 30 in keep mode (growing)
POINTS = [
    "pop3.after_retr:1",
    "pop3.after_retr:30",
    "cache.mid_transaction:3",
    "pop3.after_commit:1",
    "pop3.after_commit:3",
    "pop3.after_dele:1",
    "pop3.after_dele:40",
    "pop3.before_quit:1",
    "pop3.after_quit:1",
]


CASES = [("delete", p) for p in POINTS] + [("keep", p) for p in POINTS if "dele" not in p]  # keep mode: no DELE


@pytest.mark.parametrize(("mode", "point"), CASES)
def test_pop3_kill_then_resume(dovecot: Dovecot, make_account: AccountFactory, mode: str, point: str) -> None:
    acct = make_account(dovecot, protocol="pop3", leave_on_server=mode == "keep")
    ids = seed(dovecot, acct.user, {"INBOX": COUNT}, tag=acct.user.name)
    r = acct.sync(fault=point)
    assert r.killed, f"{point} was not reached: {r.returncode} {r.stderr}"
    problems = check_pop3(acct, ids, complete=False)
    acct.sync_ok()
    problems += check_pop3(acct, ids, complete=True)
    tally(f"pop3 kill at hook ({mode} mode)", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("mode", ["keep", "delete"])
def test_pop3_kills_at_random_points(dovecot: Dovecot, make_account: AccountFactory, mode: str) -> None:
    rng = random.Random(mode)
    acct = make_account(dovecot, protocol="pop3", leave_on_server=mode == "keep")
    ids = seed(dovecot, acct.user, {"INBOX": COUNT}, tag=acct.user.name)
    problems: list[str] = []
    points = 0
    for _ in range(4):
        point = rng.choice(
            ["pop3.after_retr", "cache.mid_transaction"] + (["pop3.after_dele"] if mode == "delete" else [])
        )
        r = acct.sync(fault=f"{point}:{rng.randint(1, 20)}")
        points += r.killed
        problems += check_pop3(acct, ids, complete=False)
    for _ in range(2):
        points += acct.kill_after(rng.uniform(0.3, 1.0)).killed
        problems += check_pop3(acct, ids, complete=False)
    acct.sync_ok()
    problems += check_pop3(acct, ids, complete=True)
    tally(f"pop3 kill at random points ({mode} mode)", points, int(bool(problems)))
    assert not problems, "\n".join(problems)
