"""Search against the real Dovecot: the CLI's exit codes and JSON, and IMAP server-side search for mail whose bodies
are not downloaded (download = "headers"), on both server shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import Dovecot, MailUser
from tui_mail.accounts import AccountManager
from tui_mail.config import Config

pytestmark = pytest.mark.servers


def message(n: int, subject: str, body: str, sender: str = "Carol <carol@example.test>") -> bytes:
    return (
        f"From: {sender}\r\nTo: me@example.test\r\nSubject: {subject}\r\n"
        f"Date: Mon, {n + 1:02d} Nov 2026 09:00:00 +0000\r\nMessage-ID: <search-{n}@example.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def seed(server: Dovecot, user: MailUser) -> None:
    server.deliver_many(
        user,
        [
            message(1, "Budget 2027", "The marmalade budget is approved."),
            message(2, "Zürich trip", "Tickets for the train.", sender="Dan <dan@example.test>"),
            message(3, "Lunch", "Pizza?"),
        ],
    )


def write_config(tmp_path: Path, server: Dovecot, user: MailUser, download: str = "full") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[[accounts]]
name = "me"
email = "{user.email}"
protocol = "imap"
download = "{download}"
[accounts.incoming]
host = "{server.host}"
port = {server.imaps_port}
security = "tls"
username = "{user.name}"
ca_file = "{server.ca_file}"
password_command = "printf %s {user.password}"
""",
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args], capture_output=True, text=True, timeout=120
    )


def test_cli_search_exit_codes_and_json(tmp_path: Path, dovecot: Dovecot, mail_user: MailUser) -> None:
    seed(dovecot, mail_user)
    config = write_config(tmp_path, dovecot, mail_user)
    assert run(config, "sync").returncode == 0
    found = run(config, "search", "me", "marmalade")
    assert found.returncode == 0, found.stderr
    assert "Budget 2027" in found.stdout
    as_json = run(config, "search", "zurich", "--json")
    (hit,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert hit["account"] == "me" and hit["folder"] == "INBOX" and hit["subject"] == "Zürich trip"
    none = run(config, "search", "me", "from:nobody")
    assert none.returncode == 1 and none.stdout == ""
    bad = run(config, "search", "me", '"unclosed')
    assert bad.returncode == 2
    assert bad.stderr.strip() == "tui-mail: Unclosed quote at column 1."
    reindexed = run(config, "reindex", "me")
    assert reindexed.returncode == 0 and "3 messages indexed" in reindexed.stdout


def test_server_search_finds_bodies_that_are_not_downloaded(
    tmp_path: Path, imap_server: Dovecot, mail_user: MailUser
) -> None:
    user = imap_server.add_user()
    seed(imap_server, user)
    config = write_config(tmp_path, imap_server, user, download="headers")
    assert run(config, "sync").returncode == 0
    local = run(config, "search", "me", "marmalade")
    assert local.returncode == 1  # the body is not here: a local search cannot know
    remote = run(config, "search", "me", "marmalade", "--server", "--json")
    assert remote.returncode == 0, remote.stderr
    (hit,) = [json.loads(line) for line in remote.stdout.splitlines()]
    assert hit["subject"] == "Budget 2027" and hit["server"] is True
    # Translated terms: fields, negation, OR; untranslatable ones are named and matched locally.
    either = run(config, "search", "me", "from:dan OR pizza", "--server", "--json")
    assert sorted(json.loads(x)["subject"] for x in either.stdout.splitlines()) == ["Lunch", "Zürich trip"]
    named = run(config, "search", "me", "train has:attachment", "--server")
    assert "has:attachment cannot be searched on the server" in named.stderr


def test_server_search_stores_envelopes_of_hits_not_cached_yet(
    tmp_path: Path, imap_server: Dovecot, mail_user: MailUser
) -> None:
    user = imap_server.add_user()
    seed(imap_server, user)
    config = Config(path=None, accounts=(imap_server.imap_account(user, download="headers"),))
    manager = AccountManager(config, data_dir=tmp_path, password_source=lambda a, s: user.password)
    try:
        manager.sync(user.name)
        cache = manager.cache(user.name)
        # Mail that arrived after the sync is found on the server and listed at once.
        imap_server.deliver(user, message(9, "Late news", "the marmalade shipment"))
        hits = manager.server_search(user.name, "marmalade")
        subjects = sorted(cache.message(i).subject for i in hits.message_ids)  # type: ignore[union-attr]
        assert subjects == ["Budget 2027", "Late news"]
        assert hits.fetched == 1
        # The next sync does not duplicate the row the search stored.
        manager.sync(user.name)
        inbox = cache.folder_by_name("INBOX")
        assert inbox is not None and cache.count(inbox.id) == 4
    finally:
        manager.close()


def test_cli_sync_of_much_mail_returns_before_indexing_and_search_still_finds_it(
    tmp_path: Path, dovecot: Dovecot, mail_user: MailUser
) -> None:
    # More new mail than a sync indexes itself: the sync returns once it is stored and a detached indexer fills
    # the search index; a search right after the sync waits for it (or catches up) and misses nothing.
    from tui_mail.index_later import INLINE_MAX

    many = [message(i % 28, f"Bulk note {i}", f"Ordinary words number {i}.") for i in range(INLINE_MAX + 50)]
    many.append(message(29, "Needle", "The quokka is in the last message."))
    dovecot.deliver_many(mail_user, many)
    config = write_config(tmp_path, dovecot, mail_user)
    synced = run(config, "sync")
    assert synced.returncode == 0, synced.stderr
    assert f"me: {len(many)} new" in synced.stdout
    assert "search index in the background" in synced.stdout
    found = run(config, "search", "me", "quokka")
    assert found.returncode == 0, found.stderr
    assert "Needle" in found.stdout
    bulk = run(config, "search", "me", "ordinary", "--limit", "1000")
    assert len(bulk.stdout.splitlines()) == INLINE_MAX + 50
    # Nothing is left for the index, and a further index run has nothing to do.
    assert run(config, "index", "me").stdout.strip() == "me: 0 messages indexed"


def test_cli_sync_of_a_little_mail_indexes_before_returning(
    tmp_path: Path, dovecot: Dovecot, mail_user: MailUser
) -> None:
    seed(dovecot, mail_user)
    config = write_config(tmp_path, dovecot, mail_user)
    synced = run(config, "sync")
    assert synced.returncode == 0 and "background" not in synced.stdout
    from tui_mail.store.cache import Cache
    from tui_mail.store.search_index import backlog

    data = Path(os.environ["TUI_MAIL_DATA_DIR"])
    assert backlog(Cache(data / "me.sqlite3")) == 0  # searchable when the sync returns, no process left behind
