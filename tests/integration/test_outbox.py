"""Never send twice, never lose a draft: a send killed while the SMTP server holds its DATA reply is not sent
again when Sent has it, and waits for the user when nothing can tell (not in Sent, or POP3); queued is success for `tui-mail send`; a refused send
leaves exactly one draft, which reaches the server's Drafts at the next sync."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import HOST, Certificates, Dovecot, SmtpServer, _Handler, free_port, server_ssl_context
from tui_mail.accounts import AccountManager
from tui_mail.config import Config
from tui_mail.mime import build_message
from tui_mail.models import Role
from tui_mail.store.cache import Cache

pytestmark = pytest.mark.servers


class _SlowHandler(_Handler):
    """Delivers, optionally files a copy in the sender's Sent (as Gmail and Exchange do), then holds the reply."""

    server: SlowSmtp

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        slow = self.server
        try:
            reply = await super().handle_DATA(server, session, envelope)
            if slow.copy_to_sent:
                local = (envelope.mail_from or "").rpartition("@")[0]
                sender = slow.dovecot.users.get(local)
                if sender is not None:
                    data = envelope.original_content or b""
                    slow.dovecot.deliver(sender, data if isinstance(data, bytes) else data.encode(), slow.sent_folder)
        finally:
            slow.data_seen.set()  # (also on a failure, so that the test fails at once instead of waiting)
        delay = slow.delay
        while delay > 0 and not slow.released.is_set():
            await asyncio.sleep(0.05)
            delay -= 0.05
        return reply


class SlowSmtp(SmtpServer):
    """The test SMTP server (STARTTLS + AUTH) on any Dovecot, whose DATA reply comes `delay` seconds late."""

    def __init__(self, dovecot: Dovecot, certs: Certificates, *, delay: float, copy_to_sent: bool) -> None:
        super().__init__(dovecot, certs)
        self.delay = delay
        self.copy_to_sent = copy_to_sent
        self.sent_folder = dovecot.folder_name("Sent")
        self.data_seen = threading.Event()
        self.released = threading.Event()

    def start(self) -> None:
        controller = Controller(
            _SlowHandler(self),
            hostname=HOST,
            port=free_port(),
            tls_context=server_ssl_context(self._certs),
            require_starttls=True,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=True,
            server_hostname="localhost",
            ident="tui-mail slow SMTP",
        )
        controller.start()
        self._controllers.append(controller)
        self.port = controller.port

    def stop(self) -> None:
        self.released.set()
        super().stop()


@pytest.fixture
def slow_smtp(request: pytest.FixtureRequest, test_certs: Certificates) -> Any:
    def make(server: Dovecot, copy_to_sent: bool) -> SlowSmtp:
        smtp = SlowSmtp(server, test_certs, delay=60, copy_to_sent=copy_to_sent)
        smtp.start()
        request.addfinalizer(smtp.stop)
        return smtp

    return make


