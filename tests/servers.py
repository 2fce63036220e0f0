"""Real mail servers for the tests: a private Dovecot (IMAP/POP3) and an aiosmtpd SMTP server on loopback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imapclient
import keyring.backend
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tui_mail.config import AccountConfig, Pop3Options, Security, ServerConfig

HOST = "127.0.0.1"
DOMAIN = "example.test"
INSTALL_HINT = "dovecot not installed: apt-get install dovecot-imapd dovecot-pop3d"
START_TIMEOUT = 15.0


class ServerUnavailable(Exception):
    """The servers cannot run on this machine (not installed, not permitted); the reason says why."""


@dataclass(frozen=True)
class MailUser:
    """A Dovecot login; email is where the SMTP server delivers for it."""

    name: str
    password: str
    email: str = ""

    def __post_init__(self) -> None:
        if not self.email:
            object.__setattr__(self, "email", f"{self.name}@{DOMAIN}")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring so no test ever touches the real one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise PasswordDeleteError("no such password") from None


# ---------------------------------------------------------------------------------------------------------------
# helpers


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, deadline: float, greeting: bytes = b"") -> bool:
    """Poll until HOST:port accepts connections (and, if given, its first line starts with greeting), or the
    deadline (monotonic) passes. A bound port alone is not readiness: the kernel accepts before the server does."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1.0) as s:
                if not greeting or s.recv(64).startswith(greeting):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def _run(cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(cmd), check=True, capture_output=True, **kw)


@dataclass(frozen=True)
class Certificates:
    """PEM files of a private CA, a server certificate it signed, and an unrelated second CA."""

    ca_file: str
    cert_file: str
    key_file: str
    wrong_ca_file: str


def make_certificates(directory: Path) -> Certificates:
    """Generate (with openssl) a CA, a localhost server cert signed by it, and a second, unrelated CA."""
    if shutil.which("openssl") is None:
        raise ServerUnavailable("openssl not installed: apt-get install openssl")
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = [
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-addext",
        "subjectKeyIdentifier=hash",
    ]
    for name, cn in (("ca", "tui-mail test CA"), ("wrong-ca", "tui-mail unrelated CA")):
        _run(
            [
                "openssl",
                "req",
                "-x509",
                *ec,
                "-days",
                "3650",
                "-subj",
                f"/CN={cn}",
                "-keyout",
                str(d / f"{name}.key"),
                "-out",
                str(d / f"{name}.pem"),
                *ca_ext,
            ]
        )
    _run(
        [
            "openssl",
            "req",
            "-new",
            *ec,
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(d / "server.key"),
            "-out",
            str(d / "server.csr"),
        ]
    )
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(d / "server.csr"),
            "-CA",
            str(d / "ca.pem"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            str(d / "server.ext"),
            "-out",
            str(d / "server.pem"),
        ]
    )
    for f in d.iterdir():
        f.chmod(0o644)  # Dovecot reads the key as root, but keep the dir readable for its workers
    return Certificates(
        ca_file=str(d / "ca.pem"),
        cert_file=str(d / "server.pem"),
        key_file=str(d / "server.key"),
        wrong_ca_file=str(d / "wrong-ca.pem"),
    )


# ---------------------------------------------------------------------------------------------------------------
# Dovecot

_SPECIAL = (
    ("Drafts", r"\Drafts"),
    ("Sent", r"\Sent"),
    ("Trash", r"\Trash"),
    ("Junk", r"\Junk"),
    ("Archive", r"\Archive"),
)
_instances = itertools.count(1)

# The "plain" profile stands in for Courier, Exchange and hosting servers: no CONDSTORE, QRESYNC, MOVE or
# SPECIAL-USE, personal folders under an "INBOX." prefix with "." as separator, and no Sent/Drafts/Trash at first.
PLAIN_CAPABILITY = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE NAMESPACE UIDPLUS CHILDREN UNSELECT"
PROFILES = ("rich", "plain")


def dovecot_binary() -> str | None:
    """Path of the dovecot binary, if installed."""
    return shutil.which("dovecot") or (("/usr/sbin/dovecot") if os.path.exists("/usr/sbin/dovecot") else None)


def doveadm_binary() -> str | None:
    """Path of the doveadm binary, if installed."""
    return shutil.which("doveadm") or (("/usr/bin/doveadm") if os.path.exists("/usr/bin/doveadm") else None)


