"""AccountManager without a network: local-first changes, the outbox, and Trash semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.config import parse_config
from tui_mail.errors import ConnectError
from tui_mail.mime import build_message
from tui_mail.models import SEEN, Envelope, Role
from tui_mail.store.cache import NewMessage


@pytest.fixture
def manager(tmp_path: Path) -> AccountManager:
    config = parse_config(
        {
            "accounts": [
                {
                    "name": "work",
                    "email": "me@example.test",
                    "protocol": "imap",
                    "incoming": {"host": "imap.invalid"},
                    "smtp": {"host": "smtp.invalid"},
                },
                {"name": "home", "email": "me@home.test", "protocol": "pop3", "incoming": {"host": "pop.invalid"}},
            ]
        }
    )
    return AccountManager(config, data_dir=tmp_path, offline=True)


def seed(manager: AccountManager) -> tuple[int, int, list[int]]:
    cache = manager.cache("work")
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    trash = cache.ensure_folder("Trash", role=Role.TRASH)
    ids = cache.store_messages(
        inbox,
        [NewMessage(Envelope(subject=f"m{i}", date=i), uid=i) for i in (1, 2, 3)],
        uidvalidity=1,
        last_uid=3,
    )
    return inbox, trash, ids


def test_sync_offline_is_a_clear_error(manager: AccountManager) -> None:
    with pytest.raises(ConnectError, match="offline"):
        manager.sync("work")


def test_changes_offline_are_kept_and_queued(manager: AccountManager) -> None:
    inbox, trash, ids = seed(manager)
    manager.mark_read("work", [ids[0]])
    manager.flag("work", [ids[1]])
    manager.delete("work", [ids[2]])
    cache = manager.cache("work")
    assert SEEN in cache.message(ids[0]).flags  # type: ignore[union-attr]
    assert cache.folder(trash).total == 1 and cache.folder(inbox).total == 2
    assert [a.kind for a in cache.pending_actions()] == ["flags", "flags", "move"]
    moved = cache.message(ids[2])
    assert moved is not None and moved.folder_id == trash
    # Deleting from Trash deletes for good.
    manager.delete("work", [ids[2]])
    assert cache.folder(trash).total == 0
    # ...and the queued move to Trash becomes a delete of the original on the server.
    assert [a.kind for a in cache.pending_actions()] == ["flags", "flags", "delete"]


def test_send_offline_waits_in_outbox_without_bcc_header(manager: AccountManager) -> None:
    msg = build_message(
        from_addr="me@example.test", to=["bob@example.test"], subject="hi", body="hello", bcc=["secret@example.test"]
    )
    assert manager.send("work", msg, bcc=["secret@example.test"]) == "queued"
    (item,) = manager.cache("work").outbox()
    assert set(item.recipients) == {"bob@example.test", "secret@example.test"}
    assert b"secret@example.test" not in item.raw


def test_pop3_account_has_local_folders(manager: AccountManager) -> None:
    roles = {f.role for f in manager.cache("home").folders()}
    assert {Role.INBOX, Role.SENT, Role.DRAFTS, Role.TRASH} <= roles
    assert not manager.capabilities("home").server_folders
    assert manager.capabilities("work").server_folders
