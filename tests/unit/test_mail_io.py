"""Export to Maildir/mbox and import back: bytes and flags survive, re-runs add nothing, other readers agree."""

from __future__ import annotations

import mailbox
import sqlite3
from pathlib import Path

import pytest

from tui_mail.backup import backup, check, restore
from tui_mail.errors import MailError
from tui_mail.mailbox_io import read_mailbox
from tui_mail.mime import parse_envelope
from tui_mail.models import ANSWERED, DRAFT, FLAGGED, SEEN, Role
from tui_mail.store.cache import Cache, NewMessage
from tui_mail.store.schema import SCHEMA_VERSION
from tui_mail.store.search_index import index_pending
from tui_mail.transfer import export_folders, import_mailbox


def _msg(n: int, body: bytes, nl: bytes = b"\r\n") -> bytes:
    head = [
        b"From: Sender %d <s%d@example.test>" % (n, n),
        b"To: me@example.test",
        b"Subject: message %d" % n,
        b"Date: Mon, 2%d Nov 2026 09:00:00 +0000" % (n % 10),
        b"Message-ID: <m%d@example.test>" % n,
    ]
    return nl.join(head) + nl + nl + body


MESSAGES: list[tuple[bytes, frozenset[str]]] = [
    (_msg(1, b"plain text\r\n"), frozenset()),
    (_msg(2, b"From the start of a line\r\n>From quoted already\r\n>>From twice\r\nend\r\n"), frozenset({SEEN})),
    (_msg(3, b"unix line ends\nFrom here\n", b"\n"), frozenset({SEEN, FLAGGED, ANSWERED})),
    (_msg(4, b"Status: RO\r\nnot a header in the body\r\n"), frozenset({DRAFT, SEEN})),
    (_msg(5, b"\xff\xfe 8-bit bytes \x00 and NUL\r\n\r\n\r\n"), frozenset({FLAGGED})),
]


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    c = Cache(tmp_path / "src.sqlite")
    folder = c.ensure_folder("INBOX", "/", Role.INBOX)
    c.store_messages(folder, [NewMessage(parse_envelope(raw), flags=flags, raw=raw) for raw, flags in MESSAGES])
    return c


def _contents(c: Cache, folder_id: int) -> list[tuple[bytes, frozenset[str]]]:
    out = []
    for row in c.window(folder_id, 0, 100):
        raw = c.body(row.id)
        assert raw is not None
        out.append((raw, row.flags))
    return sorted(out)


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_export_then_import_gives_the_same_bytes_and_flags(cache: Cache, tmp_path: Path, fmt: str) -> None:
    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    result = export_folders(cache, [inbox], fmt, tmp_path / "out", single=True)
    assert result.done == len(MESSAGES) and not result.warnings

    other = Cache(tmp_path / "dst.sqlite")
    target = other.ensure_folder("Imported", "/", local_only=True)
    imported = import_mailbox(other, target, tmp_path / "out")
    assert imported.counts["Imported"] == (len(MESSAGES), 0)
    assert _contents(other, target) == sorted(MESSAGES)

    again = import_mailbox(other, target, tmp_path / "out")  # an interrupted import run again adds nothing
    assert again.counts["Imported"] == (0, len(MESSAGES))
    assert other.folder(target).total == len(MESSAGES)
    index_pending(other)  # what the CLI does after an import
    assert len(other.window(None, 0, 10, query="subject:message")) == len(MESSAGES)


def test_export_twice_to_a_maildir_writes_no_copies(cache: Cache, tmp_path: Path) -> None:
    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    export_folders(cache, [inbox], "maildir", tmp_path / "md", single=True)
    second = export_folders(cache, [inbox], "maildir", tmp_path / "md", single=True)
    assert second.done == 0 and second.skipped == len(MESSAGES)
    assert len(list((tmp_path / "md" / "cur").iterdir())) == len(MESSAGES)


def test_other_readers_see_the_same_messages_and_flags(cache: Cache, tmp_path: Path) -> None:
    """Python's mailbox module (an independent reader) agrees on count, bytes and flags."""
    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    export_folders(cache, [inbox], "maildir", tmp_path / "md", single=True)
    export_folders(cache, [inbox], "mbox", tmp_path / "box", single=True)
    md = mailbox.Maildir(tmp_path / "md", create=False)
    want_flags = sorted(
        "".join(sorted({SEEN: "S", FLAGGED: "F", ANSWERED: "R", DRAFT: "D"}[f] for f in flags)) for _, flags in MESSAGES
    )
    assert sorted(m.get_flags() for m in md) == want_flags
    assert sorted(md.get_bytes(k) for k in md.keys()) == sorted(raw for raw, _ in MESSAGES)
    mb = mailbox.mbox(tmp_path / "box", create=False)
    assert len(mb) == len(MESSAGES)
    seen_in_mbox = sorted("R" in m.get_flags() for m in mb)
    assert seen_in_mbox == sorted(SEEN in flags for _, flags in MESSAGES)


def test_export_of_every_folder_makes_one_mailbox_each(cache: Cache, tmp_path: Path) -> None:
    sent = cache.ensure_folder("INBOX.Sent", ".", Role.SENT)
    raw = _msg(9, b"sent\r\n")
    cache.store_messages(sent, [NewMessage(parse_envelope(raw), flags=frozenset({SEEN}), raw=raw)])
    export_folders(cache, cache.folders(), "mbox", tmp_path / "all", single=False)
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["INBOX", "INBOX.Sent"]
    assert [m.raw for m in read_mailbox(tmp_path / "all" / "INBOX.Sent")] == [raw]


