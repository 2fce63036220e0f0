"""A full disk under the cache (a small tmpfs as TUI_MAIL_DATA_DIR): the sync ends with one sentence and exit 1, the
cache still opens, and once there is room again the next sync completes without loss or duplicate."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import AccountFactory, tally
from tests.faults.harness import check_imap, check_pop3, integrity, one_sentence, seed
from tests.servers import Dovecot

pytestmark = pytest.mark.servers


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs; skipped with the reason when this machine does not let us mount one."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _grow(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True, capture_output=True)


def test_imap_sync_on_a_full_disk(dovecot: Dovecot, make_account: AccountFactory, small_disk: Path) -> None:
    acct = make_account(dovecot, data_dir=small_disk)
    ids = seed(dovecot, acct.user, {"INBOX": 40, "Work": 10}, tag=acct.user.name, size=60_000)
    r = acct.sync()
    problems = []
    if r.returncode != 1 or not one_sentence(r.stderr):
        problems.append(f"a full disk should end the sync with exit 1 and one sentence, got {r.returncode}: {r.stderr}")
    if acct.db.exists() and integrity(acct.db) != "ok":
        problems.append(f"integrity_check after the full disk: {integrity(acct.db)}")
    listed = acct.run("list", "acct", "INBOX", "--limit", "5")  # the cache still opens, the disk still full
    if listed.returncode != 0:
        problems.append(f"the cache does not open on the full disk ({listed.returncode}): {listed.stderr.strip()}")
    _grow(small_disk)
    acct.sync_ok()
    problems += check_imap(acct, ids)
    tally("full disk (imap)", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


def test_pop3_delete_mode_on_a_full_disk(dovecot: Dovecot, make_account: AccountFactory, small_disk: Path) -> None:
    """Delete mode must not DELE what could not be committed: every message stays on the server or in the cache."""
    acct = make_account(dovecot, protocol="pop3", leave_on_server=False, data_dir=small_disk)
    ids = seed(dovecot, acct.user, {"INBOX": 40}, tag=acct.user.name, size=60_000)
    r = acct.sync()
    problems = []
    if r.returncode != 1 or not one_sentence(r.stderr):
        problems.append(f"a full disk should end the sync with exit 1 and one sentence, got {r.returncode}: {r.stderr}")
    problems += check_pop3(acct, ids, complete=False)
    _grow(small_disk)
    acct.sync_ok()
    problems += check_pop3(acct, ids, complete=True)
    tally("full disk (pop3 delete mode)", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)
