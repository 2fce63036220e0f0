"""Sync benchmark: N generated messages in a private Dovecot, timed through IMAP and POP3 against a plain imapclient loop.

Run: .venv/bin/python bench/sync_bench.py [--messages N] [--skip-pop] [--repeat R] [--server rich|plain|both]
     [--skip-resume] [--profile DIR] [--json FILE]

The parent process starts a private Dovecot (tests/servers.py), writes the generated messages straight into the
users' Maildirs, and runs every timed phase in a fresh child process of this script (``--phase``), so each phase
gets its own clean peak RSS. Exit status: 0 when every target is met, 1 when one is missed, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import cProfile
import dataclasses
import datetime as dt
import email.utils
import json
import os
import pstats
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_RATIO = 2.0  # full IMAP sync / plain imapclient loop
TARGET_POP_RATIO = 1.5  # POP3 download / plain poplib RETR loop
TARGET_NOOP_S = 0.4  # no-op resync
TARGET_NOOP_PLAIN_S = 2.0  # no-op resync on a server without CONDSTORE (whole process)
TARGET_RESUME_SLACK_S = 1.0  # resume after a kill: at most the remaining work's share of a full sync + this
RESUME_KILL_AT = 0.95  # the kill comes once this share of the messages is cached
FETCH_CHUNK = 500  # UIDs per FETCH in the baseline loop
MB = 1024 * 1024

# ---------------------------------------------------------------------------------------------------------------
# message generator (deterministic for a given seed)

_ASCII_NAMES = [
    "Alice Archer", "Bob Baker", "Carol Chen", "David Dunn", "Erin Evans", "Frank Fisher", "Grace Green",
    "Heidi Hall", "Ivan Ivanov", "Judy Jones", "Mallory Moore", "Niaj Nash", "Olivia Owen", "Peggy Price",
    "Rupert Reed", "Sybil Stone", "Trent Turner", "Victor Vance", "Walter White", "Yasmin Young",
]  # fmt: skip
_UNICODE_NAMES = [
    "José Álvarez", "Zoë Müller", "Søren Kierkegård", "François Lefèvre", "Łukasz Wójcik", "Ольга Смирнова",
    "山田 太郎", "Αλέξανδρος Παπαδόπουλος", "محمد علي", "Nguyễn Văn An", "İbrahim Çelik", "Antonín Dvořák",
    "Björk Guðmundsdóttir", "김민수", "Ñuño Peña", "Chloé Bérard",
]  # fmt: skip
_DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "example.de", "uni.example.edu"]
_TOPICS = [
    "quarterly report", "release plan", "budget review", "team offsite", "database migration", "hiring update",
    "security audit", "customer feedback", "design review", "on-call rotation", "conference travel",
    "invoice", "contract renewal", "roadmap", "incident postmortem", "board meeting", "lunch on Friday",
]  # fmt: skip
_SUBJECT_FORMS = [
    "{T}", "Re: {T}", "{T} - draft {n}", "Question about the {t}", "[action needed] {T}", "Notes: {t}",
    "{T} ({n})", "Fwd: {T}", "Reminder: {t} tomorrow", "Invoice #{n}",
]  # fmt: skip
_UNICODE_SUBJECTS = [
    "Überprüfung der Änderungen", "Résumé de la réunion", "Отчёт за квартал", "会議の議事録", "Ελέγξτε τα αρχεία",
    "¿Podemos hablar mañana?", "Zażółć gęślą jaźń", "🎉 Launch day!", "Größenänderung für Straße", "회의 일정 변경",
    "Café à côté — déjà vu", "Çalışma planı", "Příliš žluťoučký kůň", "تقرير الأسبوع",
]  # fmt: skip
_WORDS = (
    "the of and to in a is that for it as was with be by on not he I this are or his from at which but have an they "
    "you were her all she there would their we him been has when who will more no if out so said what up its about "
    "into than them can only other new some could time these two may then do first any my now such like our over "
    "man me even most made after also did many before must through back years where much your way well down should "
    "because each just those people how too little state good very make world still own see men work long get here "
    "between both life being under never day same another know while last might us great old year off come since "
    "server release customer deadline meeting migration schedule invoice budget design review deploy rollback "
    "database cluster latency throughput backlog roadmap quarter estimate contract draft attachment proposal"
).split()
_UNICODE_WORDS = (
    "über straße naïve café déjà façade Größe Ärger mañana niño smörgåsbord Łódź привет 日本語 ελληνικά".split()
)
_ATTACHMENT_TYPES = [
    ("application/pdf", "pdf", b"%PDF-1.4\n"),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", "jpg", b"\xff\xd8\xff\xe0"),
    ("application/zip", "zip", b"PK\x03\x04"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", b"PK\x03\x04"),
]
_ATTACHMENT_NAMES = ["report", "scan", "photo", "slides", "invoice", "contract", "Übersicht", "résumé", "計画書"]
_MAILERS = ["Thunderbird 115.6", "Apple Mail (2.3731)", "Microsoft Outlook 16.0", "mutt/2.2.12", "Roundcube 1.6"]


@dataclass
class Generated:
    """One generated message: the bytes as a Maildir file stores them (LF line ends) plus its Maildir flags."""

    raw: bytes
    flags: str  # Maildir info letters in ASCII order (e.g. "FS"); "" = unseen
    when: float  # Unix time of the Date header (also used as the file's mtime and the Maildir name)
    new: bool  # goes into new/ instead of cur/


@dataclass
class DatasetStats:
    """What the generated mailbox contains."""

    messages: int = 0
    file_bytes: int = 0
    imap_bytes: int = 0  # with CRLF line ends, as IMAP/POP3 send them
    html: int = 0
    attachments: int = 0
    replies: int = 0
    unicode_subjects: int = 0
    largest: int = 0


def _encode_header_text(text: str, rng: random.Random) -> str:
    """RFC 2047 for non-ASCII (Q for Latin-1-able text half of the time, else UTF-8 B), plain text otherwise."""
    if text.isascii():
        return text
    try:
        text.encode("iso-8859-1")
        if rng.random() < 0.5:
            return Header(text, "iso-8859-1").encode(maxlinelen=76)
    except UnicodeEncodeError:
        pass
    return Header(text, "utf-8").encode(maxlinelen=76)


def _address(name: str, addr: str, rng: random.Random) -> str:
    if name.isascii():
        return f'"{name}" <{addr}>' if rng.random() < 0.3 else f"{name} <{addr}>"
    return f"{_encode_header_text(name, rng)} <{addr}>"


def _mailbox(name: str) -> str:
    local = "".join(c for c in name.lower().replace(" ", ".") if c.isascii() and (c.isalnum() or c == "."))
    return local.strip(".") or "user"


class _Corpus:
    """A few MB of pseudo-prose to slice message bodies from (slicing is what makes generation fast)."""

    def __init__(self, rng: random.Random, unicode: bool, size: int = 1_500_000) -> None:
        words = _WORDS + (_UNICODE_WORDS * 4 if unicode else [])
        lines: list[str] = []
        line: list[str] = []
        length = 0
        total = 0
        sentence_left = rng.randint(6, 20)
        while total < size:
            w = rng.choice(words)
            sentence_left -= 1
            if sentence_left == 0:
                w += rng.choice(".....?!")
                sentence_left = rng.randint(6, 20)
            if length + len(w) + 1 > 72:
                lines.append(" ".join(line))
                total += length + 1
                line, length = [], 0
                if rng.random() < 0.15:
                    lines.append("")
            line.append(w)
            length += len(w) + 1
        self.lines = lines

    def text(self, rng: random.Random, chars: int) -> str:
        start = rng.randrange(0, len(self.lines) - 1)
        out: list[str] = []
        n = 0
        i = start
        while n < chars:
            s = self.lines[i % len(self.lines)]
            out.append(s)
            n += len(s) + 1
            i += 1
        text = "\n".join(out).strip("\n")
        return text[:1].upper() + text[1:] + "\n"


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"))


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


def _text_part(text: str, rng: random.Random) -> bytes:
    if text.isascii():
        return b"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n" + text.encode()
    if rng.random() < 0.3:
        return b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + text.encode()
    return b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + _qp(text)


def _html(text: str, rng: random.Random, newsletter: bool) -> str:
    paras = "".join(
        f'<p style="margin:0 0 12px 0;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#333333">{p}</p>\n'
        for p in text.split("\n\n")
        if p.strip()
    )
    if not newsletter:
        return f'<html><head><meta charset="utf-8"></head><body><div dir="ltr">\n{paras}</div></body></html>\n'
    rows = "".join(
        f'<tr><td style="padding:8px 16px;border-bottom:1px solid #eeeeee"><a href="https://news.example.com/a/'
        f'{rng.randrange(10**6)}?utm_source=newsletter&amp;utm_medium=email" style="color:#0a66c2">Read more</a>'
        "</td></tr>\n"
        for _ in range(rng.randint(4, 20))
    )
    style = "".join(
        f".c{i}{{padding:{i}px;margin:0;font-size:{10 + i % 8}px;line-height:1.{i % 9}}}\n" for i in range(60)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style type="text/css">\n'
        f'{style}</style></head><body style="margin:0;padding:0;background:#f4f4f4">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center">\n'
        f'<table width="600" cellpadding="0" cellspacing="0" style="background:#ffffff">\n<tr><td>{paras}</td></tr>\n'
        f"{rows}</table></td></tr></table>"
        '<img src="https://news.example.com/open.gif" width="1" height="1" alt=""></body></html>\n'
    )


def _boundary(rng: random.Random) -> str:
    return f"----=_Part_{rng.randrange(10**9)}_{rng.randrange(10**9)}.{rng.randrange(10**12)}"


def _attachment(rng: random.Random) -> bytes:
    ctype, ext, magic = rng.choice(_ATTACHMENT_TYPES)
    size = int(10_240 * (50 ** rng.random()))  # log-uniform 10 KB .. 500 KB
    data = magic + rng.randbytes(size - len(magic))
    name = f"{rng.choice(_ATTACHMENT_NAMES)}-{rng.randrange(1000)}.{ext}"
    if name.isascii():
        disp = f'attachment; filename="{name}"'
    else:
        from urllib.parse import quote

        disp = f"attachment; filename*=utf-8''{quote(name)}"
    return (
        f'Content-Type: {ctype}; name="{name if name.isascii() else "attachment." + ext}"\n'
        f"Content-Disposition: {disp}\nContent-Transfer-Encoding: base64\n\n"
    ).encode() + _b64(data)


def _multipart(subtype: str, parts: list[bytes], rng: random.Random) -> bytes:
    b = _boundary(rng)
    out = [f'Content-Type: multipart/{subtype}; boundary="{b}"\n\n'.encode()]
    if rng.random() < 0.5:
        out.append(b"This is a multi-part message in MIME format.\n")
    for p in parts:
        out.append(f"\n--{b}\n".encode())
        out.append(p)
    out.append(f"\n--{b}--\n".encode())
    return b"".join(out)


def generate(n: int, seed: int, user_addr: str) -> Iterator[Generated]:
    """N messages with a realistic mix: ~55% plain text, ~35% HTML alternative, 10% attachments, ~35% replies in
    threads, ~20% non-ASCII subjects, RFC 2047 names, Received/DKIM headers; dates ascending over two years."""
    rng = random.Random(seed)
    corpus = _Corpus(rng, unicode=False)
    corpus_u = _Corpus(rng, unicode=True, size=400_000)
    people = [(name, f"{_mailbox(name)}@{rng.choice(_DOMAINS)}") for name in _ASCII_NAMES + _UNICODE_NAMES]
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    span = 2 * 365 * 86400
    recent: list[tuple[str, str, str, str, str]] = []  # (message-id, subject, references, from name, body head)
    when = start
    for i in range(n):
        when += rng.expovariate(n / span)
        tz = dt.timezone(dt.timedelta(minutes=rng.choice([0, 60, 120, -300, -420, 330, 540, 600])))
        date = email.utils.format_datetime(dt.datetime.fromtimestamp(when, tz))
        name, addr = rng.choice(people)
        domain = addr.partition("@")[2]
        msgid = f"<{int(when)}.{i}.{rng.randrange(16**12):012x}@{domain}>"
        unicode_body = not name.isascii() and rng.random() < 0.6

        reply_to = rng.choice(recent[-300:]) if recent and rng.random() < 0.35 else None
        if reply_to is not None:
            parent_id, parent_subject, parent_refs, parent_name, parent_head = reply_to
            subject = parent_subject if parent_subject.lower().startswith("re:") else f"Re: {parent_subject}"
            refs = " ".join(([*parent_refs.split(), parent_id])[-10:])
        else:
            if rng.random() < 0.2:
                subject = rng.choice(_UNICODE_SUBJECTS)
            else:
                topic = rng.choice(_TOPICS)
                subject = rng.choice(_SUBJECT_FORMS).format(T=topic.capitalize(), t=topic, n=rng.randrange(10, 9999))
            refs = ""

        # body text: log-normal, median ~1.2 KB, a few long ones
        chars = min(int(rng.lognormvariate(7.1, 1.0)), 120_000)
        text = (corpus_u if unicode_body else corpus).text(rng, max(chars, 40))
        if reply_to is not None:
            quoted = "\n".join(("> " + line) if line else ">" for line in parent_head.splitlines())
            text += f"\nOn {date[:16]}, {parent_name} wrote:\n{quoted}\n"
        text += f"\n-- \n{name}\n"

        kind = rng.random()
        newsletter = False
        if kind < 0.35:
            newsletter = reply_to is None and rng.random() < 0.5
            html = _html(text, rng, newsletter)
            html_part = (
                b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + _qp(html)
                if rng.random() < 0.7
                else b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
                + _b64(html.encode())
            )
            body = _multipart("alternative", [_text_part(text, rng), html_part], rng)
        else:
            body = _text_part(text, rng)
        has_attachment = rng.random() < 0.10
        if has_attachment:
            atts = [_attachment(rng) for _ in range(2 if rng.random() < 0.2 else 1)]
            inner = body
            body = _multipart("mixed", [inner, *atts], rng)
        header_body_sep = body.index(b"\n\n")
        content_headers, body_rest = body[:header_body_sep], body[header_body_sep:]

        to = [_address("Bench User", user_addr, rng)]
        to += [_address(*rng.choice(people), rng) for _ in range(rng.choice([0, 0, 0, 1, 2]))]
        hdr = [f"Return-Path: <{addr}>"]
        hops = rng.randint(2, 4)
        for h in range(hops):
            hop_date = email.utils.format_datetime(dt.datetime.fromtimestamp(when + (hops - h) * 2, dt.UTC))
            hdr.append(
                f"Received: from mx{h}.{domain} (mx{h}.{domain} [198.51.100.{rng.randrange(1, 255)}])\n"
                f"\tby mail.example.test (Postfix) with ESMTPS id {rng.randrange(16**10):010X}\n"
                f"\tfor <{user_addr}>; {hop_date}"
            )
        if rng.random() < 0.4:
            sig = base64.b64encode(rng.randbytes(256)).decode()
            bh = base64.b64encode(rng.randbytes(32)).decode()
            folded = "\n\t ".join(sig[j : j + 70] for j in range(0, len(sig), 70))
            hdr.append(
                f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1;\n"
                f"\th=from:to:subject:date:message-id; bh={bh};\n\tb={folded}"
            )
            hdr.append(f"Authentication-Results: mail.example.test; dkim=pass header.d={domain}; spf=pass")
        hdr += [
            f"Message-ID: {msgid}",
            f"Date: {date}",
            f"From: {_address(name, addr, rng)}",
            "To: " + ",\n\t".join(to),
        ]
        if rng.random() < 0.25:
            hdr.append("Cc: " + _address(*rng.choice(people), rng))
        hdr.append(f"Subject: {_encode_header_text(subject, rng)}")
        if reply_to is not None:
            hdr.append(f"In-Reply-To: {reply_to[0]}")
            hdr.append(f"References: {refs}")
        if newsletter:
            hdr.append(f"List-Id: News from {domain} <news.{domain}>")
            hdr.append(f"List-Unsubscribe: <https://{domain}/unsubscribe/{rng.randrange(16**16):016x}>")
        hdr.append(f"X-Mailer: {rng.choice(_MAILERS)}")
        hdr.append("MIME-Version: 1.0")
        raw = ("\n".join(hdr) + "\n").encode() + content_headers + body_rest
        if not raw.endswith(b"\n"):
            raw += b"\n"

        recent.append((msgid, subject, refs, name, "\n".join(text.splitlines()[:12])))
        if len(recent) > 600:
            del recent[:300]

        age = (n - i) / n
        new = age < 0.005
        flags = ""
        if not new and rng.random() < (0.97 if age > 0.05 else 0.5):
            flags = "S"
            if rng.random() < 0.15:
                flags = "R" + flags
        if rng.random() < 0.04:
            flags = "F" + flags
        yield Generated(raw=raw, flags=flags, when=when, new=new)


def populate(maildirs: list[Path], n: int, seed: int, user_addr: str, uid: int, gid: int) -> DatasetStats:
    """Write the generated messages as Maildir files into the first Maildir and hard-link them into the others
    (Maildir files are never modified in place, so sharing them is safe); everything is owned by uid:gid."""
    stats = DatasetStats()
    for md in maildirs:
        for sub in ("", "cur", "new", "tmp"):
            (md / sub).mkdir(parents=True, exist_ok=True)
        for p in (md.parent, md, md / "cur", md / "new", md / "tmp"):
            os.chown(p, uid, gid)
            p.chmod(0o700)
    host = "bench"
    pid = os.getpid()
    first, others = maildirs[0], maildirs[1:]
    for i, m in enumerate(generate(n, seed, user_addr)):
        size = len(m.raw)
        vsize = size + m.raw.count(b"\n")
        base = f"{int(m.when)}.M{i:06d}P{pid}.{host},S={size},W={vsize}"
        rel = f"new/{base}" if m.new else f"cur/{base}:2,{m.flags}"
        path = first / rel
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, m.raw)
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
        os.utime(path, (m.when, m.when))
        for other in others:
            os.link(path, other / rel)
        stats.messages += 1
        stats.file_bytes += size
        stats.imap_bytes += vsize
        stats.largest = max(stats.largest, vsize)
        stats.html += b"text/html" in m.raw
        stats.attachments += b"Content-Disposition: attachment" in m.raw
        stats.replies += b"\nIn-Reply-To:" in m.raw
        stats.unicode_subjects += b"\nSubject: =?" in m.raw
    return stats


# ---------------------------------------------------------------------------------------------------------------
# phases (each runs in its own child process: python sync_bench.py --phase NAME --spec FILE)


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
    ap.add_argument("--profile", metavar="DIR", help="also profile the tui-mail phases (cProfile files in DIR)")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON too")
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
