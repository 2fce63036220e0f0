"""AccountManager against the real servers: push via IDLE, the outbox across a failed send, permanent failures."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.config import AccountConfig, Config
from tui_mail.errors import SendError
from tui_mail.mime import build_message
from tui_mail.models import Role

pytestmark = pytest.mark.servers

RAW = b"From: a@example.test\r\nSubject: ping\r\nMessage-ID: <ping@x>\r\n\r\nhello\r\n"


def manager_for(account: AccountConfig, tmp_path: Path, password: str) -> AccountManager:
    return AccountManager(
        Config(path=None, accounts=(account,)), data_dir=tmp_path, password_source=lambda _a, _s: password
    )


def test_idle_reports_new_mail(tmp_path: Path, imap_server, imap_user) -> None:  # type: ignore[no-untyped-def]
    manager = manager_for(imap_server.imap_account(imap_user), tmp_path, imap_user.password)
    manager.sync(imap_user.name)
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(manager.wait_for_new_mail(imap_user.name, 20, stop)))
    waiter.start()
    try:
        # Deliver repeatedly until the waiter has seen it (the IDLE may start a moment after the thread).
        for _ in range(40):
            imap_server.deliver(imap_user, RAW)
            waiter.join(0.5)
            if not waiter.is_alive():
                break
    finally:
        stop.set()
        waiter.join(10)
        manager.close()
    assert result == [True]


def test_send_without_network_waits_in_outbox_then_goes_out(tmp_path: Path, imap_server, imap_smtp, imap_user) -> None:  # type: ignore[no-untyped-def]
    recipient = imap_server.add_user()
    good_smtp = imap_smtp.smtp_config(imap_user)
    dead_smtp = dataclasses.replace(good_smtp, port=1)  # nothing listens there
    account = imap_server.imap_account(imap_user, smtp=dead_smtp)
    manager = manager_for(account, tmp_path, imap_user.password)
    msg = build_message(from_addr=imap_user.email, to=[recipient.email], subject="from the train", body="hi")
    assert manager.send(imap_user.name, msg) == "queued"  # safely queued is not an error
    [item] = manager.cache(imap_user.name).outbox()
    assert item.state == "queued" and "Cannot reach" in item.last_error
    manager.close()

    # Back online (same cache): the next sync sends it, and it lands in Sent.
    manager = manager_for(dataclasses.replace(account, smtp=good_smtp), tmp_path, imap_user.password)
    manager.sync(imap_user.name)
    assert manager.cache(imap_user.name).outbox() == []
    assert any(b"from the train" in m for m in imap_smtp.messages_to(recipient.email))
    manager.sync(imap_user.name)
    cache = manager.cache(imap_user.name)
    sent = cache.folder_by_role(Role.SENT)
    assert sent is not None
    assert [r.subject for r in cache.window(sent.id, 0, 10)] == ["from the train"]
    manager.close()


def test_refused_recipient_keeps_message_in_drafts(tmp_path: Path, imap_server, imap_smtp, imap_user) -> None:  # type: ignore[no-untyped-def]
    account = imap_server.imap_account(imap_user, smtp=imap_smtp)
    manager = manager_for(account, tmp_path, imap_user.password)
    manager.sync(imap_user.name)
    msg = build_message(from_addr=imap_user.email, to=["nobody@example.test"], subject="lost?", body="no")
    with pytest.raises(SendError, match=r"nobody@example\.test"):
        manager.send(imap_user.name, msg)
    cache = manager.cache(imap_user.name)
    assert cache.outbox() == []  # not retried blindly...
    drafts = cache.folder_by_role(Role.DRAFTS)
    assert drafts is not None
    assert [r.subject for r in cache.window(drafts.id, 0, 10)] == ["lost?"]  # ...but not lost either
    manager.close()


def test_move_into_a_folder_made_on_the_spot(tmp_path: Path, imap_server, imap_user) -> None:  # type: ignore[no-untyped-def]
    imap_server.deliver(
        imap_user, b"From: a@example.test\r\nSubject: keep me\r\nMessage-ID: <mk-1@example.test>\r\n\r\nbody\r\n"
    )
    manager = manager_for(imap_server.imap_account(imap_user), tmp_path, imap_user.password)
    try:
        manager.sync(imap_user.name)
        cache = manager.cache(imap_user.name)
        inbox = cache.folder_by_role(Role.INBOX)
        assert inbox is not None
        (row,) = cache.window(inbox.id, 0, 10)
        folder_id = manager.create_folder(imap_user.name, "Projects/2026")
        assert manager.create_folder(imap_user.name, "Projects/2026") == folder_id  # asking twice makes one
        full = imap_server.folder_name("Projects/2026")  # INBOX.Projects.2026 on the plain server
        assert cache.folder(folder_id).name == full
        manager.move(imap_user.name, [row.id], folder_id)
        manager.sync(imap_user.name)
        client = imap_server.imap_client(imap_user)
        try:
            client.select_folder(full, readonly=True)
            assert len(client.search(["ALL"])) == 1
            client.select_folder("INBOX", readonly=True)
            assert client.search(["ALL"]) == []
        finally:
            client.logout()
        assert [r.subject for r in cache.window(folder_id, 0, 10)] == ["keep me"]
    finally:
        manager.close()
