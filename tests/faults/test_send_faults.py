"""SIGKILL while the outbox is sent: between reading it, SMTP DATA, the outbox update and the APPEND to Sent. The
recipient gets the message once and Sent holds one copy."""

from __future__ import annotations

import uuid

import pytest

from tests.faults.conftest import AccountFactory, tally
from tests.faults.harness import check_imap, held_for_user, seed
from tests.faults.test_imap_world import _queue_outbox
from tests.servers import Dovecot, SmtpServer

pytestmark = pytest.mark.servers


@pytest.mark.parametrize(
    "point",
    [
        "outbox.read:1",
        "smtp.after_data:1",
        "outbox.after_update:1",
        "imap.after_append:1",
    ],
)
def test_kill_while_sending_then_resume(
    imap_server: Dovecot,
    smtp_server: SmtpServer,
    make_account: AccountFactory,
    point: str,
) -> None:
    acct = make_account(imap_server, smtp=smtp_server)
    expected = seed(imap_server, acct.user, {"INBOX": 20}, tag=acct.user.name)
    acct.sync_ok()
    rcpt = f"{acct.user.name}-{uuid.uuid4().hex[:12]}@elsewhere.test"  # unique: user names repeat across servers
    expected.add(_queue_outbox(acct, rcpt))
    r = acct.sync(fault=point)
    assert r.killed, f"{point} was not reached: {r.returncode} {r.stderr}"
    acct.sync_ok()
    acct.sync_ok()  # the copy in Sent reaches the cache at the sync after the one that sent it (see the test below)
    problems = []
    delivered = len(smtp_server.messages_to(rcpt))
    if delivered != 1:
        problems.append(f"the message was delivered {delivered} times")
    # A send cut off after DATA may be held for the user (with a note) instead of copied to Sent: not lost.
    problems += check_imap(acct, expected - held_for_user(acct.db))
    tally(f"send: kill at hook ({imap_server.profile})", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)


def test_the_sync_that_sends_leaves_cache_equal_to_server(
    dovecot: Dovecot, smtp_server: SmtpServer, make_account: AccountFactory
) -> None:
    """After the sync that sent a queued message, the cache already holds the copy it put into Sent: cache equals
    server with no further sync, and a further sync changes nothing."""
    acct = make_account(dovecot, smtp=smtp_server)
    expected = seed(dovecot, acct.user, {"INBOX": 5}, tag=acct.user.name)
    acct.sync_ok()
    expected.add(_queue_outbox(acct, f"{acct.user.name}-{uuid.uuid4().hex[:12]}@elsewhere.test"))
    acct.sync_ok()
    problems = check_imap(acct, expected)
    tally("send: cache equals server after sending", 1, int(bool(problems)))
    assert not problems, "\n".join(problems)
