"""Messages kept only in the cache survive their folder's removal and are found for upload (issue 6, item 3)."""

from __future__ import annotations

from pathlib import Path

from tui_mail.models import SEEN, Envelope, Role
from tui_mail.store.cache import Cache, NewMessage
from tui_mail.store.local_copies import local_copies, place_uploaded


def raw(n: int) -> bytes:
    return f"Message-ID: <c{n}@x>\r\nSubject: copy {n}\r\n\r\nbody\r\n".encode()


def new(n: int, uid: int | None = None) -> NewMessage:
    env = Envelope(message_id=f"<c{n}@x>", subject=f"copy {n}", date=1_700_000_000 + n)
    return NewMessage(env, uid=uid, flags=frozenset({SEEN}), raw=raw(n))


def test_deleting_a_folder_keeps_its_local_only_rows_in_a_local_folder(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    sent = cache.ensure_folder("Sent", "/", Role.SENT)
    cache.store_messages(sent, [new(1, uid=5)], uidvalidity=9, last_uid=5)  # on the server: goes with the folder
    cache.store_messages(sent, [new(2)])  # only here: must survive
    kept = cache.delete_folder(sent)
    assert kept == ("Local/Sent", 1)
    local = cache.folder_by_name("Local/Sent")
    assert local is not None and local.local_only and local.role is Role.SENT
    assert [r.subject for r in cache.window(local.id, 0, 10)] == ["copy 2"]
    assert cache.body(cache.window(local.id, 0, 10)[0].id) == raw(2)
    # A server folder of the same role is preferred over the local one.
    server_sent = cache.ensure_folder("INBOX.Sent", ".", Role.SENT)
    assert cache.folder_by_role(Role.SENT).id == server_sent  # type: ignore[union-attr]


def test_a_folder_without_local_rows_just_goes(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    lists = cache.ensure_folder("Lists", "/")
    cache.store_messages(lists, [new(1, uid=1)], uidvalidity=1, last_uid=1)
    assert cache.delete_folder(lists) is None
    assert [f.name for f in cache.folders()] == []


def test_move_placeholders_are_not_uploaded_and_placed_rows_become_server_messages(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "a.sqlite3")
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    sent = cache.ensure_folder("Sent", "/", Role.SENT)
    [moved] = cache.store_messages(inbox, [new(1, uid=3)], uidvalidity=1, last_uid=3)
    cache.move([moved], sent)  # a placeholder: the replay owns it
    [local] = cache.store_messages(sent, [new(2)])
    assert [c.id for c in local_copies(cache, Role.SENT)] == [local]
    place_uploaded(cache, local, sent, 11, 42)
    assert local_copies(cache, Role.SENT) == []
    row = cache.message(local)
    assert row is not None and row.uid == 11 and row.folder_id == sent