def write_config(path: Path, server: Dovecot, smtp: Any, user: Any, protocol: str = "imap") -> Path:
    port = server.imaps_port if protocol == "imap" else server.pop3s_port
    path.write_text(
        f"""
[[accounts]]
name = "work"
email = "{user.email}"
protocol = "{protocol}"
idle = false
[accounts.incoming]
host = "{server.host}"
port = {port}
security = "tls"
username = "{user.name}"
ca_file = "{server.ca_file}"
password_command = "printf %s {user.password}"
[accounts.smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
ca_file = "{smtp.ca_file}"
timeout = 120
""",
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_mail", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


def kill_during_data_reply(config: Path, smtp: SlowSmtp, to: str, subject: str) -> None:
    """`tui-mail send`, SIGKILLed once the server has the message but before it answers DATA."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_mail", "--config", str(config), "send", "work", "--to", to, "--subject", subject],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write("Only once, please.\n")
    proc.stdin.close()
    try:
        assert smtp.data_seen.wait(120), "the message never reached the SMTP server"
    finally:
        proc.kill()
        proc.wait(30)
    smtp.released.set()
    smtp.delay = 0


def outbox_states(config_dir_cache: Path) -> list[str]:
    cache = Cache(config_dir_cache)
    try:
        return [i.state for i in cache.outbox()]
    finally:
        cache.close()


def cache_file(tmp_path: Path) -> Path:
    return Path(os.environ["TUI_MAIL_DATA_DIR"]) / "work.sqlite3"


def sent_ids(server: Dovecot, user: Any, subject: str) -> list[int]:
    client = server.imap_client(user)
    try:
        name = server.folder_name("Sent")
        if not client.folder_exists(name):
            return []
        client.select_folder(name, readonly=True)
        return list(client.search(["SUBJECT", subject]))
    finally:
        client.logout()


def test_killed_during_data_reply_is_not_sent_again_when_sent_has_it(
    tmp_path: Path, imap_server: Dovecot, slow_smtp: Any
) -> None:
    user, recipient = imap_server.add_user(), imap_server.add_user()
    smtp: SlowSmtp = slow_smtp(imap_server, True)
    config = write_config(tmp_path / "config.toml", imap_server, smtp, user)
    assert cli(config, "sync").returncode == 0

    kill_during_data_reply(config, smtp, recipient.email, "only once")
    assert len(smtp.messages_to(recipient.email)) == 1
    assert outbox_states(cache_file(tmp_path)) == ["sending"]  # marked before DATA, so the next run knows

    synced = cli(config, "sync")
    assert synced.returncode == 0, synced.stderr
    assert len(smtp.messages_to(recipient.email)) == 1  # not sent a second time
    assert outbox_states(cache_file(tmp_path)) == []
    assert len(sent_ids(imap_server, user, "only once")) == 1


def test_killed_during_data_reply_without_a_sent_copy_waits_for_the_user(
    tmp_path: Path, dovecot: Dovecot, slow_smtp: Any
) -> None:
    user, recipient = dovecot.add_user(), dovecot.add_user()
    smtp: SlowSmtp = slow_smtp(dovecot, False)
    config = write_config(tmp_path / "config.toml", dovecot, smtp, user)
    assert cli(config, "sync").returncode == 0
    kill_during_data_reply(config, smtp, recipient.email, "maybe twice")

    synced = cli(config, "sync")
    assert synced.returncode == 0
    assert "it is not in Sent, so it may have gone out or not" in synced.stderr
    assert len(smtp.messages_to(recipient.email)) == 1  # not sent a second time behind the user's back
    assert outbox_states(cache_file(tmp_path)) == ["held"]
    cache = Cache(cache_file(tmp_path))
    notes = cache.unseen_notes()
    cache.close()
    assert [kind for kind, _ in notes] == ["held"] and "maybe twice" in notes[0][1]
    assert cli(config, "sync").returncode == 0  # held stays held: the user decides
    assert len(smtp.messages_to(recipient.email)) == 1


def test_pop3_account_holds_an_interrupted_send_for_the_user(tmp_path: Path, dovecot: Dovecot, slow_smtp: Any) -> None:
    user, recipient = dovecot.add_user(), dovecot.add_user()
    smtp: SlowSmtp = slow_smtp(dovecot, False)
    config = write_config(tmp_path / "config.toml", dovecot, smtp, user, protocol="pop3")
    kill_during_data_reply(config, smtp, recipient.email, "ask me")

    synced = cli(config, "sync")
    assert synced.returncode == 0
    assert "may have gone out already" in synced.stderr
    assert len(smtp.messages_to(recipient.email)) == 1  # held, not resent
    assert outbox_states(cache_file(tmp_path)) == ["held"]

    # The user decides to send it again.
    from tui_mail.config import load_config

    manager = AccountManager(load_config(config))
    try:
        [item] = manager.cache("work").outbox()
        assert manager.release_held("work", item.id)
        assert manager.flush_outbox("work") == 1
    finally:
        manager.close()
    assert len(smtp.messages_to(recipient.email)) == 2
    assert outbox_states(cache_file(tmp_path)) == []


def test_send_cli_queued_is_success(tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, mail_user: Any) -> None:
    dead = SimpleNamespace(host=smtp_server.host, port=1, ca_file=smtp_server.ca_file)  # nothing listens there
    config = write_config(tmp_path / "config.toml", dovecot, dead, mail_user)
    result = cli(config, "send", "work", "--to", "bob@example.org", "--subject", "later", stdin="Hi\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "queued: sent at the next sync"
    assert "Cannot reach" in result.stderr
    assert outbox_states(cache_file(tmp_path)) == ["queued"]


def test_refused_send_leaves_one_draft_that_reaches_the_server(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, mail_user: Any
) -> None:
    account = dovecot.imap_account(mail_user, smtp=smtp_server)
    manager = AccountManager(
        Config(path=None, accounts=(account,)), data_dir=tmp_path, password_source=lambda _a, _s: mail_user.password
    )
    try:
        manager.sync(mail_user.name)
        cache = manager.cache(mail_user.name)
        drafts = cache.folder_by_role(Role.DRAFTS)
        # An earlier draft of the message, then the send (replacing it) is refused: one draft remains.
        msg = build_message(from_addr=mail_user.email, to=["nobody@example.test"], subject="keep me", body="text")
        where, draft_id = manager.store_draft(mail_user.name, msg)
        assert where == "server" and draft_id is not None
        from tui_mail.sending import KeptAsDraft

        with pytest.raises(KeptAsDraft):
            manager.send(mail_user.name, msg, replaces=[draft_id])
        drafts = cache.folder_by_role(Role.DRAFTS)
        assert drafts is not None
        assert [r.subject for r in cache.window(drafts.id, 0, 10)] == ["keep me"]
        manager.sync(mail_user.name)
        manager.sync(mail_user.name)
        assert [r.subject for r in cache.window(drafts.id, 0, 10)] == ["keep me"]
        assert all(r.uid is not None for r in cache.window(drafts.id, 0, 10))  # it is on the server now
    finally:
        manager.close()
    client = dovecot.imap_client(mail_user)
    try:
        client.select_folder("Drafts", readonly=True)
        assert len(client.search(["NOT", "DELETED", "SUBJECT", "keep me"])) == 1
    finally:
        client.logout()


def test_send_later_goes_out_at_the_first_sync_after_its_time(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, mail_user: Any
) -> None:
    import time

    recipient = dovecot.add_user()
    account = dovecot.imap_account(mail_user, smtp=smtp_server)
    manager = AccountManager(
        Config(path=None, accounts=(account,)), data_dir=tmp_path, password_source=lambda _a, _s: mail_user.password
    )
    try:
        msg = build_message(from_addr=mail_user.email, to=[recipient.email], subject="in an hour", body="later")
        assert manager.send(mail_user.name, msg, send_after=int(time.time()) + 3600) == "queued"
        manager.sync(mail_user.name)
        assert smtp_server.messages_to(recipient.email) == []  # not due yet
        cache = manager.cache(mail_user.name)
        with cache.transaction() as c:  # an hour later
            c.execute("UPDATE outbox SET send_after=?", (int(time.time()) - 1,))
        manager.sync(mail_user.name)
        assert len(smtp_server.messages_to(recipient.email)) == 1
        assert cache.outbox() == []
        sent = cache.folder_by_role(Role.SENT)
        assert sent is not None
        assert [r.subject for r in cache.window(sent.id, 0, 5)] == ["in an hour"]  # in Sent at once
        manager.sync(mail_user.name)
        assert [r.subject for r in cache.window(sent.id, 0, 5)] == ["in an hour"]  # and not twice after a sync
    finally:
        manager.close()


def test_a_send_that_died_before_data_is_simply_sent(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, mail_user: Any
) -> None:
    recipient = dovecot.add_user()
    account = dovecot.imap_account(mail_user, smtp=smtp_server)
    manager = AccountManager(
        Config(path=None, accounts=(account,)), data_dir=tmp_path, password_source=lambda _a, _s: mail_user.password
    )
    try:
        cache = manager.cache(mail_user.name)
        msg = build_message(from_addr=mail_user.email, to=[recipient.email], subject="claimed", body="x")
        raw = msg.as_bytes()
        item_id = cache.add_outbox(raw, [recipient.email], str(msg["Message-ID"]))
        assert cache.claim_outbox(item_id)  # as if a process took it and died before DATA
        assert not cache.claim_outbox(item_id)  # nobody else can take it meanwhile
        assert cache.take_outbox(item_id) is None  # nor edit or cancel it
        manager.sync(mail_user.name)
        assert len(smtp_server.messages_to(recipient.email)) == 1
        assert cache.outbox() == [] and cache.unseen_notes() == []  # no "may get it twice" for this one
    finally:
        manager.close()


def test_a_sent_copy_kept_locally_reaches_the_servers_sent(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, mail_user: Any
) -> None:
    account = dovecot.imap_account(mail_user, smtp=smtp_server)
    manager = AccountManager(
        Config(path=None, accounts=(account,)), data_dir=tmp_path, password_source=lambda _a, _s: mail_user.password
    )
    try:
        manager.sync(mail_user.name)
        cache = manager.cache(mail_user.name)
        msg = build_message(from_addr=mail_user.email, to=["x@example.org"], subject="copy later", body="x")
        from tui_mail.models import SEEN

        manager._store_local(cache, Role.SENT, msg.as_bytes(), {SEEN})  # as when the APPEND after sending failed
        manager.sync(mail_user.name)
        manager.sync(mail_user.name)
        sent = cache.folder_by_role(Role.SENT)
        assert sent is not None
        rows = cache.window(sent.id, 0, 5)
        assert [r.subject for r in rows] == ["copy later"] and rows[0].uid is not None
    finally:
        manager.close()
    assert len(sent_ids(dovecot, mail_user, "copy later")) == 1
