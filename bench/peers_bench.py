"""Side-by-side benchmark: tui-mail against peer mail clients (mbsync, offlineimap3, fetchmail, getmail6, NeoMutt,
aerc) and plain imapclient/poplib floors, on one private Dovecot, at loopback speed and at a 50 ms round trip.

Run: .venv/bin/python bench/peers_bench.py [--messages 2000] [--repeat 3] [--rtt 0,50] [--only TOOLS] [--results FILE]

Every figure is a whole process, timed from spawn to exit (syncs) or from spawn until the expected text is on the
screen of a real terminal (UI: a detached tmux session of 120x35 whose pane is polled every ~10 ms). Peak RSS is the
process's own (wait4 for syncs, VmHWM of the pane's process for UIs). Tools take turns in each round (interleaved);
the best of the rounds counts. A peer that cannot run is a row saying why, never silently left out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from peers_procs import TERM_SIZE, Cell, DelayProxy, Run, _spawn_timed, _tmux, ui_run  # noqa: E402

MB = 1024 * 1024
PASSWORD = "bench-password"
MARKER_SUBJECT = "Peers bench newest marker"
MARKER_BODY = "Marker body line for the open-message timing"
MARKER_WHEN = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC).timestamp()  # newer than every generated message
APT_PACKAGES = ["isync", "offlineimap3", "fetchmail", "getmail6", "neomutt", "aerc", "tmux"]
PEER_BINARIES = {
    "mbsync": "mbsync",
    "offlineimap3": "offlineimap",
    "fetchmail": "fetchmail",
    "getmail6": "getmail",
    "neomutt": "neomutt",
    "neomutt-hcache": "neomutt",
    "aerc": "aerc",
}
FLOORS = {"imapclient", "poplib", "textual"}  # plain Python, no peer to install (textual: a bare App, one Label)
ALL_TOOLS = ["tui-mail", "imapclient", "poplib", "textual", *PEER_BINARIES]
BASE = "tui-mail@base"  # --compare: the same syncs by another checkout (before/after figures in one run)
# `python -c` code running another checkout's tui_mail with this venv (whose editable install would win otherwise).
RUN_OTHER_CHECKOUT = (
    "import sys, runpy; base = sys.argv[1]; sys.argv = ['tui-mail'] + sys.argv[2:]; "
    "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in repr(f)]; sys.path.insert(0, base); "
    "runpy.run_module('tui_mail', run_name='__main__', alter_sys=True)"
)

# ---------------------------------------------------------------------------------------------------------------
# the environment: peers installed, an unprivileged user


def ensure_peers(log: Callable[[str], None]) -> dict[str, str]:
    """Install missing peers with apt when root; returns {tool: reason} for those that cannot run."""
    missing = sorted({pkg for tool, b in PEER_BINARIES.items() for pkg in [b] if shutil.which(b) is None})
    if shutil.which("tmux") is None:
        missing.append("tmux")
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing peers with apt: {' '.join(APT_PACKAGES)} (missing: {', '.join(missing)})")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", *APT_PACKAGES], capture_output=True, env=env)
    reasons: dict[str, str] = {}
    for tool, binary in PEER_BINARIES.items():
        if shutil.which(binary) is None:
            reasons[tool] = f"{binary} not installed (apt-get install {'isync' if tool == 'mbsync' else tool})"
    if shutil.which("tmux") is None:
        for tool in ("neomutt", "neomutt-hcache", "aerc", "tui-mail-ui"):
            reasons[tool] = "tmux not installed (apt-get install tmux)"
    return reasons


def versions() -> dict[str, str]:
    """One version line per tool."""
    probes = {
        "mbsync": ["mbsync", "--version"],
        "offlineimap3": ["offlineimap", "--version"],
        "fetchmail": ["fetchmail", "--version"],
        "getmail6": ["getmail", "--version"],
        "neomutt": ["neomutt", "-v"],
        "aerc": ["aerc", "-v"],
        "tmux": ["tmux", "-V"],
        "dovecot": ["dovecot", "--version"],
    }
    out = {"python": platform.python_version()}
    for name, cmd in probes.items():
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            lines = (p.stdout or p.stderr).strip().splitlines()
            out[name] = lines[0][:80] if lines else "?"
        except (OSError, subprocess.TimeoutExpired):
            out[name] = "not installed"
    try:
        import imapclient

        out["imapclient"] = imapclient.__version__
    except ImportError:
        pass
    return out


def _commit() -> str:
    p = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return p.stdout.strip() or "?"


def unprivileged_user() -> str | None:
    """The user to run root-refusing peers as (nobody), or None when we are not root."""
    return "nobody" if os.geteuid() == 0 else None


# ---------------------------------------------------------------------------------------------------------------
# tools: configuration and commands


class Setup:
    """Ports, paths and per-tool commands for one server (direct or behind the delaying proxy)."""

    def __init__(self, root: Path, imap_port: int, pop3_port: int, rtt_label: str) -> None:
        self.root = root
        self.imap_port = imap_port
        self.pop3_port = pop3_port
        self.rtt = rtt_label
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        self.nobody = unprivileged_user()
        self.index_lags: list[float] = []  # seconds the search index took to catch up after each tui-mail sync
        self.base: Path | None = None  # --compare: another checkout of tui-mail, run as tool "tui-mail@base"

    def fresh(self, name: str, owner: str | None = None) -> Path:
        d = self.root / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        if owner:
            pw = pwd.getpwnam(owner)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        return d

    # -- tui-mail --
    def tui_config(self, protocol: str = "imap", download: str = "full") -> Path:
        cfg = self.root / f"tui-{protocol}-{download}.toml"
        pw = self.root / "password.sh"
        pw.write_text(f"#!/bin/sh\necho {PASSWORD}\n")
        pw.chmod(0o755)
        user = "bench" if protocol == "imap" else "benchpop"
        port = self.imap_port if protocol == "imap" else self.pop3_port
        cfg.write_text(
            f'[ui]\npreview_pane = false\ncursor_blink = false\nthreads = false\n\n[[accounts]]\nname = "bench"\n'
            f'email = "{user}@example.test"\nprotocol = "{protocol}"\ndownload = "{download}"\nidle = false\n'
            f'[accounts.incoming]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nusername = "{user}"\n'
            f'password_command = "{pw}"\ntimeout = 120\n'
            + ("[accounts.pop3]\nleave_on_server = true\n" if protocol == "pop3" else "")
        )
        return cfg

    def tui_env(self, data: Path) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "TUI_MAIL_DATA_DIR": str(data),
            "TUI_MAIL_STATE_DIR": str(data / "state"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
        }

    def tui_sync(self, data: Path, protocol: str = "imap", download: str = "full", base: bool = False) -> Run:
        """`tui-mail sync` of this checkout, or (base=True) of the --compare checkout, with this venv."""
        cmd = [str(REPO / ".venv/bin/tui-mail"), "--config", str(self.tui_config(protocol, download)), "sync", "bench"]
        if base:
            cmd = [sys.executable, "-c", RUN_OTHER_CHECKOUT, str(self.base), *cmd[1:]]
        elif not Path(cmd[0]).exists():  # a checkout without its own venv (a frozen copy): run its tui_mail
            cmd = [sys.executable, "-c", RUN_OTHER_CHECKOUT, str(REPO), *cmd[1:]]
        run = _spawn_timed(cmd, env=self.tui_env(data))
        # A big download is indexed for search by a detached process after the sync exits: wait for it (untimed)
        # so it does not slow the next tool down, and say how long the index lagged.
        lag = wait_for_index(data)
        if lag:
            self.index_lags.append(lag)
        return run

    def tui_ui(self, data: Path, open_msg: bool = False) -> tuple[Run, Run | None]:
        cmd = [str(REPO / ".venv/bin/tui-mail"), "--config", str(self.tui_config())]
        if not Path(cmd[0]).exists():
            cmd = [sys.executable, "-c", RUN_OTHER_CHECKOUT, str(REPO), *cmd[1:]]
        keys = ("Enter",) if open_msg else ()
        return ui_run(cmd, self.tui_env(data), MARKER_SUBJECT, open_keys=keys, open_expect=MARKER_BODY)

    # -- floors (plain Python loops, a child process each) --
    def textual_floor(self) -> tuple[Run, Run | None]:
        """The Python + Textual start-up floor of any Textual UI: a bare App whose one Label shows the subject."""
        cmd = [sys.executable, str(BENCH / "peers_floor.py"), "textual", MARKER_SUBJECT]
        return ui_run(cmd, self.tui_env(self.root / "textual-floor"), MARKER_SUBJECT)

    def floor(self, kind: str) -> Run:
        script = BENCH / "peers_floor.py"
        port = self.pop3_port if kind == "poplib" else self.imap_port
        user = "benchpop" if kind == "poplib" else "bench"
        return _spawn_timed([sys.executable, str(script), kind, str(port), user, PASSWORD])

    # -- mbsync --
    def mbsync(self, state: Path) -> Run:
        rc = state / "mbsyncrc"
        (state / "Maildir").mkdir(exist_ok=True)
        rc.write_text(
            f"IMAPAccount bench\nHost 127.0.0.1\nPort {self.imap_port}\nUser bench\nPass {PASSWORD}\nSSLType None\n"
            "AuthMechs LOGIN\n\nIMAPStore remote\nAccount bench\n\n"
            f"MaildirStore local\nPath {state}/Maildir/\nInbox {state}/Maildir/INBOX\n\n"
            "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\nSyncState *\n"
        )
        return _spawn_timed(["mbsync", "-q", "-c", str(rc), "bench"], env={**os.environ, "HOME": str(state)})

    # -- offlineimap3 --
    def offlineimap(self, state: Path) -> Run:
        rc = state / "offlineimaprc"
        rc.write_text(
            f"[general]\naccounts = bench\nmetadata = {state}/meta\n\n[Account bench]\nlocalrepository = local\n"
            f"remoterepository = remote\n\n[Repository local]\ntype = Maildir\nlocalfolders = {state}/Maildir\n\n"
            f"[Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {self.imap_port}\n"
            f"remoteuser = bench\nremotepass = {PASSWORD}\nssl = no\nstarttls = no\nreadonly = True\n"
            "folderfilter = lambda f: f == 'INBOX'\n"
        )
        return _spawn_timed(["offlineimap", "-c", str(rc), "-u", "quiet", "-o"], env={**os.environ, "HOME": str(state)})

    # -- fetchmail (keep mode, everything into a BSMTP file: no per-message delivery process) --
    def fetchmail(self, state: Path) -> Run:
        owner = self.nobody
        rc = state / "fetchmailrc"
        rc.write_text(
            f"set no syslog\npoll 127.0.0.1 protocol pop3 port {self.pop3_port} no uidl\n"
            f"  user 'benchpop' there with password '{PASSWORD}' is 'bench' here keep fetchall\n"
            "  sslproto '' no sslcertck\n"
        )
        rc.chmod(0o600)
        self._own(state, owner)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(state), "FETCHMAILHOME": str(state)}
        return _spawn_timed(
            ["fetchmail", "-f", str(rc), "--bsmtp", str(state / "out.bsmtp"), "--idfile", str(state / "ids"), "-s"],
            env=env,
            user=owner,
        )

    # -- getmail6 (as an unprivileged user) --
    def getmail(self, state: Path) -> Run:
        owner = self.nobody
        md = state / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (md / sub).mkdir(parents=True, exist_ok=True)
        rc = state / "getmailrc"
        rc.write_text(
            f"[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = {self.pop3_port}\n"
            f"username = benchpop\npassword = {PASSWORD}\ntimeout = 20\n\n[destination]\ntype = Maildir\npath = {md}/\n\n"
            "[options]\nread_all = true\ndelete = false\nverbose = 0\nmessage_log_syslog = false\n"
        )
        self._own(state, owner)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(state)}
        return _spawn_timed(
            ["getmail", "--getmaildir", str(state), "--rcfile", str(rc), "--quiet"], env=env, user=owner
        )

    @staticmethod
    def _own(d: Path, owner: str | None) -> None:
        if owner is None:
            return
        pw = pwd.getpwnam(owner)
        for p in [d, *d.rglob("*")]:
            os.chown(p, pw.pw_uid, pw.pw_gid)

    # -- NeoMutt --
    def neomutt(self, state: Path, hcache: bool, open_msg: bool = False) -> tuple[Run, Run | None]:
        rc = state / "neomuttrc"
        cache_lines = (
            f"set header_cache = '{state}/hcache'\nset message_cachedir = '{state}/bodies'\n" if hcache else ""
        )
        rc.write_text(
            f"set folder = 'imap://bench@127.0.0.1:{self.imap_port}/'\nset spoolfile = '+INBOX'\n"
            f"set imap_pass = '{PASSWORD}'\nset ssl_starttls = no\nset ssl_force_tls = no\n"
            "set sort = reverse-date\nset mail_check_stats = no\nset imap_check_subscribed = no\n"
            "set imap_passive = yes\nset sleep_time = 0\nset timeout = 0\nset pager_stop = yes\nset help = no\n"
            "unset confirmappend\nset record = ''\nset postponed = ''\n" + cache_lines
        )
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(state), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        return ui_run(
            ["neomutt", "-n", "-F", str(rc)],
            env,
            MARKER_SUBJECT,
            # "=" first: NeoMutt puts the cursor on the first unread message, which the marker no longer is once a
            # run has read it
            open_keys=("=", "Enter") if open_msg else (),
            open_expect=MARKER_BODY,
        )

    # -- aerc --
    def aerc(self, state: Path) -> tuple[Run, Run | None]:
        conf = state / "aerc"
        conf.mkdir(exist_ok=True)
        acc = conf / "accounts.conf"
        acc.write_text(
            f"[bench]\nsource = imap+insecure://bench:{PASSWORD}@127.0.0.1:{self.imap_port}\n"
            "outgoing = /bin/true\nfrom = Bench <bench@example.test>\ndefault = INBOX\ncheck-mail = 0\n"
        )
        acc.chmod(0o600)
        (conf / "aerc.conf").write_text("[general]\nunsafe-accounts-conf = true\n[ui]\n")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(state),
            "XDG_CONFIG_HOME": str(state),
            "XDG_CACHE_HOME": str(state / "cache"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
        }
        return ui_run(["aerc"], env, MARKER_SUBJECT)


# ---------------------------------------------------------------------------------------------------------------
# the corpus, the server, "another client"


def marker_message() -> bytes:
    """The newest message: its subject is what the UI timings wait for, its body what opening it shows."""
    date = dt.datetime.fromtimestamp(MARKER_WHEN, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f"From: Marker Sender <marker@example.org>\nTo: bench@example.test\nSubject: {MARKER_SUBJECT}\n"
        f"Date: {date}\nMessage-ID: <marker@peers.bench>\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=us-ascii\n\n{MARKER_BODY}.\n"
    ).encode()


def append_marker(dovecot: Any, users: list[Any]) -> int:
    """APPEND the marker after the corpus is indexed, so it also has the highest UID (clients that list by arrival
    order, like aerc, show it first too); returns its size as sent."""
    raw = marker_message().replace(b"\n", b"\r\n")
    for user in users:
        dovecot.deliver(user, raw, when=dt.datetime.fromtimestamp(MARKER_WHEN, dt.UTC))
    return len(raw)


def change_server(port: int, seed: int) -> str:
    """What another client does between two syncs: 100 new messages, 500 flag changes, 50 expunges."""
    import imapclient

    client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=120)
    client.login("bench", PASSWORD)
    client.select_folder("INBOX")
    uids = sorted(client.search(["NOT", "SUBJECT", MARKER_SUBJECT]))
    flip = uids[len(uids) // 4 : len(uids) // 4 + 500]
    client.add_flags(flip[::2], [b"\\Flagged"])
    client.remove_flags(flip[1::2], [b"\\Seen"])
    gone = uids[: 2 * 50 : 2]
    client.add_flags(gone, [b"\\Deleted"])
    client.uid_expunge(gone) if client.has_capability("UIDPLUS") else client.expunge()
    for i in range(100):
        client.append(
            "INBOX",
            f"From: Other <other@example.org>\r\nTo: bench@example.test\r\nSubject: New mail {seed}-{i}\r\n"
            f"Message-ID: <new{seed}-{i}@peers.bench>\r\nDate: Mon, 01 Jun 2026 11:00:00 +0000\r\n\r\n"
            f"Body {i}.\r\n".encode(),
        )
    client.logout()
    return f"{len(flip)} flag changes, {len(gone)} expunges, 100 new"


# ---------------------------------------------------------------------------------------------------------------
# completeness: what each tool stored


def maildir_count(d: Path) -> int:
    """Messages in every Maildir under d."""
    return sum(1 for p in d.rglob("*") if p.is_file() and p.parent.name in ("cur", "new"))


def bsmtp_count(d: Path) -> int:
    """Messages in fetchmail's BSMTP output."""
    try:
        return sum(1 for line in (d / "out.bsmtp").read_bytes().splitlines() if line.startswith(b"MAIL FROM:"))
    except OSError:
        return 0


