"""Sent, Drafts and Trash on both server shapes: made inside the personal namespace, local copies never lost,
uploaded once (issue 6, item 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.backends.imap import ImapBackend
from tui_mail.config import AccountConfig, Config
from tui_mail.mime import build_message
from tui_mail.models import SEEN, Role
from tui_mail.store.cache import Cache, NewMessage

pytestmark = pytest.mark.servers


def manager_for(account: AccountConfig, data_dir: Path, password: str, offline: bool = False) -> AccountManager:
    return AccountManager(
        Config(path=None, accounts=(account,)),
        data_dir=data_dir,
        offline=offline,
        password_source=lambda _a, _s: password,
    )


def on_server(imap_server: Any, user: Any, folder: str) -> list[str]:
    """Subjects in a server folder (sorted); [] when the folder does not exist."""
    client = imap_server.imap_client(user)
    try:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]) if uids else {}
        return sorted(d[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip() for d in data.values())
    finally:
        client.logout()


def in_cache(cache: Cache, role: Role) -> list[str]:
    """Subjects in every cache folder of a role (server and local-only ones), sorted."""
    return sorted(r.subject for f in cache.folders() if f.role is role for r in cache.window(f.id, 0, 1000))


def test_sent_copy_and_draft_are_on_the_server_once_and_in_the_cache_once(
    tmp_path: Path, imap_server: Any, imap_smtp: Any, imap_user: Any
) -> None:
    recipient = imap_server.add_user()
    account = imap_server.imap_account(imap_user, smtp=imap_smtp)
    manager = manager_for(account, tmp_path, imap_user.password)
    try:
        manager.sync(imap_user.name)
        sent_msg = build_message(from_addr=imap_user.email, to=[recipient.email], subject="Sent once", body="hi")
        assert manager.send(imap_user.name, sent_msg) == "sent"
        draft = build_message(from_addr=imap_user.email, to=[recipient.email], subject="Draft once", body="wip")
        assert manager.save_draft(imap_user.name, draft) == "server"
        manager.sync(imap_user.name)
        manager.sync(imap_user.name)
        cache = manager.cache(imap_user.name)
        sent, drafts = cache.folder_by_role(Role.SENT), cache.folder_by_role(Role.DRAFTS)
        assert sent is not None and drafts is not None
        # On the plain server the folders were made inside its namespace ("INBOX.Sent"), and shown as "Sent".
        assert (sent.name, drafts.name) == (imap_server.folder_name("Sent"), imap_server.folder_name("Drafts"))
        assert (sent.display_name, drafts.display_name) == ("Sent", "Drafts")
        assert on_server(imap_server, imap_user, sent.name) == ["Sent once"]
        assert on_server(imap_server, imap_user, drafts.name) == ["Draft once"]
        assert in_cache(cache, Role.SENT) == ["Sent once"]
        assert in_cache(cache, Role.DRAFTS) == ["Draft once"]
        assert not [f.name for f in cache.folders() if f.local_only]
    finally:
        manager.close()


def test_a_draft_saved_offline_is_uploaded_by_the_next_sync(tmp_path: Path, imap_server: Any, imap_user: Any) -> None:
    account = imap_server.imap_account(imap_user)
    online = manager_for(account, tmp_path, imap_user.password)
    online.sync(imap_user.name)
    online.close()
    offline = manager_for(account, tmp_path, imap_user.password, offline=True)
    draft = build_message(from_addr=imap_user.email, to=["x@example.test"], subject="Written on a plane", body=".")
    assert offline.save_draft(imap_user.name, draft) == "local"
    offline.close()

    manager = manager_for(account, tmp_path, imap_user.password)
    try:
        manager.sync(imap_user.name)
        manager.sync(imap_user.name)
        drafts = imap_server.folder_name("Drafts")
        assert on_server(imap_server, imap_user, drafts) == ["Written on a plane"]
        cache = manager.cache(imap_user.name)
        assert in_cache(cache, Role.DRAFTS) == ["Written on a plane"]
        row = cache.window(cache.folder_by_name(drafts).id, 0, 10)[0]  # type: ignore[union-attr]
        assert row.uid is not None  # the server's message now, not a local copy
    finally:
        manager.close()


def _local_copy(cache: Cache, folder: str, role: Role, subject: str, local_only: bool = False) -> int:
    """What the old code left behind: a Sent copy without UID in a cache folder the server does not have."""
    from tui_mail.mime import parse_envelope

    raw = build_message(from_addr="me@example.test", to=["you@example.test"], subject=subject, body="b").as_bytes()
    folder_id = cache.ensure_folder(folder, "/", role, local_only=local_only)
    return cache.store_messages(folder_id, [NewMessage(parse_envelope(raw), flags=frozenset({SEEN}), raw=raw)])[0]


def test_folder_reconciliation_keeps_local_copies_and_uploads_them(
    tmp_path: Path, imap_server: Any, imap_user: Any
) -> None:
    cache = Cache(tmp_path / "cache.db")
    _local_copy(cache, "Sent", Role.SENT, "Only here")
    if imap_server.profile == "rich":
        _local_copy(cache, "Gone", Role.NONE, "Not a role")  # a rich server has Sent: use a folder it lacks
    backend = ImapBackend(imap_server.imap_account(imap_user), imap_user.password, cache)
    try:
        result = backend.sync()
        backend.sync()
    finally:
        backend.close()
    sent = imap_server.folder_name("Sent")
    assert on_server(imap_server, imap_user, sent) == ["Only here"]
    assert in_cache(cache, Role.SENT) == ["Only here"]
    told = [t for (t,) in cache.conn.execute("SELECT text FROM notes WHERE kind='folder-gone'")]
    if imap_server.profile == "plain":  # the old code's cache-only "Sent": its copy went where it belongs
        assert told == [
            f"The folder Sent is gone from the server; 1 message(s) kept only on this computer were "
            f"moved to {sent} on the server."
        ]
        assert result.warnings == told
    if imap_server.profile == "rich":
        gone = cache.folder_by_name("Local/Gone")
        assert gone is not None and gone.local_only
        assert [r.subject for r in cache.window(gone.id, 0, 10)] == ["Not a role"]
        assert any("Gone" in w and "Local/Gone" in w for w in result.warnings)


def test_interrupted_upload_is_not_appended_twice(
    tmp_path: Path, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_mail.backends.imap_folders as imap_folders

    cache = Cache(tmp_path / "cache.db")
    _local_copy(cache, "Local/Sent", Role.SENT, "Uploaded once", local_only=True)
    backend = ImapBackend(imap_server.imap_account(imap_user), imap_user.password, cache)

    def crash(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("simulated crash after the APPEND")

    monkeypatch.setattr(imap_folders, "place_uploaded", crash)
    with pytest.raises(RuntimeError):
        backend.sync()
    backend.close()
    monkeypatch.undo()
    backend = ImapBackend(imap_server.imap_account(imap_user), imap_user.password, cache)
    try:
        backend.sync()
        backend.sync()
    finally:
        backend.close()
    assert on_server(imap_server, imap_user, imap_server.folder_name("Sent")) == ["Uploaded once"]
    assert in_cache(cache, Role.SENT) == ["Uploaded once"]


def test_delete_without_a_trash_folder_makes_one_in_the_namespace(
    tmp_path: Path, imap_server: Any, imap_user: Any
) -> None:
    raw = b"From: a@example.test\r\nSubject: Bin me\r\nMessage-ID: <bin@x>\r\n\r\nbye\r\n"
    imap_server.deliver(imap_user, raw)
    manager = manager_for(imap_server.imap_account(imap_user), tmp_path, imap_user.password)
    try:
        manager.sync(imap_user.name)
        cache = manager.cache(imap_user.name)
        inbox = cache.folder_by_role(Role.INBOX)
        assert inbox is not None
        [row] = cache.window(inbox.id, 0, 10)
        manager.delete(imap_user.name, [row.id])
        trash = cache.folder_by_role(Role.TRASH)
        assert trash is not None and trash.name == imap_server.folder_name("Trash")  # at once, before any sync
        assert [r.subject for r in cache.window(trash.id, 0, 10)] == ["Bin me"]
        manager.sync(imap_user.name)
        assert manager.cache(imap_user.name).pending_actions() == []
        assert on_server(imap_server, imap_user, trash.name) == ["Bin me"]
        assert on_server(imap_server, imap_user, "INBOX") == []
        assert [r.subject for r in cache.window(trash.id, 0, 10)] == ["Bin me"]
    finally:
        manager.close()


def test_without_namespace_a_refused_top_level_sent_goes_under_inbox(
    tmp_path: Path, dovecot_plain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot_plain.add_user()
    backend = ImapBackend(dovecot_plain.imap_account(user), user.password, Cache(tmp_path / "c.db"))
    try:
        backend.connect()
        real = backend._has
        monkeypatch.setattr(backend, "_has", lambda cap: cap != "NAMESPACE" and real(cap))  # an older server
        backend.save_sent(b"From: a@example.test\r\nSubject: Kept\r\nMessage-ID: <kept@x>\r\n\r\nhi\r\n")
        backend.sync()
    finally:
        backend.close()
    assert on_server(dovecot_plain, user, "INBOX.Sent") == ["Kept"]
    sent = backend.cache.folder_by_role(Role.SENT)
    assert sent is not None and sent.name == "INBOX.Sent"


def test_existing_role_folders_are_found_by_their_usual_names(tmp_path: Path, dovecot_plain: Any) -> None:
    user = dovecot_plain.add_user()
    client = dovecot_plain.imap_client(user)
    try:
        for name in ("INBOX.Sent Items", "INBOX.Deleted Items", "INBOX.Spam"):
            client.create_folder(name)
    finally:
        client.logout()
    dovecot_plain.deliver(user, b"From: a@example.test\r\nSubject: Old\r\nMessage-ID: <old@x>\r\n\r\nx\r\n")
    manager = manager_for(dovecot_plain.imap_account(user), tmp_path, user.password)
    try:
        manager.sync(user.name)
        cache = manager.cache(user.name)
        roles = {f.role: f.name for f in cache.folders()}
        assert roles[Role.SENT] == "INBOX.Sent Items"
        assert roles[Role.TRASH] == "INBOX.Deleted Items"
        assert roles[Role.JUNK] == "INBOX.Spam"
        [row] = cache.window(cache.folder_by_role(Role.INBOX).id, 0, 10)  # type: ignore[union-attr]
        manager.delete(user.name, [row.id])
        manager.save_draft(user.name, build_message(from_addr=user.email, to=["x@example.test"], subject="D", body="."))
        manager.sync(user.name)
    finally:
        manager.close()
    assert on_server(dovecot_plain, user, "INBOX.Deleted Items") == ["Old"]
    assert on_server(dovecot_plain, user, "INBOX.Drafts") == ["D"]  # no Drafts yet: made in the namespace
    assert on_server(dovecot_plain, user, "INBOX.Trash") == []  # nothing made up beside the existing Trash


def test_upload_to_a_server_without_appenduid_is_cached_once(
    tmp_path: Path, imap_server: Any, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_mail.backends.imap_folders as imap_folders

    monkeypatch.setattr(imap_folders, "appenduid", lambda _resp: None)  # a server without UIDPLUS
    cache = Cache(tmp_path / "cache.db")
    _local_copy(cache, "Drafts", Role.DRAFTS, "No UIDPLUS here", local_only=True)
    backend = ImapBackend(imap_server.imap_account(imap_user), imap_user.password, cache)
    try:
        backend.sync()
        backend.sync()
    finally:
        backend.close()
    drafts = imap_server.folder_name("Drafts")
    assert on_server(imap_server, imap_user, drafts) == ["No UIDPLUS here"]
    assert in_cache(cache, Role.DRAFTS) == ["No UIDPLUS here"]
    [row] = cache.window(cache.folder_by_name(drafts).id, 0, 10)  # type: ignore[union-attr]
    assert row.uid is not None and row.has_body
