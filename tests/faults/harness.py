"""The fault-injection harness: run `tui-mail sync` as a subprocess (killed at hooks or at random times), and check
that the cache and the server agree afterwards (integrity, UIDs, flags, folders, Message-IDs, idempotent resync)."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import imapclient

from tests.servers import Dovecot, MailUser, SmtpServer
from tui_mail.store.cache import text_to_flags

ACCOUNT = "acct"
RUN_TIMEOUT = 300
_IGNORED = {"\\recent"}
_MSGID = re.compile(rb"^message-id:\s*(.*?)\s*$", re.I | re.M)


# -- corpora ---------------------------------------------------------------------------------------------------------


def norm_id(value: str | bytes) -> str:
    """A Message-ID without angle brackets or surrounding space, for comparing the cache with the server."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.strip().strip("<>").strip()


def make_message(tag: str, i: int, size: int = 0, rng: random.Random | None = None) -> tuple[bytes, str]:
    """A small message with a unique Message-ID (tag, i); size pads the body to about that many bytes."""
    msg = EmailMessage()
    msg["From"] = f"Sender {i % 17} <sender{i % 17}@example.org>"
    msg["To"] = "me@example.test"
    msg["Subject"] = f"fault corpus {tag} #{i}"
    msg["Date"] = f"Mon, {1 + i % 28:02d} Nov 2026 {i % 24:02d}:{i % 60:02d}:00 +0000"
    mid = f"fc-{tag}-{i}@example.org"
    msg["Message-ID"] = f"<{mid}>"
    body = f"Body of message {i} ({tag}).\n"
    if size > len(body):
        filler = (rng or random.Random(i)).randbytes(size // 2).hex()
        body += "\n".join(filler[j : j + 76] for j in range(0, len(filler), 76)) + "\n"
    msg.set_content(body)
    return msg.as_bytes(), mid


_FLAG_CHOICES = ((), ("\\Seen",), ("\\Seen", "\\Flagged"), ("\\Answered", "\\Seen"), ("$Label1",))


def seed(
    server: Dovecot, user: MailUser, layout: dict[str, int], *, tag: str, seed_value: int = 1, size: int = 0
) -> set[str]:
    """Append layout[folder] messages to each folder (personal names: "Work" becomes "INBOX.Work" on the plain
    server) with varied flags; returns their Message-IDs."""
    rng = random.Random(seed_value)
    ids: set[str] = set()
    client = server.imap_client(user)
    try:
        n = 0
        for folder, count in layout.items():
            name = server.folder_name(folder)
            if name != "INBOX" and not client.folder_exists(name):
                client.create_folder(name)
            batch: list[dict[str, Any]] = []
            for _ in range(count):
                raw, mid = make_message(tag, n, size, rng)
                n += 1
                ids.add(mid)
                batch.append({"msg": raw, "flags": rng.choice(_FLAG_CHOICES)})
                if len(batch) >= 200:
                    _append_all(client, name, batch)
                    batch = []
            if batch:
                _append_all(client, name, batch)
    finally:
        client.logout()
    return ids


def _append_all(client: imapclient.IMAPClient, folder: str, batch: list[dict[str, Any]]) -> None:
    if client.has_capability("MULTIAPPEND"):
        client.multiappend(folder, batch)
    else:  # the plain profile: one APPEND each
        for item in batch:
            client.append(folder, item["msg"], flags=item["flags"])


# -- snapshots -------------------------------------------------------------------------------------------------------

Snapshot = dict[str, dict[int | None, list[tuple[frozenset[str], str]]]]


def _flags(values: Any) -> frozenset[str]:
    out = set()
    for v in values:
        s = v.decode() if isinstance(v, bytes) else str(v)
        if s.lower() not in _IGNORED:
            out.add(s)
    return frozenset(out)


def server_snapshot(server: Dovecot, user: MailUser) -> tuple[Snapshot, dict[str, int]]:
    """Every selectable folder on the server: {name: {uid: [(flags, message-id)]}} and {name: UIDVALIDITY}."""
    client = server.imap_client(user)
    snap: Snapshot = {}
    validity: dict[str, int] = {}
    try:
        for flags, _delim, name in client.list_folders():
            lflags = {(f.decode() if isinstance(f, bytes) else str(f)).lower() for f in flags}
            if "\\noselect" in lflags or "\\nonexistent" in lflags:
                continue
            name = "INBOX" if name.upper() == "INBOX" else name
            info = client.select_folder(name, readonly=True)
            validity[name] = int(info[b"UIDVALIDITY"])
            uids = client.search(["ALL"])
            rows: dict[int | None, list[tuple[frozenset[str], str]]] = {}
            for i in range(0, len(uids), 500):
                data = client.fetch(uids[i : i + 500], ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                for uid, d in data.items():
                    header = d.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]") or b""
                    m = _MSGID.search(header)
                    rows[uid] = [(_flags(d.get(b"FLAGS", ())), norm_id(m.group(1)) if m else "")]
            snap[name] = rows
            client.unselect_folder()
    finally:
        client.logout()
    return snap, validity


def cache_snapshot(db: Path) -> tuple[Snapshot, dict[str, int | None], set[str]]:
    """The cache read directly with sqlite3: server folders as {name: {uid: [(flags, message-id)]}} (uid None for
    rows without a server UID), their UIDVALIDITY, and the names of local-only folders."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        snap: Snapshot = {}
        validity: dict[str, int | None] = {}
        local: set[str] = set()
        for fid, name, local_only, uidvalidity in conn.execute("SELECT id, name, local_only, uidvalidity FROM folders"):
            if local_only:
                local.add(name)
            snap[name] = {}
            validity[name] = uidvalidity
            for uid, flags, mid in conn.execute(
                "SELECT uid, flags, message_id FROM messages WHERE folder_id=?", (fid,)
            ):
                snap[name].setdefault(uid, []).append((text_to_flags(flags), norm_id(mid)))
        return snap, validity, local
    finally:
        conn.close()


def table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a sync could change, to prove that a further sync changes nothing."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return {
            "folders": sorted(conn.execute("SELECT id, name, uidvalidity, last_uid, local_only FROM folders")),
            "messages": sorted(
                conn.execute("SELECT id, folder_id, uid, uidvalidity, flags, message_id, body_hash FROM messages")
            ),
            "pending": sorted(conn.execute("SELECT id, kind, uid, attempts FROM pending_actions")),
            "outbox": sorted(conn.execute("SELECT id FROM outbox")),
        }
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return ";".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def ids_of(snap: Snapshot) -> Counter[str]:
    return Counter(mid for rows in snap.values() for entries in rows.values() for _f, mid in entries)


# -- the account under test ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One finished `tui-mail` subprocess."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


@dataclass
class FaultAccount:
    """An account in a config file (password_command, so the subprocess needs no keyring) plus its cache path."""

    server: Dovecot
    user: MailUser
    workdir: Path
    protocol: str = "imap"
    leave_on_server: bool = True
    smtp: SmtpServer | None = None
    data_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.data_dir is None:
            self.data_dir = self.workdir / "data"
        if self.smtp is not None and self.user.name not in self.smtp.dovecot.users:
            # The SMTP server logs users in against the Dovecot it delivers to: the same login must exist there.
            self.smtp.dovecot.add_user(self.user.name, self.user.password)
        self.write_config()

    @property
    def config_path(self) -> Path:
        return self.workdir / "faults-config.toml"

    @property
    def db(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / f"{ACCOUNT}.sqlite3"

    def write_config(self) -> None:
        """(Re)write the config; call again after the server restarted on new ports."""
        port = self.server.imaps_port if self.protocol == "imap" else self.server.pop3s_port
        text = f"""
[[accounts]]
name = "{ACCOUNT}"
email = "{self.user.email}"
protocol = "{self.protocol}"
idle = false
[accounts.incoming]
host = "{self.server.host}"
port = {port}
security = "tls"
username = "{self.user.name}"
ca_file = "{self.server.ca_file}"
password_command = "printf %s {self.user.password}"
timeout = 20
"""
        if self.protocol == "pop3":
            text += f"[accounts.pop3]\nleave_on_server = {'true' if self.leave_on_server else 'false'}\n"
        if self.smtp is not None:
            text += f"""[accounts.smtp]
host = "{self.smtp.host}"
port = {self.smtp.port}
security = "starttls"
ca_file = "{self.smtp.ca_file}"
"""
        self.config_path.write_text(text, encoding="utf-8")

    def _env(self, fault: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["TUI_MAIL_DATA_DIR"] = str(self.data_dir)
        env.pop("TUI_MAIL_FAULT", None)
        if fault:
            env["TUI_MAIL_FAULT"] = fault
        return env

    def start(self, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
        """Start `python -m tui_mail --config CONFIG ARGS` (default: sync ACCOUNT) without waiting."""
        argv = list(args) or ["sync", ACCOUNT]
        return subprocess.Popen(
            [sys.executable, "-m", "tui_mail", "--config", str(self.config_path), *argv],
            env=self._env(fault),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, fault: str | None = None) -> Run:
        proc = self.start(*args, fault=fault)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        return Run(proc.returncode, out, err)

    def sync(self, fault: str | None = None) -> Run:
        return self.run(fault=fault)

    def sync_ok(self) -> Run:
        r = self.sync()
        assert r.returncode == 0, f"sync failed ({r.returncode}): {r.stderr.strip()}"
        return r

    def kill_after(self, delay: float) -> Run:
        """Start a sync and SIGKILL it after delay seconds (if it is still running)."""
        proc = self.start()
        try:
            out, err = proc.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=RUN_TIMEOUT)
        return Run(proc.returncode, out, err)

    def manager(self) -> Any:
        """An offline AccountManager on the same config and cache, to make local changes as the UI would."""
        from tui_mail.accounts import AccountManager
        from tui_mail.config import load_config

        return AccountManager(load_config(self.config_path), data_dir=self.data_dir, offline=True)


def wait_stopped(proc: subprocess.Popen[str], timeout: float = 120.0) -> bool:
    """Wait until a subprocess stopped itself (SIGSTOP at a fault point); False if it ended or never stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = ""
        if state == "T":
            return True
        time.sleep(0.02)
    return False


# -- invariants ------------------------------------------------------------------------------------------------------


def one_sentence(stderr: str) -> bool:
    """A user-facing failure: no traceback, one line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "Traceback" not in stderr and len(lines) == 1


def check_imap(acct: FaultAccount, expected: set[str] | None = None, *, resync: bool = True) -> list[str]:
    """Every invariant of a finished IMAP sync; returns the problems found (empty: all good).

    integrity_check ok; the cache has exactly the server's folders, UIDVALIDITYs, UIDs, flags and Message-IDs; no
    Message-ID twice on either side; nothing of `expected` lost; a further sync reports and changes nothing."""
    problems: list[str] = []
    ok = integrity(acct.db)
    if ok != "ok":
        problems.append(f"integrity_check: {ok}")
    server, server_validity = server_snapshot(acct.server, acct.user)
    cache, cache_validity, local = cache_snapshot(acct.db)
    cache_server_folders = {name: rows for name, rows in cache.items() if name not in local}
    if set(cache_server_folders) != set(server):
        problems.append(f"folders differ: cache {sorted(cache_server_folders)} vs server {sorted(server)}")
    for name in sorted(set(cache_server_folders) & set(server)):
        if cache_validity.get(name) != server_validity[name]:
            problems.append(f"{name}: UIDVALIDITY cache {cache_validity.get(name)} vs server {server_validity[name]}")
        crow, srow = cache_server_folders[name], server[name]
        ghosts = crow.get(None, [])
        if ghosts:
            problems.append(
                f"{name}: {len(ghosts)} cache row(s) without a server UID: {sorted(m for _f, m in ghosts)[:5]}"
            )
        for uid in sorted(set(crow) - {None} | set(srow), key=lambda u: u or 0):
            if uid is None:
                continue
            c, s = crow.get(uid), srow.get(uid)
            if c is None:
                problems.append(f"{name}: UID {uid} {s[0][1] if s else ''} on the server, missing in the cache")
            elif s is None:
                problems.append(f"{name}: UID {uid} {c[0][1]} in the cache, gone from the server")
            elif len(c) != 1 or c[0] != s[0]:
                problems.append(f"{name}: UID {uid} differs: cache {c} vs server {s}")
    for side, snap in (("server", server), ("cache", cache)):
        counts = ids_of(snap)
        doubled = sorted(m for m, n in counts.items() if n > 1 and m)
        if doubled:
            problems.append(f"{len(doubled)} Message-ID(s) more than once on the {side}: {doubled[:5]}")
        if expected is not None:
            lost = sorted(expected - set(counts))
            if lost:
                problems.append(f"{len(lost)} message(s) lost on the {side}: {lost[:5]}")
    if resync and not problems:
        before = table_rows(acct.db)
        r = acct.sync()
        if r.returncode != 0:
            problems.append(f"the further sync failed ({r.returncode}): {r.stderr.strip()}")
        elif " 0 new, 0 removed, 0 flag changes" not in r.stdout:
            problems.append(f"the further sync was not a no-op: {r.stdout.strip()}")
        after = table_rows(acct.db)
        if before != after:
            changed = [k for k in before if before[k] != after[k]]
            problems.append(f"the further sync changed the cache ({', '.join(changed)})")
        if server_snapshot(acct.server, acct.user)[0] != server:
            problems.append("the further sync changed the server")
    return problems


def pop3_server_ids(acct: FaultAccount) -> Counter[str]:
    client = acct.server.imap_client(acct.user)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        counts: Counter[str] = Counter()
        if uids:
            for d in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
                m = _MSGID.search(d.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]") or b"")
                counts[norm_id(m.group(1)) if m else ""] += 1
        return counts
    finally:
        client.logout()


def check_pop3(acct: FaultAccount, expected: set[str], *, complete: bool) -> list[str]:
    """POP3 invariants: integrity ok; no message doubled in the cache; every expected message on the server or in
    the cache. complete (after a clean sync): all in the cache, and the server holds all (keep mode) or none (delete
    mode), and a further sync changes nothing."""
    problems: list[str] = []
    ok = integrity(acct.db)
    if ok != "ok":
        problems.append(f"integrity_check: {ok}")
    cache, _v, _local = cache_snapshot(acct.db)
    in_cache = ids_of(cache)
    on_server = pop3_server_ids(acct)
    doubled = sorted(m for m, n in in_cache.items() if n > 1)
    if doubled:
        problems.append(f"{len(doubled)} message(s) twice in the cache: {doubled[:5]}")
    lost = sorted(expected - set(in_cache) - set(on_server))
    if lost:
        problems.append(f"{len(lost)} message(s) lost (neither on the server nor in the cache): {lost[:5]}")
    if complete and not problems:
        missing = sorted(expected - set(in_cache))
        if missing:
            problems.append(f"{len(missing)} message(s) not downloaded: {missing[:5]}")
        want_server = set(expected) if acct.leave_on_server else set()
        if set(on_server) != want_server:
            problems.append(f"server holds {len(on_server)} message(s), expected {len(want_server)}")
        before = table_rows(acct.db)
        r = acct.sync()
        if r.returncode != 0 or " 0 new, 0 removed" not in r.stdout:
            problems.append(f"the further sync was not a no-op ({r.returncode}): {r.stdout.strip()} {r.stderr.strip()}")
        if table_rows(acct.db) != before:
            problems.append("the further sync changed the cache")
    return problems


def check_partial(acct: FaultAccount) -> list[str]:
    """After a kill, before resuming: integrity ok, every cached UID is the server's message with that UID (same
    Message-ID), and no Message-ID is twice in the cache."""
    problems: list[str] = []
    ok = integrity(acct.db)
    if ok != "ok":
        problems.append(f"integrity_check: {ok}")
    if not acct.db.exists():
        return problems
    server, validity = server_snapshot(acct.server, acct.user)
    cache, cache_validity, local = cache_snapshot(acct.db)
    for name, rows in cache.items():
        if name in local or name not in server or cache_validity.get(name) != validity.get(name):
            continue
        for uid, entries in rows.items():
            if uid is None:
                continue
            s = server[name].get(uid)
            if s is not None and s[0][1] != entries[0][1]:
                problems.append(f"{name}: UID {uid} is {s[0][1]} on the server but {entries[0][1]} in the cache")
    doubled = sorted(m for m, n in ids_of(cache).items() if n > 1 and m)
    if doubled:
        problems.append(f"{len(doubled)} Message-ID(s) twice in the cache: {doubled[:5]}")
    return problems


def held_for_user(db: Path) -> set[str]:
    """Message-IDs of outbox items held for the user's decision (an interrupted send that may have gone out), each
    with a note that tells the user; an item held without a note counts as not held."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT message_id FROM outbox WHERE state = 'held'").fetchall()
        notes = conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
        return {norm_id(r[0]) for r in rows} if notes else set()
    finally:
        conn.close()