def wait_for_index(d: Path, timeout: float = 600.0) -> float:
    """Wait until no message in the tui-mail caches under d waits for the search index; returns the seconds waited
    (0.0 when nothing waited)."""
    import sqlite3

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        waiting = 0
        for db in d.glob("*.sqlite3"):
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            try:
                waiting += con.execute("SELECT count(*) FROM messages WHERE search_state = 0").fetchone()[0]
            except sqlite3.Error:
                pass
            finally:
                con.close()
        if not waiting:
            break
        time.sleep(0.05)
    lag = time.perf_counter() - t0
    return lag if lag > 0.01 else 0.0


def tui_count(d: Path) -> int:
    """Messages in the tui-mail caches under d."""
    import sqlite3

    total = 0
    for db in d.glob("*.sqlite*"):
        if db.suffix in (".sqlite", ".sqlite3"):
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                total += con.execute("SELECT count(*) FROM messages").fetchone()[0]
            finally:
                con.close()
    return total


# ---------------------------------------------------------------------------------------------------------------
# scenarios


SCENARIOS = [
    ("cold_open", "first open of a never-synced account, until the newest Inbox subject shows"),
    ("full_sync", "full IMAP sync (whole process)"),
    ("headers_sync", "headers-only sync until the Inbox is listable"),
    ("pop3", "POP3 download (keep mode)"),
    ("warm_open", "open the UI on a warm cache, until the newest subject shows"),
    ("open_msg", "open the newest message (Enter until its body shows)"),
    ("noop", "no-op resync (whole process)"),
    ("change_resync", "resync after 100 new + 500 flag changes + 50 expunges by another client"),
]
BYTES_SCENARIOS = {"full_sync", "pop3"}