class Dovecot:
    """A private Dovecot 2.3 on loopback: its own config, ports, users (passwd-file), Maildirs and TLS certificates."""

    host = HOST

    def __init__(self, root: Path, certs: Certificates, *, ssl_enabled: bool = True, profile: str = "rich") -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown Dovecot profile {profile!r}")
        self.root = root
        self.ssl_enabled = ssl_enabled
        self.profile = profile
        # Where personal folders live on this server shape, and how a folder's full name is written.
        self.prefix, self.separator = ("INBOX.", ".") if profile == "plain" else ("", "/")
        self.ca_file = certs.ca_file
        self.wrong_ca_file = certs.wrong_ca_file
        self._certs = certs
        self.conf = root / "dovecot.conf"
        self.log_file = root / "dovecot.log"
        # One passwd-file per user: Dovecot re-checks a loaded file at most once a second, but a new user's file
        # is read on first use, so users added at run time can log in immediately.
        self.users_dir = root / "users"
        self.mail_dir = root / "mail"
        self.imap_port = 0
        self.imaps_port = 0
        self.pop3_port = 0
        self.pop3s_port = 0
        self.users: dict[str, MailUser] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._dovecot = dovecot_binary()
        self._doveadm = doveadm_binary()
        self._proc: subprocess.Popen[bytes] | None = None
        if self._dovecot is None or self._doveadm is None:
            raise ServerUnavailable(INSTALL_HINT)
        if os.geteuid() == 0:
            mail = pwd.getpwnam("mail")
            self._uid, self._gid = mail.pw_uid, mail.pw_gid
            self._login_user, self._internal_user = "dovenull", "dovecot"
            for needed in ("dovenull", "dovecot"):
                try:
                    pwd.getpwnam(needed)
                except KeyError:
                    raise ServerUnavailable(f"system user {needed!r} missing: reinstall dovecot-core") from None
        else:
            me = pwd.getpwuid(os.geteuid())
            self._uid, self._gid = me.pw_uid, me.pw_gid
            self._login_user = self._internal_user = me.pw_name
        self._internal_group = grp.getgrgid(self._gid).gr_name if os.geteuid() != 0 else "dovecot"

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Write the config, start Dovecot and wait until every listener accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.mail_dir.mkdir(exist_ok=True)
        os.chown(self.mail_dir, self._uid, self._gid)
        self.users_dir.mkdir(exist_ok=True)
        self.users_dir.chmod(0o755)
        last_error = ""
        for _attempt in range(3):  # a port picked as free may be taken by a parallel test run: retry with new ones
            self.imap_port, self.pop3_port = free_port(), free_port()
            if self.ssl_enabled:
                self.imaps_port, self.pop3s_port = free_port(), free_port()
            self.conf.write_text(self._config())
            try:
                self.log_file.unlink()
            except FileNotFoundError:
                pass
            # Foreground (-F) as our child, killed with us even if pytest itself is killed: no orphaned daemons.
            with open(self.root / "startup.err", "wb") as err:
                self._proc = subprocess.Popen(
                    [str(self._dovecot), "-F", "-c", str(self.conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    preexec_fn=_die_with_parent,
                    start_new_session=True,
                )
            deadline = time.monotonic() + START_TIMEOUT
            # The plain ports must greet; the TLS ones are served by the same login processes.
            ports = [
                (self.imap_port, b"* OK"),
                (self.pop3_port, b"+OK"),
                (self.imaps_port, b""),
                (self.pop3s_port, b""),
            ]
            if all(self._wait_ready(p, greeting, deadline) for p, greeting in ports if p):
                return
            tail = self._startup_output()
            self.stop()
            if "Address already in use" in tail:
                last_error = tail
                continue
            raise RuntimeError(f"dovecot did not start (config {self.conf}):\n{tail}")
        raise RuntimeError(f"dovecot could not bind free ports: {last_error}")

    def _wait_ready(self, port: int, greeting: bytes, deadline: float) -> bool:
        while time.monotonic() < deadline and self._proc is not None and self._proc.poll() is None:
            if wait_for_port(port, min(deadline, time.monotonic() + 0.2), greeting):
                return True
        return False

    def _startup_output(self) -> str:
        try:
            err = (self.root / "startup.err").read_text(errors="replace").strip()
        except OSError:
            err = ""
        return f"{err}\n--- {self.log_file} (tail) ---\n{self.log_tail()}"

    def stop(self) -> None:
        """Stop Dovecot and every process it started (its own process group); waits at most ~0.5 s."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # The whole group at once: SIGTERM to only the master makes it wait a second for its children.
        _killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=0.5)  # the mail it holds is throwaway: no need for a graceful shutdown
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)  # master not reaped yet, so the group id is still ours
            proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of Dovecot's log file."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _config(self) -> str:
        r = self.root
        root_mode = os.geteuid() == 0
        mailboxes = (
            "\n".join(
                f"  mailbox {name} {{\n    auto = subscribe\n    special_use = {flag}\n  }}" for name, flag in _SPECIAL
            )
            if self.profile == "rich"
            else ""
        )
        namespace = "  separator = /\n" if self.profile == "rich" else "  separator = .\n  prefix = INBOX.\n"
        capability = f"imap_capability = {PLAIN_CAPABILITY}\n" if self.profile == "plain" else ""
        ssl_lines = (
            f"ssl = yes\nssl_cert = <{self._certs.cert_file}\nssl_key = <{self._certs.key_file}\n"
            "ssl_min_protocol = TLSv1.2\n"
            if self.ssl_enabled
            else "ssl = no\n"
        )
        imaps = (
            f"  inet_listener imaps {{\n    port = {self.imaps_port}\n    ssl = yes\n  }}\n" if self.ssl_enabled else ""
        )
        pop3s = (
            f"  inet_listener pop3s {{\n    port = {self.pop3s_port}\n    ssl = yes\n  }}\n" if self.ssl_enabled else ""
        )
        imaps_off = "" if self.ssl_enabled else "  inet_listener imaps {\n    port = 0\n  }\n"
        pop3s_off = "" if self.ssl_enabled else "  inet_listener pop3s {\n    port = 0\n  }\n"
        chroot = "" if root_mode else "  chroot =\n"
        # Rich profile: QUOTA (RFC 9208) with no limit unless a user is made with one (add_user(quota_kb=...)).
        quota = (
            "mail_plugins = $mail_plugins quota\nprotocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n"
            "plugin {\n  quota = maildir:User quota\n}\n"
            if self.profile == "rich"
            else ""
        )
        return f"""# generated by tests/servers.py
instance_name = tui-mail-test-{os.getpid()}-{next(_instances)}
protocols = imap pop3
listen = {HOST}
base_dir = {r}/run
state_dir = {r}/state
log_path = {self.log_file}
info_log_path = {self.log_file}
debug_log_path = {self.log_file}
shutdown_clients = yes
default_login_user = {self._login_user}
default_internal_user = {self._internal_user}
default_internal_group = {self._internal_group}
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 0
# Wrong-password tests must not slow down every later login from 127.0.0.1 (2-15 s auth penalty).
auth_failure_delay = 0
mail_location = maildir:{self.mail_dir}/%n/Maildir
mail_uid = {self._uid}
mail_gid = {self._gid}
first_valid_uid = {self._uid}
last_valid_uid = 0
first_valid_gid = {self._gid}
mail_fsync = never
maildir_very_dirty_syncs = no
imap_idle_notify_interval = 2 mins
mail_max_userip_connections = 1000
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {self.users_dir}/%n
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {self.users_dir}/%n
  default_fields = uid={self._uid} gid={self._gid} home={self.mail_dir}/%n
}}
{quota}{capability}namespace inbox {{
  inbox = yes
{namespace}{mailboxes}
}}
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
{imaps}{imaps_off}{chroot}  process_min_avail = 1
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
{pop3s}{pop3s_off}{chroot}}}
service anvil {{
{chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap {{
  process_limit = 1024
}}
service pop3 {{
  process_limit = 1024
}}
"""

    # -- users and mail -------------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str = "secret", quota_kb: int | None = None) -> MailUser:
        """Create a login (unique name when None); it works at once, no restart needed. quota_kb: a storage limit
        (rich profile only, which has the quota plugin)."""
        with self._lock:
            if name is None:
                name = f"user{os.getpid()}x{next(self._counter)}"
                while name in self.users:
                    name = f"user{os.getpid()}x{next(self._counter)}"
            if name in self.users:
                raise ValueError(f"user {name!r} already exists")
            if name.startswith(".") or any(c in name for c in ":\n@/% ") or any(c in password for c in ":\n"):
                raise ValueError("bad test user: name without ':@/% ', not starting with '.'; password without ':'")
            user = MailUser(name=name, password=password)
            self.users[name] = user
            tmp = self.users_dir / f".{name}.tmp"
            extra = f"userdb_quota_rule=*:storage={quota_kb}K" if quota_kb is not None else ""
            tmp.write_text(f"{name}:{{PLAIN}}{password}::::::{extra}\n", encoding="utf-8")
            tmp.chmod(0o644)
            os.replace(tmp, self.users_dir / name)
            return user

    def doveadm(self, *args: str, input: bytes | None = None) -> str:
        """Run `doveadm -c CONF ARGS...` and return its stdout; raises RuntimeError with stderr on failure."""
        proc = subprocess.run(
            [str(self._doveadm), "-c", str(self.conf), *args], input=input, capture_output=True, timeout=30
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"doveadm {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
            )
        return proc.stdout.decode(errors="replace")

    def folder_name(self, name: str) -> str:
        """The server's full name of a personal folder ("Sent" -> "INBOX.Sent" on the plain profile);
        "INBOX" stays "INBOX"; "a/b" uses this server's separator."""
        if name.upper() == "INBOX":
            return "INBOX"
        return self.prefix + name.replace("/", self.separator)

    def imap_client(self, user: MailUser) -> imapclient.IMAPClient:
        """A logged-in IMAPClient over the plain port (no TLS) - handy for seeding and checking in tests."""
        client = imapclient.IMAPClient(HOST, port=self.imap_port, ssl=False, timeout=30)
        client.login(user.name, user.password)
        return client

    def deliver(
        self,
        user: MailUser,
        raw: bytes,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
        when: dt.datetime | None = None,
    ) -> None:
        """Put one message into a user's folder by IMAP APPEND (the folder is created if missing)."""
        self.deliver_many(user, [raw], folder=folder, flags=flags, when=when)

    def deliver_many(
        self,
        user: MailUser,
        raws: Iterable[bytes],
        folder: str = "INBOX",
        flags: Sequence[str] = (),
        when: dt.datetime | None = None,
    ) -> int:
        """Append many messages over one IMAP connection; returns how many were appended."""
        client = self.imap_client(user)
        try:
            if folder.upper() != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            n = 0
            if not client.has_capability("MULTIAPPEND"):  # the plain profile: one APPEND per message
                for raw in raws:
                    client.append(folder, raw, flags=tuple(flags), msg_time=when)
                    n += 1
                return n
            batch: list[dict[str, Any]] = []
            for raw in raws:
                item: dict[str, Any] = {"msg": raw, "flags": tuple(flags)}
                if when is not None:
                    item["date"] = when
                batch.append(item)
                if len(batch) >= 200:  # MULTIAPPEND: one command per batch, far faster than one APPEND each
                    client.multiappend(folder, batch)
                    n, batch = n + len(batch), []
            if batch:
                client.multiappend(folder, batch)
                n += len(batch)
            return n
        finally:
            try:
                client.logout()
            except Exception:
                pass

    # -- account configs ------------------------------------------------------------------------------------

    def _port_for(self, protocol: str, security: Security) -> int:
        if protocol == "imap":
            return self.imaps_port if security == "tls" else self.imap_port
        return self.pop3s_port if security == "tls" else self.pop3_port

    def _account(self, protocol: str, user: MailUser, security: Security, overrides: dict[str, Any]) -> AccountConfig:
        server_fields = {f.name for f in dataclasses.fields(ServerConfig)}
        incoming_kw: dict[str, Any] = {k: overrides.pop(k) for k in list(overrides) if k in server_fields}
        incoming = ServerConfig(
            host=HOST,
            port=self._port_for(protocol, security),
            security=security,
            username=user.name,
            ca_file=self.ca_file,
            timeout=10.0,
        )
        incoming = dataclasses.replace(incoming, **incoming_kw)
        smtp = overrides.pop("smtp", None)
        if isinstance(smtp, SmtpServer):
            smtp = smtp.smtp_config(user)
        fields: dict[str, Any] = {
            "name": user.name,
            "email": user.email,
            "protocol": protocol,
            "incoming": incoming,
            "smtp": smtp,
        }
        fields.update(overrides)
        return AccountConfig(**fields)

    def imap_account(self, user: MailUser, security: Security = "tls", **overrides: Any) -> AccountConfig:
        """An IMAP AccountConfig for user. overrides: AccountConfig fields, ServerConfig fields (applied to
        incoming), or smtp=<SmtpServer|ServerConfig>."""
        return self._account("imap", user, security, dict(overrides))

    def pop3_account(
        self,
        user: MailUser,
        security: Security = "tls",
        leave_on_server: bool = True,
        delete_after_days: int | None = None,
        **overrides: Any,
    ) -> AccountConfig:
        """A POP3 AccountConfig for user, with the given download policy (overrides as in imap_account)."""
        kw = dict(overrides)
        kw.setdefault("pop3", Pop3Options(leave_on_server=leave_on_server, delete_after_days=delete_after_days))
        return self._account("pop3", user, security, kw)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when the test process dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_dovecot(root: Path, certs: Certificates, *, ssl_enabled: bool = True, profile: str = "rich") -> Dovecot:
    """Create and start a Dovecot under root ("rich" or "plain" profile, see PLAIN_CAPABILITY)."""
    d = Dovecot(root, certs, ssl_enabled=ssl_enabled, profile=profile)
    d.start()
    return d


def check_environment() -> None:
    """Raise ServerUnavailable with the reason when the private servers cannot run here."""
    if dovecot_binary() is None or doveadm_binary() is None:
        raise ServerUnavailable(INSTALL_HINT)
    if shutil.which("openssl") is None:
        raise ServerUnavailable("openssl not installed: apt-get install openssl")


def new_root(prefix: str = "tui-mail-servers-") -> Path:
    """A fresh temp directory, readable by Dovecot's unprivileged workers."""
    base = Path(tempfile.gettempdir())
    # Dovecot's workers run as other users: every parent directory must be searchable by them (a private TMPDIR
    # such as /root/tmp is not), else fall back to /tmp.
    if not all(os.stat(p).st_mode & 0o001 for p in [base, *base.parents]):
        base = Path("/tmp")
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    root.chmod(0o755)
    return root


# ---------------------------------------------------------------------------------------------------------------
# SMTP


def server_ssl_context(certs: Certificates) -> ssl.SSLContext:
    """The server-side TLS context with the test certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_file, certs.key_file)
    return ctx


class _Handler:
    """Accepts mail for Dovecot users (delivered to their INBOX) and any external domain; 550 for unknown locals."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local, _, domain = address.rpartition("@")
        if domain.lower() == DOMAIN and local not in self.server.dovecot.users:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if isinstance(data, str):
            data = data.encode()
        rcpts = list(envelope.rcpt_tos)
        mail_from = envelope.mail_from or ""
        for rcpt in rcpts:
            local, _, domain = rcpt.rpartition("@")
            if domain.lower() == DOMAIN and local in self.server.dovecot.users:
                try:
                    self.server.dovecot.deliver(self.server.dovecot.users[local], data)
                except Exception as e:  # surfaces in the client as a temporary failure
                    return f"451 4.3.0 delivery to {rcpt} failed: {e}"
        with self.server.lock:
            self.server.messages.append((mail_from, rcpts, data))
        return "250 OK: queued"


class _ImplicitTlsController(Controller):
    """aiosmtpd counts only STARTTLS as TLS for auth_require_tls; an implicit-TLS connection is encrypted anyway."""

    def factory(self) -> SMTP:
        smtp = super().factory()
        smtp._auth_require_tls = False  # set after construction: passing False would warn on every connection
        return smtp


class SmtpServer:
    """aiosmtpd on loopback: .port (STARTTLS required before AUTH) and .smtps_port (implicit TLS); AUTH is checked
    against the Dovecot users and required before MAIL."""

    host = HOST

    def __init__(self, dovecot: Dovecot, certs: Certificates) -> None:
        self.dovecot = dovecot
        self.ca_file = certs.ca_file
        self.wrong_ca_file = certs.wrong_ca_file
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        self._certs = certs
        self.port = 0
        self.smtps_port = 0
        self._controllers: list[Controller] = []

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        user = self.dovecot.users.get(login) or self.dovecot.users.get(login.partition("@")[0])
        ok = user is not None and user.password == password
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        """Start both listeners."""
        ctx = server_ssl_context(self._certs)
        common: dict[str, Any] = {
            "authenticator": self._authenticate,
            "auth_required": True,
            "auth_require_tls": True,
            "server_hostname": "localhost",
            "ident": "tui-mail test SMTP",
            "enable_SMTPUTF8": True,
        }
        starttls = Controller(
            _Handler(self), hostname=HOST, port=free_port(), tls_context=ctx, require_starttls=True, **common
        )
        implicit = _ImplicitTlsController(_Handler(self), hostname=HOST, port=free_port(), ssl_context=ctx, **common)
        for c in (starttls, implicit):
            c.start()
            self._controllers.append(c)
        self.port = starttls.port
        self.smtps_port = implicit.port

    def stop(self) -> None:
        """Stop both listeners."""
        for c in self._controllers:
            try:
                c.stop()
            except Exception:
                pass
        self._controllers.clear()

    def smtp_config(self, user: MailUser, security: Security = "starttls") -> ServerConfig:
        """A ServerConfig for sending as user (starttls -> .port, tls -> .smtps_port)."""
        return ServerConfig(
            host=HOST,
            port=self.smtps_port if security == "tls" else self.port,
            security=security,
            username=user.name,
            ca_file=self.ca_file,
            timeout=10.0,
        )

    def messages_to(self, address: str) -> list[bytes]:
        """Data of every accepted message with address among its recipients."""
        with self.lock:
            return [data for _f, rcpts, data in self.messages if address in rcpts]
