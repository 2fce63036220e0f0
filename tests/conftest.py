"""Shared fixtures: the private Dovecot and SMTP servers, a fresh mail user, an in-memory keyring, temp app dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.servers import (
    Certificates,
    Dovecot,
    MailUser,
    MemoryKeyring,
    ServerUnavailable,
    SmtpServer,
    check_environment,
    make_certificates,
    new_root,
    start_dovecot,
)

# Nothing in the test process may reach the real keyring, not even outside a test function.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
keyring.set_keyring(fail.Keyring())


def _unavailable(reason: str) -> None:
    """Missing servers fail loudly in CI and skip with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide the test servers: {reason}", pytrace=False)
    pytest.skip(reason)


_SERVER_FIXTURES = {
    "dovecot",
    "dovecot_plain",
    "imap_server",
    "imap_user",
    "imap_smtp",
    "smtp_server_plain",
    "dovecot_nostarttls",
    "smtp_server",
    "mail_user",
    "test_certs",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the real servers with `servers`, so `-m "not servers"` runs the rest."""
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session")
def _servers_root() -> Iterator[Path]:
    try:
        check_environment()
    except ServerUnavailable as e:
        _unavailable(str(e))
    root = new_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def test_certs(_servers_root: Path) -> Certificates:
    """The private CA, the localhost server certificate and an unrelated CA (PEM file paths)."""
    return make_certificates(_servers_root / "certs")


def _start(root: Path, certs: Certificates, *, ssl_enabled: bool, profile: str = "rich") -> Dovecot:
    try:
        return start_dovecot(root, certs, ssl_enabled=ssl_enabled, profile=profile)
    except ServerUnavailable as e:
        _unavailable(str(e))
        raise  # unreachable: _unavailable always raises


@pytest.fixture(scope="session")
def dovecot(_servers_root: Path, test_certs: Certificates) -> Iterator[Dovecot]:
    """The private Dovecot (IMAP, IMAPS, POP3, POP3S with STARTTLS/STLS) shared by the session."""
    server = _start(_servers_root / "dovecot", test_certs, ssl_enabled=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_nostarttls(_servers_root: Path, test_certs: Certificates) -> Iterator[Dovecot]:
    """A second Dovecot with ssl = no: plain IMAP/POP3 only, no STARTTLS/STLS (imaps_port/pop3s_port are 0)."""
    server = _start(_servers_root / "dovecot-nostarttls", test_certs, ssl_enabled=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_plain(_servers_root: Path, test_certs: Certificates) -> Iterator[Dovecot]:
    """A Dovecot of the "plain" shape (Courier, Exchange, hosting servers): no CONDSTORE/QRESYNC/MOVE/SPECIAL-USE,
    an "INBOX." namespace with "." separator, no Sent/Drafts/Trash until a client creates them."""
    server = _start(_servers_root / "dovecot-plain", test_certs, ssl_enabled=True, profile="plain")
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["rich", "plain"])
def imap_server(request: pytest.FixtureRequest) -> Dovecot:
    """Each IMAP test that takes this runs on both server shapes: the rich Dovecot and the plain one."""
    name = "dovecot" if request.param == "rich" else "dovecot_plain"
    server: Dovecot = request.getfixturevalue(name)
    return server


@pytest.fixture(scope="session")
def smtp_server(dovecot: Dovecot, test_certs: Certificates) -> Iterator[SmtpServer]:
    """aiosmtpd submission server (STARTTLS on .port, implicit TLS on .smtps_port) delivering into dovecot."""
    server = SmtpServer(dovecot, test_certs)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server_plain(dovecot_plain: Dovecot, test_certs: Certificates) -> Iterator[SmtpServer]:
    """Like smtp_server, but its logins and deliveries are the plain-profile Dovecot's users."""
    server = SmtpServer(dovecot_plain, test_certs)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def imap_smtp(imap_server: Dovecot, request: pytest.FixtureRequest) -> SmtpServer:
    """The SMTP server that logs in and delivers for imap_server's users (one per server shape)."""
    name = "smtp_server" if imap_server.profile == "rich" else "smtp_server_plain"
    server: SmtpServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def mail_user(dovecot: Dovecot) -> MailUser:
    """A fresh Dovecot user with an empty mailbox."""
    return dovecot.add_user()


@pytest.fixture
def imap_user(imap_server: Dovecot) -> MailUser:
    """A fresh user with an empty mailbox on imap_server (each server shape in turn)."""
    return imap_server.add_user()


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Every test gets an empty in-memory keyring; the real one is never touched."""
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(fail.Keyring())


@pytest.fixture(autouse=True)
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TUI_MAIL_DATA_DIR, TUI_MAIL_STATE_DIR and TUI_MAIL_CONFIG into the test's tmp dir; subprocesses
    (the CLI run as a program) get the "no keyring" backend, so they never reach the real keyring either."""
    base = tmp_path / "tui-mail"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("TUI_MAIL_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("TUI_MAIL_STATE_DIR", str(base / "state"))
    monkeypatch.setenv("TUI_MAIL_CONFIG", str(base / "config.toml"))
    return base


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs to fill up (needs root); skipped with the reason where mounting is not permitted.
    `mount -o remount,size=64m` on it frees space."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'mount failed'})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