def run_scenarios(
    s: Setup, tools: set[str], reasons: dict[str, str], repeat: int, expected: int, log: Callable[[str], None]
) -> dict[str, dict[str, Cell]]:
    """Run every scenario for every tool, interleaved: round r runs each tool once, best of the rounds counts.
    Syncs into a store are checked: every one of the `expected` messages must be there."""
    table: dict[str, dict[str, Cell]] = {name: {} for name, _ in SCENARIOS}

    def cell(scn: str, tool: str) -> Cell:
        return table[scn].setdefault(tool, Cell(tool, reason=reasons.get(tool, "")))

    def want(tool: str) -> bool:
        return tool in tools

    def step(scn: str, tool: str, fn: Callable[[], Run], got: Callable[[], int] | None = None) -> Run | None:
        c = cell(scn, tool)
        if c.reason:
            return None
        r = fn()
        if got is not None and r.seconds is not None:
            n = got()
            if n != expected:  # a run that did not download everything is not a figure
                r = Run(None, r.rss_mb, f"downloaded {n} of {expected} messages")
        c.runs.append(r)
        shown = f"{r.seconds:.3f} s" if r.seconds is not None else f"FAILED: {r.error}"
        log(f"  [{s.rtt}] {scn:14} {tool:16} {shown}")
        return r

    def ui_step(scn: str, tool: str, fn: Callable[[], tuple[Run, Run | None]], open_scn: str = "") -> None:
        c = cell(scn, tool)
        if c.reason:
            if open_scn:
                cell(open_scn, tool)
            return
        first, opened = fn()
        step(scn, tool, lambda: first)
        if open_scn and opened is not None:
            step(open_scn, tool, lambda: opened)

    st = s.root
    for r in range(repeat):
        log(f"[{s.rtt}] round {r + 1}/{repeat}")
        # 1. cold open: nothing cached anywhere
        if want("tui-mail"):
            ui_step("cold_open", "tui-mail", lambda: s.tui_ui(s.fresh("tui-cold")))
        if want("aerc"):
            ui_step("cold_open", "aerc", lambda: s.aerc(s.fresh("aerc")))
        if want("neomutt"):
            ui_step("cold_open", "neomutt", lambda: s.neomutt(s.fresh("neomutt"), hcache=False))
        if want("textual"):
            ui_step("cold_open", "textual", s.textual_floor)
        # 2. full IMAP sync into empty state
        if want("tui-mail"):
            step("full_sync", "tui-mail", lambda: s.tui_sync(s.fresh("tui-full")), lambda: tui_count(st / "tui-full"))
        if want(BASE):
            step(
                "full_sync",
                BASE,
                lambda: s.tui_sync(s.fresh("base-full"), base=True),
                lambda: tui_count(st / "base-full"),
            )
        if want("imapclient"):
            step("full_sync", "imapclient", lambda: s.floor("imapclient"))
        if want("mbsync"):
            step("full_sync", "mbsync", lambda: s.mbsync(s.fresh("mbsync")), lambda: maildir_count(st / "mbsync"))
        if want("offlineimap3"):
            step(
                "full_sync",
                "offlineimap3",
                lambda: s.offlineimap(s.fresh("offlineimap")),
                lambda: maildir_count(st / "offlineimap"),
            )
        # 3. headers only
        if want("tui-mail"):
            step("headers_sync", "tui-mail", lambda: s.tui_sync(s.fresh("tui-headers"), download="headers"))
        if want(BASE):
            step("headers_sync", BASE, lambda: s.tui_sync(s.fresh("base-headers"), download="headers", base=True))
        if want("imapclient"):
            step("headers_sync", "imapclient", lambda: s.floor("imapclient-headers"))
        # 4. POP3
        if want("tui-mail"):
            step(
                "pop3",
                "tui-mail",
                lambda: s.tui_sync(s.fresh("tui-pop3"), protocol="pop3"),
                lambda: tui_count(st / "tui-pop3"),
            )
        if want(BASE):
            step(
                "pop3",
                BASE,
                lambda: s.tui_sync(s.fresh("base-pop3"), protocol="pop3", base=True),
                lambda: tui_count(st / "base-pop3"),
            )
        if want("poplib"):
            step("pop3", "poplib", lambda: s.floor("poplib"))
        if want("fetchmail"):
            step("pop3", "fetchmail", lambda: s.fetchmail(s.fresh("fetchmail")), lambda: bsmtp_count(st / "fetchmail"))
        if want("getmail6"):
            step("pop3", "getmail6", lambda: s.getmail(s.fresh("getmail")), lambda: maildir_count(st / "getmail"))
        # 5./6. warm open and opening a message (caches left by the steps above)
        if want("tui-mail"):
            ui_step("warm_open", "tui-mail", lambda: s.tui_ui(st / "tui-full", open_msg=True), "open_msg")
        if want("neomutt-hcache"):
            if r == 0:  # the first run fills the header cache; it is not timed as a warm open
                s.fresh("neomutt-hcache")
                s.neomutt(st / "neomutt-hcache", hcache=True)
            ui_step(
                "warm_open",
                "neomutt-hcache",
                lambda: s.neomutt(st / "neomutt-hcache", hcache=True, open_msg=True),
                "open_msg",
            )
        if want("textual"):
            ui_step("warm_open", "textual", s.textual_floor)
        # 7. no-op resync
        if want("tui-mail"):
            step("noop", "tui-mail", lambda: s.tui_sync(st / "tui-full"))
        if want(BASE):
            step("noop", BASE, lambda: s.tui_sync(st / "base-full", base=True))
        if want("mbsync"):
            step("noop", "mbsync", lambda: s.mbsync(st / "mbsync"))
        if want("offlineimap3"):
            step("noop", "offlineimap3", lambda: s.offlineimap(st / "offlineimap"))
    return table


