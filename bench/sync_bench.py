"""Sync benchmark: N generated messages in a private Dovecot, timed through IMAP and POP3 against a plain imapclient loop.

Run: .venv/bin/python bench/sync_bench.py [--messages N] [--skip-pop] [--repeat R] [--server rich|plain|both]
     [--skip-resume] [--profile DIR] [--json FILE]

The parent process starts a private Dovecot (tests/servers.py), writes the generated messages straight into the
users' Maildirs, and runs every timed phase in a fresh child process of this script (``--phase``), so each phase
gets its own clean peak RSS. Exit status: 0 when every target is met, 1 when one is missed, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_RATIO = 2.0  # full IMAP sync / plain imapclient loop
TARGET_MBSYNC_RATIO = 0.8  # full IMAP sync / mbsync (issue 7; reported, not part of the exit status)
TARGET_POP_RATIO = 1.5  # POP3 download / plain poplib RETR loop
TARGET_NOOP_S = 0.4  # no-op resync
TARGET_NOOP_PLAIN_S = 2.0  # no-op resync on a server without CONDSTORE (whole process)
TARGET_RESUME_SLACK_S = 1.0  # resume after a kill: at most the remaining work's share of a full sync + this
RESUME_KILL_AT = 0.95  # the kill comes once this share of the messages is cached
FETCH_CHUNK = 500  # UIDs per FETCH in the baseline loop
MB = 1024 * 1024

from mailgen import generate as generate  # noqa: E402  (bench/ is the script directory; search/mime benches use it)
from mailgen import populate  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _account(spec: dict[str, Any], protocol: str, download: str = "full") -> Any:
    from tui_mail.config import AccountConfig, Pop3Options, ServerConfig

    srv = ServerConfig(**spec[protocol])
    return AccountConfig(
        name=srv.username,
        email=f"{srv.username}@example.test",
        protocol=protocol,  # type: ignore[arg-type]
        incoming=srv,
        pop3=Pop3Options(leave_on_server=True),
        download=download,  # type: ignore[arg-type]
        idle=False,
    )


def phase_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """The peer: a plain imapclient loop that fetches every message (BODY.PEEK[] + FLAGS) and throws it away."""
    import ssl

    import imapclient

    srv = spec["imap"]
    t0 = time.perf_counter()
    ctx = ssl.create_default_context(cafile=srv["ca_file"]) if srv["security"] != "none" else None
    client = imapclient.IMAPClient(
        srv["host"], port=srv["port"], ssl=srv["security"] == "tls", ssl_context=ctx, timeout=srv["timeout"]
    )
    if srv["security"] == "starttls":
        client.starttls(ctx)
    client.login(srv["username"], spec["password"])
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search())
    count = nbytes = 0
    for i in range(0, len(uids), FETCH_CHUNK):
        data = client.fetch(uids[i : i + FETCH_CHUNK], ["BODY.PEEK[]", "FLAGS"])
        for d in data.values():
            count += 1
            nbytes += len(d[b"BODY[]"])
        del data
    client.logout()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "messages": count, "bytes": nbytes}


def phase_mbsync(spec: dict[str, Any]) -> dict[str, Any]:
    """The peer: mbsync (isync, Debian package) pulling INBOX into a fresh Maildir; the whole process is timed."""
    srv = spec["imap"]
    out_dir = Path(spec["workdir"]) / f"mbsync-{time.monotonic_ns()}"
    (out_dir / "mail").mkdir(parents=True)
    tls = {"tls": "IMAPS", "starttls": "STARTTLS", "none": "None"}[srv["security"]]
    cfg = out_dir / "mbsyncrc"
    cfg.write_text(
        # mbsync checks the certificate's DNS names only (it says localhost and IP 127.0.0.1)
        f"IMAPAccount bench\nHost {'localhost' if srv['host'] == '127.0.0.1' else srv['host']}\nPort {srv['port']}\nUser {srv['username']}\n"
        f"Pass {spec['password']}\nSSLType {tls}\n"
        + (f"CertificateFile {srv['ca_file']}\n" if srv.get("ca_file") else "")
        + f"\nIMAPStore remote\nAccount bench\n\nMaildirStore local\nPath {out_dir / 'mail'}/\n"
        f"Inbox {out_dir / 'mail' / 'INBOX'}\n\nChannel bench\nFar :remote:\nNear :local:\nPatterns INBOX\n"
        "Create Near\nSync Pull\nSyncState *\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(["mbsync", "-c", str(cfg), "-q", "bench"], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"mbsync failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    files = [p for d in ("cur", "new") for p in (out_dir / "mail" / "INBOX" / d).iterdir()]
    nbytes = sum(p.stat().st_size for p in files)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"seconds": seconds, "messages": len(files), "bytes": nbytes, "child_rss_mb": rss}


def phase_pop_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """The POP3 floor: a plain poplib loop (LIST, then RETR each message, line by line) that throws the mail away."""
    import poplib
    import ssl

    srv = spec["pop3"]
    t0 = time.perf_counter()
    if srv["security"] == "tls":
        ctx = ssl.create_default_context(cafile=srv["ca_file"])
        conn: poplib.POP3 = poplib.POP3_SSL(srv["host"], srv["port"], context=ctx, timeout=srv["timeout"])
    else:
        conn = poplib.POP3(srv["host"], srv["port"], timeout=srv["timeout"])
        if srv["security"] == "starttls":
            conn.stls(context=ssl.create_default_context(cafile=srv["ca_file"]))
    poplib._MAXLINE = 1 << 20  # real mail has longer lines than poplib's default allows
    conn.user(srv["username"])
    conn.pass_(spec["password"])
    count, _size = conn.stat()
    nbytes = 0
    for n in range(1, count + 1):
        _resp, lines, _octets = conn.retr(n)
        nbytes += sum(len(x) + 2 for x in lines)
    conn.quit()
    return {"seconds": time.perf_counter() - t0, "messages": count, "bytes": nbytes}


def _instrument(backend_module: Any) -> dict[str, float]:
    """Accumulate the seconds spent in Cache.store_messages and in parse_envelope (both the MIME module's and the
    name the backend module imported), so a phase can say how its time splits; the rest is network + protocol."""
    from tui_mail import mime
    from tui_mail.store.cache import Cache

    spent = {"store": 0.0, "parse": 0.0}

    def timed(key: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        return wrapper

    Cache.store_messages = timed("store", Cache.store_messages)  # type: ignore[method-assign]
    parse = timed("parse", mime.parse_envelope)
    mime.parse_envelope = parse  # type: ignore[assignment]
    if hasattr(backend_module, "parse_envelope"):
        backend_module.parse_envelope = parse
    return spent


def _imap_sync(spec: dict[str, Any], download: str, profile: str | None) -> dict[str, Any]:
    from tui_mail.backends import imap
    from tui_mail.backends.imap import ImapBackend
    from tui_mail.models import Role
    from tui_mail.store.cache import Cache

    spent = _instrument(imap)
    cache = Cache(spec["cache"])
    backend = ImapBackend(_account(spec, "imap", download), spec["password"], cache)
    prof = cProfile.Profile() if profile else None
    first_page: list[float] = []

    def progress(p: Any) -> None:
        # the newest Inbox page is stored (what a UI reloads and shows): the first chunk of Inbox envelopes
        if not first_page and p.folder == "INBOX" and p.stage == "headers" and p.done and p.total > 1:
            first_page.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    if prof:
        prof.enable()
    result = backend.sync(progress)
    backend.close()
    if prof:
        prof.disable()
    seconds = time.perf_counter() - t0
    if prof and profile:
        prof.dump_stats(profile)
    inbox = cache.folder_by_role(Role.INBOX)
    stored = cache.count(inbox.id) if inbox else 0
    missing_bodies = len(cache.ids_without_body(inbox.id, limit=10**9)) if inbox else 0
    out: dict[str, Any] = {
        "seconds": seconds,
        "messages": result.new_messages,
        "stored": stored,
        "missing_bodies": missing_bodies,
        "first_page_s": first_page[0] if first_page else None,
        "warnings": list(result.warnings),
        "spent": dict(spent),
    }
    if spec.get("noop_again"):
        # a second no-op sync on a new backend in the same process (Python and the cache already warm)
        again = ImapBackend(_account(spec, "imap", download), spec["password"], cache)
        t1 = time.perf_counter()
        r2 = again.sync()
        again.close()
        out["again_seconds"] = time.perf_counter() - t1
        out["again_messages"] = r2.new_messages
    cache.close()
    return out


def phase_partial(spec: dict[str, Any]) -> None:
    """A full sync killed (os._exit, no cleanup: as SIGKILL) just before the body chunk that would take the cache
    past spec["kill_after"] downloaded bodies is stored (that chunk was downloaded, and is lost). Envelopes all come
    before bodies, so this is that share of the whole download done."""
    from tui_mail.backends.imap import ImapBackend
    from tui_mail.store.cache import Cache

    cache = Cache(spec["cache"])
    stored = {"n": 0}
    real = cache.store_bodies

    def store_then_die(bodies: Any) -> None:
        if stored["n"] + len(bodies) > spec["kill_after"]:
            print("RESULT " + json.dumps({"stored": stored["n"]}), flush=True)
            os._exit(137)
        stored["n"] += len(bodies)
        real(bodies)

    cache.store_bodies = store_then_die  # type: ignore[method-assign]
    ImapBackend(_account(spec, "imap", "full"), spec["password"], cache).sync()
    print("RESULT " + json.dumps({"stored": stored["n"]}), flush=True)
    os._exit(0)


def phase_pop3(spec: dict[str, Any], profile: str | None) -> dict[str, Any]:
    from tui_mail.backends import pop3
    from tui_mail.backends.pop3 import Pop3Backend
    from tui_mail.models import Role
    from tui_mail.store.cache import Cache

    spent = _instrument(pop3)
    cache = Cache(spec["cache"])
    backend = Pop3Backend(_account(spec, "pop3"), spec["password"], cache)
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    result = backend.sync()
    backend.close()
    if prof:
        prof.disable()
    seconds = time.perf_counter() - t0
    if prof and profile:
        prof.dump_stats(profile)
    inbox = cache.folder_by_role(Role.INBOX)
    stored = cache.count(inbox.id) if inbox else 0
    cache.close()
    return {
        "seconds": seconds,
        "messages": result.new_messages,
        "stored": stored,
        "warnings": list(result.warnings),
        "spent": dict(spent),
    }


def run_phase(name: str, spec_file: str, profile: str | None) -> None:
    """Child-process entry point: run one phase and print its result as one JSON line."""
    spec = json.loads(Path(spec_file).read_text())
    if name == "baseline":
        out = phase_baseline(spec)
    elif name == "mbsync":
        out = phase_mbsync(spec)
    elif name == "pop-baseline":
        out = phase_pop_baseline(spec)
    elif name in ("full", "headers"):
        out = _imap_sync(spec, name, profile)
    elif name in ("noop", "resume"):
        out = _imap_sync(spec, "full", profile)
    elif name == "partial":
        phase_partial(spec)
        return
    elif name == "pop3":
        out = phase_pop3(spec, profile)
    else:
        raise SystemExit(f"unknown phase {name!r}")
    out["peak_rss_mb"] = _peak_rss_mb()
    print("RESULT " + json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# driver


@dataclass
class Row:
    label: str
    seconds: float
    messages: int
    nbytes: int
    rss_mb: float
    note: str = ""


def _child(phase: str, spec: dict[str, Any], workdir: Path, profile: Path | None = None) -> dict[str, Any]:
    spec_file = workdir / f"spec-{phase}-{time.monotonic_ns()}.json"
    spec_file.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--spec", str(spec_file)]
    if profile is not None:
        cmd += ["--profile-out", str(profile)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    spec_file.unlink()
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])  # type: ignore[no-any-return]
    raise RuntimeError(f"phase {phase} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")


def _write_markdown(path: Path, args: Any, ds: Any, rows: list[Row], problems: list[str], verdicts: list[str]) -> None:
    """The run's table as Markdown, with the command line and machine load, for bench/results/."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = [
        "# sync_bench results",
        "",
        f"`{' '.join([Path(sys.executable).name, 'bench/sync_bench.py', *sys.argv[1:]])}` - "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load}, {os.cpu_count()} CPUs",
        "",
        f"Dataset: {ds.messages} messages, {ds.imap_bytes / MB:.1f} MB as sent; seed {args.seed}; security "
        f"{args.security}; server {args.server}.",
        "",
        "| phase | msgs | seconds | msg/s | peak RSS MB | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        rate = f"{row.messages / row.seconds:.0f}" if row.messages else "-"
        out.append(f"| {row.label} | {row.messages} | {row.seconds:.3f} | {rate} | {row.rss_mb:.0f} | {row.note} |")
    out += ["", *[f"- {v}" for v in verdicts], *[f"- CHECK FAILED: {p}" for p in problems], ""]
    from results_file import write_section  # bench/: the side-by-side section of the same file is kept

    write_section(path, "\n".join(out), "sync_bench", legacy_heading="# sync_bench results")


