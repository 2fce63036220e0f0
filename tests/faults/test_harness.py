"""The checker itself: it must notice each kind of damage it exists to find (else every fault test passes vacuously)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.faults.conftest import AccountFactory
from tests.faults.harness import check_imap, check_pop3, seed
from tests.servers import Dovecot

pytestmark = pytest.mark.servers


def _damage(db: object, sql: str) -> None:
    conn = sqlite3.connect(str(db))
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_check_imap_notices_every_kind_of_damage(dovecot: Dovecot, make_account: AccountFactory) -> None:
    acct = make_account(dovecot)
    ids = seed(dovecot, acct.user, {"INBOX": 6, "Work": 3}, tag=acct.user.name)
    acct.sync_ok()
    assert check_imap(acct, ids) == []
    assert any("lost" in p for p in check_imap(acct, ids | {"never-seen@example.org"}, resync=False))
    damage = {
        "missing in the cache": "DELETE FROM messages WHERE id = (SELECT MIN(id) FROM messages)",
        "differs": "UPDATE messages SET flags = '\\Deleted' WHERE id = (SELECT MIN(id) FROM messages)",
        "without a server UID": "UPDATE messages SET uid = NULL WHERE id = (SELECT MAX(id) FROM messages)",
        "UIDVALIDITY": "UPDATE folders SET uidvalidity = 1 WHERE name = 'Work'",
        "folders differ": "INSERT INTO folders(name) VALUES ('Ghost')",
        "more than once": "INSERT INTO messages(folder_id, uid, uidvalidity, message_id) SELECT folder_id, uid + 1000, "
        "uidvalidity, message_id FROM messages WHERE id = (SELECT MIN(id) FROM messages)",
    }
    for expected_text, sql in damage.items():
        fresh = make_account(dovecot, user=acct.user)
        fresh.sync_ok()
        _damage(fresh.db, sql)
        problems = check_imap(fresh, ids, resync=False)
        assert any(expected_text in p for p in problems), (expected_text, problems)


def test_check_imap_notices_a_sync_that_is_not_idempotent(dovecot: Dovecot, make_account: AccountFactory) -> None:
    acct = make_account(dovecot)
    ids = seed(dovecot, acct.user, {"INBOX": 3}, tag=acct.user.name)
    acct.sync_ok()
    _damage(  # work left for the next sync: it changes the server and the cache
        acct.db,
        "INSERT INTO pending_actions(kind, folder_id, uid, message_id, args, created) SELECT 'flags', folder_id, uid, "
        'id, \'{"add": ["$Planted"], "remove": []}\', 0 FROM messages WHERE id = (SELECT MIN(id) FROM messages)',
    )
    assert any("further sync" in p for p in check_imap(acct, ids))


def test_check_pop3_notices_loss_and_doubles(dovecot: Dovecot, make_account: AccountFactory) -> None:
    acct = make_account(dovecot, protocol="pop3", leave_on_server=False)
    ids = seed(dovecot, acct.user, {"INBOX": 4}, tag=acct.user.name)
    acct.sync_ok()
    assert check_pop3(acct, ids, complete=True) == []
    _damage(acct.db, "DELETE FROM messages WHERE id = (SELECT MIN(id) FROM messages)")
    assert any("lost" in p for p in check_pop3(acct, ids, complete=False))
    _damage(
        acct.db,
        "INSERT INTO messages(folder_id, message_id) SELECT folder_id, message_id FROM messages "
        "WHERE id = (SELECT MAX(id) FROM messages)",
    )
    assert any("twice" in p for p in check_pop3(acct, ids, complete=False))
