"""SIGKILL `tui-mail sync` at named stages and at random moments, resume, and check that cache and server agree."""

from __future__ import annotations

import random
import sqlite3

import pytest

from tests.faults.conftest import AccountFactory, tally
from tests.faults.harness import ACCOUNT, FaultAccount, cache_snapshot, check_imap, check_partial, ids_of, seed
from tests.servers import Dovecot

pytestmark = pytest.mark.servers

LAYOUT = {"INBOX": 120, "Work": 50, "Lists": 30}

# Stages of a first sync (three folders with mail; 200 rows written in all).
FIRST_SYNC_POINTS = [
    "imap.after_fetch:1",
    "imap.after_fetch:3",
    "cache.mid_transaction:1",
    "cache.mid_transaction:77",
    "imap.after_commit:1",
    "imap.after_commit:2",
]
# Stages of replaying local changes (flag, unflag, move, delete) and of the folder sync after it.
REPLAY_POINTS = [
    "imap.replay_start:1",
    "imap.replayed:1",
    "imap.after_move:1",
    "imap.replayed:3",
    "imap.replayed:4",
    "imap.after_flags:1",
]


def _seeded(server: Dovecot, make_account: AccountFactory) -> tuple[FaultAccount, set[str]]:
    acct = make_account(server)
    return acct, seed(server, acct.user, LAYOUT, tag=acct.user.name)


def local_changes(acct: FaultAccount) -> set[str]:
    """Flag, mark unread, move and delete some messages offline, as a user would; returns the Message-IDs that
    must exist afterwards (a delete without a Trash folder removes for good)."""
    mgr = acct.manager()
    try:
        cache = mgr.cache(ACCOUNT)
        inbox = cache.folder_by_name("INBOX")
        work = cache.folder_by_name(acct.server.folder_name("Work"))
        assert inbox is not None and work is not None
        ids = [r.id for r in cache.window(inbox.id, 0, 40)]
        mgr.flag(ACCOUNT, ids[0:10])
        mgr.mark_read(ACCOUNT, ids[10:20], read=False)
        mgr.move(ACCOUNT, ids[20:30], work.id)
        mgr.delete(ACCOUNT, ids[30:35])
    finally:
        mgr.close()
    return set(ids_of(cache_snapshot(acct.db)[0]))


def pending(acct: FaultAccount) -> int:
    conn = sqlite3.connect(acct.db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM pending_actions").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("point", FIRST_SYNC_POINTS)
def test_kill_during_first_sync_then_resume(imap_server: Dovecot, make_account: AccountFactory, point: str) -> None:
    acct, ids = _seeded(imap_server, make_account)
    r = acct.sync(fault=point)
    assert r.killed, f"{point} was not reached: {r.returncode} {r.stderr}"
    problems = check_partial(acct)
    acct.sync_ok()
    problems += check_imap(acct, ids)
    tally(f"imap kill at hook ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("point", REPLAY_POINTS)
def test_kill_during_replay_then_resume(imap_server: Dovecot, make_account: AccountFactory, point: str) -> None:
    acct, _ids = _seeded(imap_server, make_account)
    acct.sync_ok()
    expected = local_changes(acct)
    r = acct.sync(fault=point)
    assert r.killed, f"{point} was not reached: {r.returncode} {r.stderr}"
    problems = check_partial(acct)
    acct.sync_ok()
    if pending(acct):
        problems.append(f"{pending(acct)} local change(s) still pending after the resumed sync")
    problems += check_imap(acct, expected)
    tally(f"imap kill during replay ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


def test_kills_at_random_points_then_resume(imap_server: Dovecot, make_account: AccountFactory) -> None:
    """A seeded series of kills: at random row counts inside the store transaction and at random moments, each
    resumed by the next run; every intermediate cache is consistent and the last resume completes the sync."""
    rng = random.Random(6 if imap_server.profile == "rich" else 7)
    acct, ids = _seeded(imap_server, make_account)
    problems: list[str] = []
    points = 0
    for _ in range(3):
        r = acct.sync(fault=f"cache.mid_transaction:{rng.randint(1, 60)}")
        points += 1
        problems += check_partial(acct)
        if not r.killed:
            break
    for _ in range(3):
        points += acct.kill_after(rng.uniform(0.3, 1.2)).killed
        problems += check_partial(acct)
    acct.sync_ok()
    expected = local_changes(acct)
    for _ in range(2):
        points += acct.kill_after(rng.uniform(0.3, 1.0)).killed
        problems += check_partial(acct)
    acct.sync_ok()
    problems += check_imap(acct, expected | (ids & expected))
    tally(f"imap kill at random points ({imap_server.profile})", points, int(bool(problems)))
    assert not problems, "\n".join(problems)
