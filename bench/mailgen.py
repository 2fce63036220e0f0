"""Deterministic test mailboxes for the benchmarks: N realistic generated messages written straight into Maildirs."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from pathlib import Path

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