def test_mboxo_with_a_lying_content_length_is_split_by_from_lines(tmp_path: Path) -> None:
    box = tmp_path / "old.mbox"
    box.write_bytes(
        b"From a@example.test Mon Nov 23 09:00:00 2026\n"
        b"Subject: one\nContent-Length: 99999\nStatus: RO\nX-Status: F\n\nbody one\n>From quoted\n\n"
        b"From b@example.test Mon Nov 23 09:01:00 2026\n"
        b"Subject: two\nContent-Length: 1\n\nbody two\n"
    )
    got = list(read_mailbox(box))
    assert [m.raw for m in got] == [
        b"Subject: one\nContent-Length: 99999\nStatus: RO\nX-Status: F\n\nbody one\nFrom quoted\n",
        b"Subject: two\nContent-Length: 1\n\nbody two\n",
    ]
    assert got[0].flags == {SEEN, FLAGGED} and got[1].flags == frozenset()


def test_import_of_something_else_says_so(tmp_path: Path) -> None:
    from tui_mail.mailbox_io import MailboxFormatError

    (tmp_path / "notes.txt").write_bytes(b"hello\n")
    c = Cache(tmp_path / "c.sqlite")
    folder = c.ensure_folder("X", "/", local_only=True)
    with pytest.raises(MailboxFormatError, match="neither a Maildir"):
        import_mailbox(c, folder, tmp_path / "notes.txt")


# -- backup and restore -----------------------------------------------------------------------------------------


def test_backup_is_a_consistent_copy_and_restore_brings_it_back(cache: Cache, tmp_path: Path) -> None:
    (tmp_path / "backups").mkdir()
    info = backup(cache, tmp_path / "backups")
    assert info.path.parent == tmp_path / "backups" and info.messages == len(MESSAGES)
    assert check(info.path).schema == SCHEMA_VERSION
    assert cache.get_meta("last_backup") == str(info.created)

    path = cache.path
    cache.close()
    restore(path, info.path)  # nothing changed since the backup: no --force needed
    cache = Cache(path)
    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    cache.delete([r.id for r in cache.window(inbox.id, 0, 100)])  # a disaster after the backup
    cache.close()
    with pytest.raises(MailError, match="changed since this backup"):
        restore(path, info.path)  # the cache changed since: never replaced silently
    restore(path, info.path, force=True)
    again = Cache(path)
    assert _contents(again, inbox.id) == sorted(MESSAGES)
    assert (tmp_path / "src.sqlite.before-restore").exists()


def test_restore_refuses_a_damaged_or_newer_backup(cache: Cache, tmp_path: Path) -> None:
    info = backup(cache, tmp_path / "b.sqlite")
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(info.path.read_bytes())
    data[4096 : 4096 + 2048] = b"\x42" * 2048
    damaged.write_bytes(bytes(data))
    target = tmp_path / "restored.sqlite"
    with pytest.raises(MailError):
        restore(target, damaged)
    assert not target.exists()

    newer = tmp_path / "newer.sqlite"
    newer.write_bytes(info.path.read_bytes())
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(MailError, match="newer tui-mail"):
        restore(target, newer, force=True)
    assert not target.exists()
    restore(target, info.path)
    assert check(target).messages == len(MESSAGES)


def test_backup_while_another_connection_writes(cache: Cache, tmp_path: Path) -> None:
    writer = sqlite3.connect(cache.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO meta(key, value) VALUES ('uncommitted', 'x')")
    info = backup(cache, tmp_path / "during.sqlite")  # a write in progress is not in the snapshot, nor blocks it
    writer.execute("ROLLBACK")
    writer.close()
    conn = sqlite3.connect(info.path)
    assert conn.execute("SELECT value FROM meta WHERE key='uncommitted'").fetchone() is None
    conn.close()


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_neomutt_opens_the_export(cache: Cache, tmp_path: Path, fmt: str) -> None:
    """`neomutt -f DEST -R` lists every exported message (run in a pseudo-terminal by script(1))."""
    import shutil
    import subprocess

    if not (shutil.which("neomutt") and shutil.which("script")):
        pytest.skip("neomutt or script(1) is not installed")
    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    export_folders(cache, [inbox], fmt, tmp_path / "dest", single=True)
    (tmp_path / "Mail").mkdir()
    screen = tmp_path / "screen"
    command = f"neomutt -n -F /dev/null -R -f {tmp_path / 'dest'} -e 'push <exit>'"
    subprocess.run(
        ["script", "-qc", command, str(screen)],
        env={"HOME": str(tmp_path), "TERM": "xterm", "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=60,
        check=True,
    )
    shown = screen.read_bytes()
    assert b"Msgs:5" in shown
    assert all(b"message %d" % n in shown for n in range(1, 6))


def test_mbox_reading_does_not_depend_on_block_boundaries(cache: Cache, tmp_path: Path) -> None:
    from tui_mail.mailbox_io import _mbox_chunks

    inbox = cache.folder_by_name("INBOX")
    assert inbox is not None
    export_folders(cache, [inbox], "mbox", tmp_path / "box", single=True)
    whole = list(_mbox_chunks(tmp_path / "box"))
    assert len(whole) == len(MESSAGES)
    for size in (1, 5, 7, 64, 333):
        assert list(_mbox_chunks(tmp_path / "box", chunk=size)) == whole
