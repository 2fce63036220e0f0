"""The world changes under a sync: Dovecot restarts, another client appends/flags/expunges, a second sync process
runs at once, a folder's UIDVALIDITY changes or a move's target vanishes with actions pending."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.faults.conftest import AccountFactory, tally
from tests.faults.harness import (
    ACCOUNT,
    RUN_TIMEOUT,
    FaultAccount,
    cache_snapshot,
    check_imap,
    check_partial,
    ids_of,
    norm_id,
    one_sentence,
    seed,
    wait_stopped,
)
from tests.faults.test_imap_kills import LAYOUT, local_changes, pending
from tests.servers import Certificates, Dovecot, SmtpServer, new_root, start_dovecot

pytestmark = pytest.mark.servers


def _own(test_certs: Certificates, profile: str) -> Iterator[Dovecot]:
    root = new_root("tui-mail-faults-")
    server = start_dovecot(root, test_certs, profile=profile)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["rich", "plain"])
def own_dovecot(request: pytest.FixtureRequest, test_certs: Certificates) -> Iterator[Dovecot]:
    """A Dovecot of its own (either shape), which the test may stop and start without disturbing the others."""
    yield from _own(test_certs, request.param)


@pytest.fixture
def own_dovecot_rich(test_certs: Certificates) -> Iterator[Dovecot]:
    """A rich Dovecot of its own (POP3 does not care about the IMAP shape)."""
    yield from _own(test_certs, "rich")


def _ids_at(server: Dovecot, client: object, folder: str, uids: list[int]) -> set[str]:
    from tests.faults.harness import _MSGID

    data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])  # type: ignore[attr-defined]
    out = set()
    for d in data.values():
        m = _MSGID.search(d.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]") or b"")
        if m:
            out.add(norm_id(m.group(1)))
    return out


# -- Dovecot stops and starts mid-sync -------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["imap.after_commit:1", "imap.replayed:2"])
def test_dovecot_restart_mid_sync(own_dovecot: Dovecot, make_account: AccountFactory, point: str) -> None:
    """The server goes away while a sync is at a stage: that run ends with one sentence and exit 1; once the server
    is back (on new ports: the config is rewritten) the next sync completes without loss or duplicate."""
    acct = make_account(own_dovecot)
    expected = seed(own_dovecot, acct.user, LAYOUT, tag=acct.user.name)
    if point.startswith("imap.replayed"):
        acct.sync_ok()
        expected = local_changes(acct)
    proc = acct.start(fault=f"{point}:stop")
    assert wait_stopped(proc), f"{point} was not reached"
    own_dovecot.stop()
    os.kill(proc.pid, signal.SIGCONT)
    _out, err = proc.communicate(timeout=RUN_TIMEOUT)
    problems = []
    if proc.returncode != 1 or not one_sentence(err):
        problems.append(f"a lost server should end the sync with exit 1 and one sentence, got {proc.returncode}: {err}")
    own_dovecot.start()
    acct.write_config()
    problems += check_partial(acct)
    acct.sync_ok()
    if pending(acct):
        problems.append(f"{pending(acct)} local change(s) still pending")
    problems += check_imap(acct, expected)
    tally(f"dovecot restart mid-sync ({own_dovecot.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("point", ["pop3.after_commit:1", "pop3.after_dele:10", "pop3.before_quit:1"])
def test_dovecot_restart_mid_pop3_sync(own_dovecot_rich: Dovecot, make_account: AccountFactory, point: str) -> None:
    """POP3 delete mode loses the server mid-session: no QUIT, so no DELE takes effect; nothing lost or doubled."""
    from tests.faults.harness import check_pop3

    server = own_dovecot_rich
    acct = make_account(server, protocol="pop3", leave_on_server=False)
    expected = seed(server, acct.user, {"INBOX": 60}, tag=acct.user.name)
    proc = acct.start(fault=f"{point}:stop")
    assert wait_stopped(proc), f"{point} was not reached"
    server.stop()
    os.kill(proc.pid, signal.SIGCONT)
    _out, err = proc.communicate(timeout=RUN_TIMEOUT)
    problems = []
    if proc.returncode != 1 or not one_sentence(err):
        problems.append(f"a lost server should end the sync with exit 1 and one sentence, got {proc.returncode}: {err}")
    server.start()
    acct.write_config()
    problems += check_pop3(acct, expected, complete=False)
    acct.sync_ok()
    problems += check_pop3(acct, expected, complete=True)
    tally("dovecot restart mid-sync (pop3 delete mode)", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


# -- another client changes the mailbox during our sync ----------------------------------------------------------------


@pytest.mark.parametrize("point", ["imap.after_commit:1", "imap.replay_start:1"])
def test_other_client_appends_flags_expunges_during_sync(
    imap_server: Dovecot, make_account: AccountFactory, point: str
) -> None:
    acct = make_account(imap_server)
    expected = seed(imap_server, acct.user, LAYOUT, tag=acct.user.name)
    if point.startswith("imap.replay"):
        acct.sync_ok()
        expected = local_changes(acct)
    proc = acct.start(fault=f"{point}:stop")
    assert wait_stopped(proc), f"{point} was not reached"
    rng = random.Random(point)
    other = imap_server.imap_client(acct.user)
    try:
        appended = seed(imap_server, acct.user, {"INBOX": 5, "Lists": 5}, tag=acct.user.name + "-other", seed_value=9)
        expected |= appended
        for folder in ("INBOX", imap_server.folder_name("Lists"), imap_server.folder_name("Work")):
            other.select_folder(folder)
            uids = sorted(other.search(["ALL"]))
            flag = rng.sample(uids, 5)
            other.add_flags(flag, ["\\Flagged", "$Other"])
            other.remove_flags(flag, ["\\Seen"])
            gone = rng.sample([u for u in uids if u not in flag], 4)
            expected -= _ids_at(imap_server, other, folder, gone)
            other.delete_messages(gone)
            other.expunge()
            other.unselect_folder()
    finally:
        other.logout()
    os.kill(proc.pid, signal.SIGCONT)
    _out, err = proc.communicate(timeout=RUN_TIMEOUT)
    problems = [] if proc.returncode == 0 else [f"the sync failed ({proc.returncode}): {err.strip()}"]
    problems += check_partial(acct)
    acct.sync_ok()  # brings in what changed behind the first run's back
    problems += check_imap(acct, expected)
    tally(f"other client during sync ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


# -- two sync processes at once ----------------------------------------------------------------------------------------


def _queue_outbox(acct: FaultAccount, to: str) -> str:
    from tui_mail.mime import build_message

    mgr = acct.manager()
    try:
        msg = build_message(from_addr=acct.user.email, to=[to], subject="sent once", body="Only once, please.\n")
        assert mgr.send(ACCOUNT, msg) == "queued"
        return norm_id(str(msg["Message-ID"]))
    finally:
        mgr.close()


@pytest.mark.parametrize("point", ["imap.replay_start:1", "outbox.read:1"])
def test_two_sync_processes_at_once(
    imap_server: Dovecot,
    smtp_server: SmtpServer,
    make_account: AccountFactory,
    point: str,
) -> None:
    """Process A stops right after it read its work (pending actions, or the outbox); process B runs meanwhile;
    then A goes on. Nothing may be done twice: each message moved once, the queued mail delivered once, one copy
    in Sent."""
    acct = make_account(imap_server, smtp=smtp_server)
    seed(imap_server, acct.user, LAYOUT, tag=acct.user.name)
    acct.sync_ok()
    expected = local_changes(acct)
    rcpt = f"{acct.user.name}-{uuid.uuid4().hex[:12]}@elsewhere.test"  # unique: user names repeat across servers
    expected.add(_queue_outbox(acct, rcpt))
    a = acct.start(fault=f"{point}:stop")
    assert wait_stopped(a), f"{point} was not reached"
    b = acct.start()
    try:
        b_out, b_err = b.communicate(timeout=60)  # B may wait for A's lock: then it finishes after A
    except subprocess.TimeoutExpired:
        b_out = b_err = None
    os.kill(a.pid, signal.SIGCONT)
    _a_out, a_err = a.communicate(timeout=RUN_TIMEOUT)
    if b_out is None:
        b_out, b_err = b.communicate(timeout=RUN_TIMEOUT)
    problems = []
    for name, proc, err in (("A", a, a_err), ("B", b, b_err or "")):
        if proc.returncode not in (0, 1) or (proc.returncode == 1 and not one_sentence(err)):
            problems.append(f"process {name} ended with {proc.returncode}: {err.strip()}")
    acct.sync_ok()
    delivered = len(smtp_server.messages_to(rcpt))
    if delivered != 1:
        problems.append(f"the queued message was delivered {delivered} times")
    problems += check_imap(acct, expected)
    tally(f"two sync processes at once ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


# -- UIDVALIDITY changes with actions pending ----------------------------------------------------------------------------


def _replace_folder(server: Dovecot, acct: FaultAccount, folder: str) -> None:
    """Give a folder a new UIDVALIDITY with the same messages and flags (as a server rebuild does)."""
    client = server.imap_client(acct.user)
    try:
        client.select_folder(folder)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        client.unselect_folder()
        client.delete_folder(folder)
        client.create_folder(folder)
        for uid in sorted(data):
            flags = [f for f in data[uid][b"FLAGS"] if f.lower() != b"\\recent"]
            client.append(folder, data[uid][b"BODY[]"], flags=flags)
    finally:
        client.logout()


def test_uidvalidity_change_with_moves_pending(imap_server: Dovecot, make_account: AccountFactory) -> None:
    """Moves out of a folder and flag changes in it are pending when the folder is replaced on the server: no ghost
    rows, no message twice, nothing lost; the cache ends equal to the server."""
    acct = make_account(imap_server)
    expected = seed(imap_server, acct.user, LAYOUT, tag=acct.user.name)
    acct.sync_ok()
    work_name, lists_name = imap_server.folder_name("Work"), imap_server.folder_name("Lists")
    mgr = acct.manager()
    try:
        cache = mgr.cache(ACCOUNT)
        work, lists = cache.folder_by_name(work_name), cache.folder_by_name(lists_name)
        assert work is not None and lists is not None
        ids = [r.id for r in cache.window(work.id, 0, 20)]
        mgr.move(ACCOUNT, ids[:6], lists.id)
        mgr.flag(ACCOUNT, ids[6:12])
    finally:
        mgr.close()
    _replace_folder(imap_server, acct, work_name)
    acct.sync_ok()
    problems = check_imap(acct, expected)
    tally(f"uidvalidity change with moves pending ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


def test_refused_move_keeps_the_message(imap_server: Dovecot, make_account: AccountFactory) -> None:
    """The target folder of a pending move is deleted on the server (MOVE/COPY refused with TRYCREATE): the
    message stays where the server has it, in the cache too; nothing vanishes."""
    acct = make_account(imap_server)
    seed(imap_server, acct.user, LAYOUT, tag=acct.user.name)
    acct.sync_ok()
    lists_name = imap_server.folder_name("Lists")
    mgr = acct.manager()
    try:
        cache = mgr.cache(ACCOUNT)
        inbox, lists = cache.folder_by_name("INBOX"), cache.folder_by_name(lists_name)
        assert inbox is not None and lists is not None
        mgr.move(ACCOUNT, [r.id for r in cache.window(inbox.id, 0, 3)], lists.id)
    finally:
        mgr.close()
    client = imap_server.imap_client(acct.user)
    try:
        client.select_folder(lists_name, readonly=True)
        gone = _ids_at(imap_server, client, lists_name, client.search(["ALL"]))
        client.unselect_folder()
        client.delete_folder(lists_name)
    finally:
        client.logout()
    expected = set(ids_of(cache_snapshot(acct.db)[0])) - gone
    r = acct.sync()
    problems = [] if r.returncode == 0 else [f"the sync failed ({r.returncode}): {r.stderr.strip()}"]
    acct.sync()  # the refusal may be reported once; the next sync settles
    problems += check_imap(acct, expected)
    tally(f"refused move, TRYCREATE ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)