def _split(result: dict[str, Any]) -> str:
    """Where a phase's time went: cache writes, envelope parsing, and the rest (network, protocol, bookkeeping)."""
    spent = result.get("spent") or {}
    store, parse = spent.get("store", 0.0), spent.get("parse", 0.0)
    return f"store {store:.1f} s, parse {parse:.1f} s, rest {result['seconds'] - store - parse:.1f} s"


def _print_profile(path: Path, title: str) -> None:
    print(f"\n--- cProfile of {title}: top 25 by cumulative time ({path}) ---")
    st = pstats.Stats(str(path))
    st.sort_stats("cumulative").print_stats(25)
    print("--- top 20 by own time ---")
    st.sort_stats("tottime").print_stats(20)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", "-n", type=int, default=10_000, help="messages to generate (default 10000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--skip-pop", action="store_true", help="skip the POP3 download phase")
    ap.add_argument(
        "--repeat", type=int, default=1, help="run baseline and full sync R times, interleaved; best counts"
    )
    ap.add_argument(
        "--security", choices=("tls", "starttls", "none"), default="tls", help="transport for IMAP and POP3"
    )
    ap.add_argument(
        "--server",
        choices=("rich", "plain", "both"),
        default="both",
        help="Dovecot shape: rich (CONDSTORE/QRESYNC) or plain (neither, like Exchange/Courier); both runs the "
        "no-op and resume phases on the plain one too (default both)",
    )
    ap.add_argument("--skip-resume", action="store_true", help="skip the kill-and-resume phase")
    ap.add_argument("--skip-peers", action="store_true", help="skip the peer clients (mbsync), even when installed")
    ap.add_argument("--profile", metavar="DIR", help="also profile the tui-mail phases (cProfile files in DIR)")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON too")
    ap.add_argument(
        "--results",
        metavar="FILE",
        default=str(REPO / "bench" / "results" / "latest.md"),
        help="the table as Markdown (default bench/results/latest.md; '' for none)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the Dovecot directory and caches (and Dovecot stopped)")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        run_phase(args.phase, args.spec, args.profile_out)
        return 0

    from tests.servers import ServerUnavailable, check_environment, make_certificates, new_root, start_dovecot

    try:
        check_environment()
    except ServerUnavailable as e:
        print(f"sync_bench: {e}", file=sys.stderr)
        return 2
    root = new_root("tui-mail-bench-")
    dovecot = None
    plain = None  # a second, "plain" Dovecot (no CONDSTORE/QRESYNC) for --server both
    try:
        print(
            f"sync_bench: {args.messages} messages, seed {args.seed}, security {args.security}, "
            f"server {args.server}, work dir {root}"
        )
        certs = make_certificates(root / "certs")
        dovecot = start_dovecot(root / "dovecot", certs, profile="plain" if args.server == "plain" else "rich")
        imap_user = dovecot.add_user("bench", "bench-password")
        pop_user = dovecot.add_user("benchpop", "bench-password")
        st = os.stat(dovecot.mail_dir)  # tests/servers.py chowns this to the uid Dovecot's mail processes use
        t0 = time.perf_counter()
        maildirs = [dovecot.mail_dir / imap_user.name / "Maildir"]
        if not args.skip_pop:
            maildirs.append(dovecot.mail_dir / pop_user.name / "Maildir")
        to_index = [(dovecot, imap_user)] if args.skip_pop else [(dovecot, imap_user), (dovecot, pop_user)]
        if args.server == "both":
            plain = start_dovecot(root / "dovecot-plain", certs, profile="plain")
            plain_user = plain.add_user("bench", "bench-password")
            maildirs.append(plain.mail_dir / plain_user.name / "Maildir")
            to_index.append((plain, plain_user))
        ds = populate(maildirs, args.messages, args.seed, imap_user.email, st.st_uid, st.st_gid)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for srv, u in to_index:
            # index the Maildir now, so no timed phase pays for Dovecot's first scan
            srv.doveadm("force-resync", "-u", u.name, "INBOX")
            status = srv.doveadm("-f", "flow", "mailbox", "status", "-u", u.name, "messages", "INBOX")
            if f"messages={ds.messages}" not in status:
                raise RuntimeError(f"Dovecot sees {status.strip()!r} for {u.name}, expected {ds.messages} messages")
        index_s = time.perf_counter() - t0
        print(
            f"dataset: {ds.messages} messages, {ds.imap_bytes / MB:.1f} MB as sent (CRLF), largest "
            f"{ds.largest / 1024:.0f} KB; {ds.html} HTML, {ds.attachments} with attachments, {ds.replies} replies, "
            f"{ds.unicode_subjects} RFC 2047 subjects; generated in {gen_s:.1f} s, indexed by Dovecot in {index_s:.1f} s"
        )

        def server(user_name: str, protocol: str, on: Any = None) -> dict[str, Any]:
            d = on or dovecot
            u = d.users[user_name]
            acct = (d.imap_account if protocol == "imap" else d.pop3_account)(u, security=args.security)
            return dataclasses.asdict(dataclasses.replace(acct.incoming, timeout=120.0))

        workdir = root / "bench"
        workdir.mkdir()
        base_spec: dict[str, Any] = {
            "imap": server(imap_user.name, "imap"),
            "pop3": server(pop_user.name, "pop3"),
            "password": "bench-password",
        }
        prof_dir = Path(args.profile) if args.profile else None
        if prof_dir:
            prof_dir.mkdir(parents=True, exist_ok=True)

        rows: list[Row] = []
        baseline_runs: list[dict[str, Any]] = []
        full_runs: list[dict[str, Any]] = []
        full_cache = workdir / "full.sqlite"
        problems: list[str] = []
        for r in range(max(1, args.repeat)):
            print(f"[run {r + 1}] baseline imapclient loop ...", flush=True)
            b = _child("baseline", base_spec, workdir)
            baseline_runs.append(b)
            print(f"[run {r + 1}]   {b['seconds']:.2f} s", flush=True)
            cache = full_cache if r == 0 else workdir / f"full-{r}.sqlite"
            print(f"[run {r + 1}] tui-mail full sync ...", flush=True)
            prof = prof_dir / "full.prof" if prof_dir and r == 0 else None
            f = _child("full", {**base_spec, "cache": str(cache)}, workdir, prof)
            f["cache_mb"] = sum(p.stat().st_size for p in workdir.glob(f"{cache.name}*")) / MB
            full_runs.append(f)
            print(f"[run {r + 1}]   {f['seconds']:.2f} s", flush=True)
            if r > 0:
                for stale in workdir.glob(f"{cache.name}*"):
                    stale.unlink()
        b = min(baseline_runs, key=lambda x: x["seconds"])
        f = min(full_runs, key=lambda x: x["seconds"])
        if b["messages"] != ds.messages:
            problems.append(f"baseline fetched {b['messages']} of {ds.messages} messages")
        if f["stored"] != ds.messages or f["missing_bodies"]:
            problems.append(f"full sync stored {f['stored']} messages, {f['missing_bodies']} without body")
        rows.append(Row("baseline: imapclient fetch loop", b["seconds"], b["messages"], b["bytes"], b["peak_rss_mb"]))
        mb: dict[str, Any] | None = None
        if shutil.which("mbsync") and not args.skip_peers:
            mb_runs = []
            for r in range(max(1, args.repeat)):
                print(f"[run {r + 1}] peer: mbsync ...", flush=True)
                mb_runs.append(_child("mbsync", {**base_spec, "workdir": str(workdir)}, workdir))
                print(f"[run {r + 1}]   {mb_runs[-1]['seconds']:.2f} s", flush=True)
            mb = min(mb_runs, key=lambda x: x["seconds"])
            if mb["messages"] != ds.messages:
                problems.append(f"mbsync fetched {mb['messages']} of {ds.messages} messages")
            rows.append(Row("peer: mbsync (isync)", mb["seconds"], mb["messages"], mb["bytes"], mb["child_rss_mb"],
                            "whole process, default config (FSync on)"))  # fmt: skip
        rows.append(
            Row(
                "tui-mail IMAP full sync",
                f["seconds"],
                f["messages"],
                ds.imap_bytes,
                f["peak_rss_mb"],
                f"cache {f['cache_mb']:.0f} MB; {_split(f)}; newest Inbox page stored after {f['first_page_s']:.2f} s",
            )
        )

        print("tui-mail headers-only sync ...", flush=True)
        h_cache = workdir / "headers.sqlite"
        h = _child(
            "headers", {**base_spec, "cache": str(h_cache)}, workdir, prof_dir / "headers.prof" if prof_dir else None
        )
        h_mb = sum(p.stat().st_size for p in workdir.glob("headers.sqlite*")) / MB
        if h["stored"] != ds.messages:
            problems.append(f"headers-only sync stored {h['stored']} of {ds.messages} messages")
        rows.append(
            Row(
                "tui-mail IMAP headers-only sync",
                h["seconds"],
                h["messages"],
                0,
                h["peak_rss_mb"],
                f"cache {h_mb:.0f} MB; {_split(h)}",
            )
        )

        print("no-op resync ...", flush=True)
        prof = prof_dir / "noop.prof" if prof_dir else None
        nspec = {**base_spec, "cache": str(full_cache), "noop_again": True}
        nop = _child("noop", nspec, workdir, prof)
        if nop["messages"] or nop["again_messages"]:
            problems.append(f"no-op resync downloaded {nop['messages'] + nop['again_messages']} messages")
        rows.append(
            Row("no-op resync (fresh process)", nop["seconds"], 0, 0, nop["peak_rss_mb"], "connect+login incl.")
        )
        rows.append(Row("no-op resync (2nd, same process)", nop["again_seconds"], 0, 0, nop["peak_rss_mb"]))

        resume_ok = True

        def resume(label: str, spec: dict[str, Any], full_seconds: float) -> None:
            """Kill a full sync once RESUME_KILL_AT of the messages are cached, then time the resumed sync."""
            nonlocal resume_ok
            print(f"resume after a kill ({label}) ...", flush=True)
            cache = workdir / f"resume-{label}.sqlite"
            kill_after = int(ds.messages * RESUME_KILL_AT)
            k = _child("partial", {**spec, "cache": str(cache), "kill_after": kill_after}, workdir)
            r = _child("resume", {**spec, "cache": str(cache)}, workdir)
            left = ds.messages - k["stored"]
            budget = full_seconds * left / ds.messages + TARGET_RESUME_SLACK_S
            if r["stored"] != ds.messages or r["messages"] or r["missing_bodies"]:
                problems.append(
                    f"resume ({label}) fetched {r['messages']} new envelopes (expected 0), stored {r['stored']}, "
                    f"{r['missing_bodies']} without body"
                )
            ok = r["seconds"] <= budget
            resume_ok = resume_ok and ok
            rows.append(
                Row(f"resume after kill ({label})", r["seconds"], r["messages"], 0, r["peak_rss_mb"],
                    f"{k['stored']} bodies cached at the kill; target <= {budget:.2f} s: {'PASS' if ok else 'FAIL'}")
            )  # fmt: skip

        main_label = "plain" if args.server == "plain" else "rich"
        if not args.skip_resume:
            resume(main_label, base_spec, f["seconds"])
        noop_plain_ok = True
        if plain is not None:
            pspec: dict[str, Any] = {**base_spec, "imap": server("bench", "imap", plain)}
            print("plain server (no CONDSTORE): full sync ...", flush=True)
            p_cache = workdir / "plain.sqlite"
            pf = _child("full", {**pspec, "cache": str(p_cache)}, workdir)
            if pf["stored"] != ds.messages:
                problems.append(f"full sync on the plain server stored {pf['stored']} of {ds.messages} messages")
            rows.append(Row("tui-mail IMAP full sync (plain)", pf["seconds"], pf["messages"], ds.imap_bytes,
                            pf["peak_rss_mb"], _split(pf)))  # fmt: skip
            print("plain server: no-op resync ...", flush=True)
            pn = _child("noop", {**pspec, "cache": str(p_cache), "noop_again": True}, workdir)
            if pn["messages"] or pn["again_messages"]:
                problems.append(f"no-op resync (plain) downloaded {pn['messages'] + pn['again_messages']} messages")
            noop_plain_ok = pn["seconds"] <= TARGET_NOOP_PLAIN_S
            rows.append(Row("no-op resync (plain, fresh process)", pn["seconds"], 0, 0, pn["peak_rss_mb"],
                            f"target <= {TARGET_NOOP_PLAIN_S} s: {'PASS' if noop_plain_ok else 'FAIL'}"))  # fmt: skip
            rows.append(Row("no-op resync (plain, 2nd, same process)", pn["again_seconds"], 0, 0, pn["peak_rss_mb"]))
            if not args.skip_resume:
                resume("plain", pspec, pf["seconds"])
        elif args.server == "plain":
            noop_plain_ok = nop["seconds"] <= TARGET_NOOP_PLAIN_S

        p: dict[str, Any] | None = None
        pop_ok = True
        if not args.skip_pop:
            pop_runs: list[dict[str, Any]] = []
            pb_runs: list[dict[str, Any]] = []
            for r in range(max(1, args.repeat)):
                print(f"[run {r + 1}] baseline poplib RETR loop ...", flush=True)
                pb_runs.append(_child("pop-baseline", base_spec, workdir))
                print(f"[run {r + 1}]   {pb_runs[-1]['seconds']:.2f} s", flush=True)
                print(f"[run {r + 1}] POP3 download (keep mode) ...", flush=True)
                prof = prof_dir / "pop3.prof" if prof_dir and r == 0 else None
                for stale in workdir.glob("pop3.sqlite*"):
                    stale.unlink()
                pop_runs.append(_child("pop3", {**base_spec, "cache": str(workdir / "pop3.sqlite")}, workdir, prof))
                print(f"[run {r + 1}]   {pop_runs[-1]['seconds']:.2f} s", flush=True)
            p = min(pop_runs, key=lambda x: x["seconds"])
            pb = min(pb_runs, key=lambda x: x["seconds"])
            if p["stored"] != ds.messages:
                problems.append(f"POP3 download stored {p['stored']} of {ds.messages} messages")
            p_mb = sum(x.stat().st_size for x in workdir.glob("pop3.sqlite*")) / MB
            pop_ratio = p["seconds"] / pb["seconds"]
            pop_ok = pop_ratio <= TARGET_POP_RATIO
            rows.append(
                Row("baseline: poplib RETR loop", pb["seconds"], pb["messages"], pb["bytes"], pb["peak_rss_mb"])
            )
            rows.append(
                Row("tui-mail POP3 download (keep)", p["seconds"], p["messages"], ds.imap_bytes, p["peak_rss_mb"],
                    f"cache {p_mb:.0f} MB; {_split(p)}; {pop_ratio:.2f}x poplib (target <= {TARGET_POP_RATIO}x): "
                    f"{'PASS' if pop_ok else 'FAIL'}")
            )  # fmt: skip

        # -- report ---------------------------------------------------------------------------------------------
        print()
        print(f"{'phase':34} {'msgs':>7} {'seconds':>8} {'msg/s':>9} {'MB/s':>7} {'peak RSS':>9}  note")
        for row in rows:
            rate = f"{row.messages / row.seconds:9.0f}" if row.messages else f"{'-':>9}"
            mbs = f"{row.nbytes / MB / row.seconds:7.1f}" if row.nbytes else f"{'-':>7}"
            print(f"{row.label:34} {row.messages:7d} {row.seconds:8.3f} {rate} {mbs} {row.rss_mb:7.0f}MB  {row.note}")
        ratio = f["seconds"] / b["seconds"]
        ratio_ok = ratio < TARGET_RATIO
        noop_ok = nop["seconds"] < TARGET_NOOP_S or args.server == "plain"
        print()
        if args.repeat > 1:
            print(
                "runs: baseline "
                + ", ".join(f"{x['seconds']:.2f}" for x in baseline_runs)
                + " s; full sync "
                + ", ".join(f"{x['seconds']:.2f}" for x in full_runs)
                + " s (best of each used)"
            )
        print(f"full sync / baseline = {ratio:.2f}x (target < {TARGET_RATIO:.0f}x): {'PASS' if ratio_ok else 'FAIL'}")
        print(f"no-op resync = {nop['seconds']:.3f} s (target < {TARGET_NOOP_S} s): {'PASS' if noop_ok else 'FAIL'}")
        print(f"resume after a kill: {'PASS' if resume_ok else 'FAIL'}; no-op resync without CONDSTORE: "
              f"{'PASS' if noop_plain_ok else 'FAIL'} (target <= {TARGET_NOOP_PLAIN_S} s)")  # fmt: skip
        for w in {*f.get("warnings", []), *h.get("warnings", []), *(p or {}).get("warnings", [])}:
            print(f"warning from sync: {w}")
        for prob in problems:
            print(f"CHECK FAILED: {prob}")
        peer_verdicts = []
        if mb is not None:
            mb_ratio = f["seconds"] / mb["seconds"]
            line = (
                f"full sync / mbsync = {mb_ratio:.2f}x (target <= {TARGET_MBSYNC_RATIO}x): "
                f"{'PASS' if mb_ratio <= TARGET_MBSYNC_RATIO else 'FAIL'}"
            )
            print(line)
            peer_verdicts.append(line)
        if args.results:
            _write_markdown(Path(args.results), args, ds, rows, problems, [*peer_verdicts,
                f"full sync / imapclient loop = {ratio:.2f}x (target < {TARGET_RATIO:.0f}x): {'PASS' if ratio_ok else 'FAIL'}",
                f"no-op resync = {nop['seconds']:.3f} s (target < {TARGET_NOOP_S} s): {'PASS' if noop_ok else 'FAIL'}",
                f"resume after a kill: {'PASS' if resume_ok else 'FAIL'}",
                f"no-op resync without CONDSTORE (target <= {TARGET_NOOP_PLAIN_S} s): "
                f"{'PASS' if noop_plain_ok else 'FAIL'}",
            ])  # fmt: skip
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "messages": args.messages,
                        "seed": args.seed,
                        "security": args.security,
                        "dataset": dataclasses.asdict(ds),
                        "rows": [dataclasses.asdict(r) for r in rows],
                        "ratio_full_over_baseline": ratio,
                        "baseline_runs": [x["seconds"] for x in baseline_runs],
                        "full_runs": [x["seconds"] for x in full_runs],
                        "pass": ratio_ok and noop_ok and resume_ok and noop_plain_ok and pop_ok and not problems,
                    },
                    indent=2,
                )
            )
        if prof_dir:
            for name in ("full", "headers", "noop", "pop3"):
                path = prof_dir / f"{name}.prof"
                if path.exists():
                    _print_profile(path, name)
        return 0 if ratio_ok and noop_ok and resume_ok and noop_plain_ok and pop_ok and not problems else 1
    except Exception as e:
        print(f"sync_bench: {e}", file=sys.stderr)
        if dovecot is not None:
            print(f"--- dovecot log tail ---\n{dovecot.log_tail()}", file=sys.stderr)
        return 2
    finally:
        if dovecot is not None:
            dovecot.stop()
        if plain is not None:
            plain.stop()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