def run_change_resync(
    s: Setup, tools: set[str], reasons: dict[str, str], repeat: int, table: dict[str, dict[str, Cell]], seed: int,
    log: Callable[[str], None],
) -> None:  # fmt: skip
    """Snapshot each tool's synced state, let another client change the server once, then time each tool's resync
    from a fresh copy of its snapshot (so every round syncs the same delta)."""
    states = {"tui-mail": "tui-full", BASE: "base-full", "mbsync": "mbsync", "offlineimap3": "offlineimap"}
    snaps: dict[str, Path] = {}
    for tool, d in states.items():
        if tool in tools and not reasons.get(tool) and (s.root / d).exists():
            snaps[tool] = s.root / f"{d}.snapshot"
            shutil.rmtree(snaps[tool], ignore_errors=True)
            shutil.copytree(s.root / d, snaps[tool], symlinks=True)
    if not snaps:
        return
    log(f"[{s.rtt}] another client: " + change_server(s.imap_port, seed))
    for _ in range(repeat):
        for tool, snap in snaps.items():
            work = s.root / states[tool]
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(snap, work, symlinks=True)
            fn = {
                "tui-mail": lambda work=work: s.tui_sync(work),
                BASE: lambda work=work: s.tui_sync(work, base=True),
                "mbsync": lambda work=work: s.mbsync(work),
                "offlineimap3": lambda work=work: s.offlineimap(work),
            }[tool]
            c = table["change_resync"].setdefault(tool, Cell(tool))
            run = fn()
            c.runs.append(run)
            log(f"  [{s.rtt}] change_resync  {tool:16} " + (f"{run.seconds:.3f} s" if run.seconds else run.error))


# ---------------------------------------------------------------------------------------------------------------
# report


def write_section(path: Path, text: str) -> None:
    """Write this harness's results into `path` between its own markers, keeping what other benches wrote there."""
    from results_file import write_section as write

    write(path, text, "peers_bench")


def format_table(table: dict[str, dict[str, Cell]], nbytes: int, rtt: str, messages: int, tools: set[str]) -> list[str]:
    """One markdown table: best seconds, ratio to tui-mail (peer / tui-mail, > 1 = tui-mail faster), MB/s, RSS."""
    lines = [
        f"### {messages:,} messages, {nbytes / MB:.0f} MB, round trip {rtt}",
        "",
        "| scenario | tool | best s | peer/tui-mail | MB/s | peak RSS | runs (s) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for scn, title in SCENARIOS:
        cells = table.get(scn, {})
        if not cells:
            continue
        ours = cells.get("tui-mail")
        ours_best = ours.best() if ours else None
        for i, (tool, c) in enumerate(cells.items()):
            if tool not in tools:
                continue
            name = title if i == 0 else ""
            b = c.best()
            if b is None or b.seconds is None:
                lines.append(f"| {name} | {tool} | - | - | - | - | cannot run: {c.why()} |")
                continue
            ratio = (
                f"{b.seconds / ours_best.seconds:.2f}x"
                if ours_best and ours_best.seconds and tool != "tui-mail"
                else ""
            )
            mbs = f"{nbytes / MB / b.seconds:.1f}" if scn in BYTES_SCENARIOS else ""
            runs = ", ".join(f"{r.seconds:.3f}" if r.seconds is not None else "fail" for r in c.runs)
            ms = f"{b.seconds * 1000:.0f} ms" if scn == "open_msg" else f"{b.seconds:.3f}"
            rss = f"{b.rss_mb:.0f} MB" if b.rss_mb else ""
            lines.append(f"| {name} | {tool} | {ms} | {ratio} | {mbs} | {rss} | {runs} |")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# driver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", default="2000", help="messages to generate; a comma list runs each size (scaling)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds, tools interleaved; best of R counts (default 3)")
    ap.add_argument("--rtt", default="0,50", help="round-trip times in ms to measure (default 0,50)")
    ap.add_argument("--repeat-rtt", type=int, help="rounds at a non-zero round trip (default: --repeat)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help=f"comma list of tools (default all): {','.join(ALL_TOOLS)}")
    ap.add_argument("--results", default=str(BENCH / "results" / "latest.md"), help="markdown results file")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install missing peers")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument(
        "--compare",
        metavar="CHECKOUT",
        help=f"another tui-mail checkout (e.g. `git archive main | tar -x -C DIR`): its syncs run as tool {BASE}",
    )
    args = ap.parse_args(argv)

    from sync_bench import populate  # bench/sync_bench.py: the deterministic corpus

    from tests.servers import ServerUnavailable, check_environment, make_certificates, new_root, start_dovecot

    tools = set(ALL_TOOLS) if not args.only else {t.strip() for t in args.only.split(",")}
    if args.compare:
        tools.add(BASE)
    unknown = tools - set(ALL_TOOLS) - {BASE}
    if unknown:
        print(f"peers_bench: unknown tool(s) {', '.join(sorted(unknown))}; known: {', '.join(ALL_TOOLS)}")
        return 2
    sizes = [int(x) for x in args.messages.split(",")]
    rtts = [int(x) for x in args.rtt.split(",")]

    def log(msg: str) -> None:
        print(msg, flush=True)

    try:
        check_environment()
    except ServerUnavailable as e:
        print(f"peers_bench: {e}", file=sys.stderr)
        return 2
    reasons: dict[str, str] = {}
    if tools - {"tui-mail", BASE, *FLOORS}:
        reasons = ensure_peers(log) if not args.no_install else {}
    needs_tmux = tools & {"tui-mail", "textual", "aerc", "neomutt", "neomutt-hcache"}
    if needs_tmux and shutil.which("tmux") is None and os.geteuid() == 0 and not args.no_install:
        log("installing tmux with apt (the UI timings read a tmux screen)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "tmux"], capture_output=True, env=env)
    if needs_tmux and shutil.which("tmux") is None:
        print("peers_bench: tmux is needed for the UI timings (apt-get install tmux)", file=sys.stderr)
        return 2
    vers = versions()
    report: list[str] = []
    scaling: list[tuple[int, str, dict[str, dict[str, Cell]]]] = []
    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    failures = 0
    for n in sizes:
        root = new_root("tui-mail-peers-")
        dovecot = None
        proxies: list[DelayProxy] = []
        try:
            certs = make_certificates(root / "certs")
            dovecot = start_dovecot(root / "dovecot", certs, ssl_enabled=False)
            imap_user = dovecot.add_user("bench", PASSWORD)
            pop_user = dovecot.add_user("benchpop", PASSWORD)
            st = os.stat(dovecot.mail_dir)
            maildirs = [dovecot.mail_dir / u.name / "Maildir" for u in (imap_user, pop_user)]
            t0 = time.perf_counter()
            ds = populate(maildirs, n, args.seed, imap_user.email, st.st_uid, st.st_gid)
            for u in (imap_user, pop_user):
                dovecot.doveadm("force-resync", "-u", u.name, "INBOX")
            nbytes = ds.imap_bytes + append_marker(dovecot, [imap_user, pop_user])
            log(
                f"dataset: {n} messages + 1 marker, {nbytes / MB:.1f} MB as sent; ready in "
                f"{time.perf_counter() - t0:.1f} s; Dovecot on 127.0.0.1 imap {dovecot.imap_port} pop3 {dovecot.pop3_port}"
            )
            for rtt in rtts:
                # Each RTT gets its own server state (the change scenario alters the mailbox): a fresh copy.
                if rtt != rtts[0]:
                    for md in maildirs:
                        shutil.rmtree(md)
                    populate(maildirs, n, args.seed, imap_user.email, st.st_uid, st.st_gid)
                    for u in (imap_user, pop_user):
                        dovecot.doveadm("force-resync", "-u", u.name, "INBOX")
                    append_marker(dovecot, [imap_user, pop_user])
                imap_port, pop3_port = dovecot.imap_port, dovecot.pop3_port
                if rtt:
                    pi, pp = DelayProxy(imap_port, rtt / 2000), DelayProxy(pop3_port, rtt / 2000)
                    pi.start()
                    pp.start()
                    proxies += [pi, pp]
                    imap_port, pop3_port = pi.port, pp.port
                label = f"{rtt} ms" if rtt else "loopback"
                setup = Setup(root / f"work-{rtt}", imap_port, pop3_port, label)
                setup.base = Path(args.compare).resolve() if args.compare else None
                rounds = max(1, args.repeat if not rtt or args.repeat_rtt is None else args.repeat_rtt)
                table = run_scenarios(setup, tools, reasons, rounds, n + 1, log)
                run_change_resync(setup, tools, reasons, rounds, table, args.seed, log)
                lines = format_table(table, nbytes, label, n, tools)
                if setup.index_lags:
                    lines += [
                        "",
                        f"- tui-mail's search index caught up {min(setup.index_lags):.1f}-{max(setup.index_lags):.1f} s "
                        "after a sync exited (a detached `tui-mail index` after a big download; waited for, untimed)",
                    ]
                print("\n".join(lines) + "\n", flush=True)
                report += [*lines, ""]
                scaling.append((n, label, table))
                failures += sum(
                    1
                    for cells in table.values()
                    for c in cells.values()
                    if c.tool in tools and not c.reason and c.best() is None
                )
        except Exception as e:
            print(f"peers_bench: {e}", file=sys.stderr)
            if dovecot is not None:
                print(f"--- dovecot log tail ---\n{dovecot.log_tail()}", file=sys.stderr)
            return 2
        finally:
            for p in proxies:
                p.stop()
            if dovecot is not None:
                dovecot.stop()
            _tmux("kill-server")
            if args.keep:
                print(f"kept {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)

    if len(sizes) > 1:
        report += [
            "### Scaling (tui-mail, best s)",
            "",
            "| messages | round trip | full sync | warm open |",
            "|---:|---|---:|---:|",
        ]
        for n, label, table in scaling:

            def best(scn: str, table: dict[str, dict[str, Cell]] = table) -> str:
                c = table[scn].get("tui-mail")
                b = c.best() if c else None
                return f"{b.seconds:.3f}" if b and b.seconds is not None else "-"

            report.append(f"| {n:,} | {label} | {best('full_sync')} | {best('warm_open')} |")
        report.append("")
    header = [
        "## Side-by-side results (bench/peers_bench.py)",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC; command: `.venv/bin/python bench/peers_bench.py "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}`",
        f"- machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}; load average at start {load[0]:.1f}",
        "- versions: " + "; ".join(f"{k} {v}" for k, v in vers.items()),
        f"- tui-mail at commit {_commit()}"
        + (f"; {BASE} = the checkout in {args.compare} (same venv, same scenarios)" if args.compare else ""),
        f"- best of {args.repeat} interleaved rounds; whole processes (spawn to exit, or spawn until the text is on a "
        f"{TERM_SIZE[0]}x{TERM_SIZE[1]} tmux screen); plain IMAP/POP3 on 127.0.0.1; 50 ms = a delaying proxy "
        "(25 ms each way per chunk)",
        "- peer/tui-mail > 1 means tui-mail was faster; MB/s = message bytes as sent (CRLF) / seconds",
        "",
    ]
    if args.results:
        path = Path(args.results)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_section(path, "\n".join(header + report))
        log(f"results written to {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
