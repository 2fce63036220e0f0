"""mime, property-based: random and mutated MIME never raises, never leaks control characters, and the list's
envelope (fast path) agrees with the reference envelope and with the reader's attachments."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_mail.mime import envelope as envelope_mod
from tui_mail.mime import forward_draft, parse_envelope, render_message, reply_draft
from tui_mail.mime.structure import SIGNATURE_TYPES

FIXTURES = Path(__file__).parent.parent / "fixtures" / "malformed"
SEEDS = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.stat().st_size < 20_000]
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never meets a new one by chance
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def inert(s: str, one_line: bool = False) -> bool:
    for c in s:
        if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c in BIDI:
            return False
    return not (one_line and ("\n" in s or "\t" in s))


# -- generators -------------------------------------------------------------------------------------------------------

_words = st.sampled_from(
    ["hello", "Grüße", "日本語", "\x1b[31m", "\u202e", "=?utf-8?q?J=C3=B6rg?=", "=??Q?x=E9?=", "a@b.example",
     "support@paypal.com", "<x@y.example>", '"q, r"', "(c)", "\r", "\x00", ";", ":", ",", " ", "\t", "\xff"]
)  # fmt: skip
_text = st.lists(_words, max_size=8).map(" ".join)
_ctype = st.sampled_from(
    ["text/plain", "text/html", "application/pdf", "image/png", "text/calendar", "message/rfc822",
     "application/pgp-signature", "TEXT/Plain", "text", "", "multipart/mixed"]
)  # fmt: skip
_cte = st.sampled_from(["", "7bit", "8bit", "base64", "quoted-printable", "x-uuencode"])
_disp = st.sampled_from(["", "inline", "attachment", 'attachment; filename="a.txt"', 'inline; filename="p.png"'])


@st.composite
def leaf(draw: st.DrawFn) -> str:
    head = []
    ctype = draw(_ctype)
    if ctype:
        params = draw(
            st.sampled_from(
                ["", "; charset=utf-8", '; name="f.bin"', "; charset=x-mac-cyrillic", "; name*=utf-8''%C3%BC"]
            )
        )
        head.append(f"Content-Type: {ctype}{params}")
    cte = draw(_cte)
    if cte:
        head.append(f"Content-Transfer-Encoding: {cte}")
    disp = draw(_disp)
    if disp:
        head.append(f"Content-Disposition: {disp}")
    if draw(st.booleans()):
        head.append("Content-ID: <cid@x>")
    body = draw(st.sampled_from(["", "   ", draw(_text), "aGVsbG8=", "<p>hi</p>", "From: inner@x\n\ninner"]))
    return "\n".join(head) + "\n\n" + body


@st.composite
def tree(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3 or draw(st.integers(0, 9)) < 4:
        return draw(leaf())
    sub = draw(st.sampled_from(["mixed", "alternative", "related", "signed", "digest"]))
    boundary = draw(st.sampled_from(["b", "=_p.1", "x y", "long-boundary"])) + str(depth)
    folded = draw(st.booleans()) and " " not in boundary
    shown = boundary
    if folded:
        boundary, shown = boundary + "\n  z", boundary + "  z"
    kids = draw(st.lists(tree(depth + 1), min_size=0, max_size=3))
    out = f'Content-Type: multipart/{sub}; boundary="{boundary}"\n\n' + draw(st.sampled_from(["", "preamble\n"]))
    for k in kids:
        out += f"--{shown}\n{k}\n"
    out += draw(st.sampled_from([f"--{shown}--\n", "", f"--{shown}--\nepilogue\n"]))
    return out


@st.composite
def message(draw: st.DrawFn) -> bytes:
    head = [
        f"From: {draw(_text)}",
        f"To: {draw(_text)}, {draw(_text)}",
        f"Subject: {draw(_text)}",
        f"Date: {draw(st.sampled_from(['Mon, 02 Nov 2026 10:05:00 +0100', 'Mon, 02 Nov 2026 59:10:00 +0000', 'x', '']))}",
        f"Reply-To: {draw(_text)}",
        draw(st.sampled_from(["", "Received : from x", "no colon line", "From  : a@b.example", " leading fold"])),
        "Message-ID: <m@x.example>",
    ]
    raw = "\n".join(h for h in head if h) + "\n" + draw(tree())
    data = raw.encode("utf-8", "surrogateescape")
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    return data


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0:
            data[pos:pos] = draw(st.binary(max_size=8))
        elif op == 1:
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == 2:
            data[pos:pos] = draw(st.sampled_from([b"\r\n", b"\n\n", b"--b\r\n", b"\r\n\r\n", b'"', b"=?", b"\x00"]))
        else:
            data = data[:pos]
    return bytes(data)


# -- properties -----------------------------------------------------------------------------------------------------


def check(raw: bytes) -> None:
    env = parse_envelope(raw)
    for value in (env.subject, env.from_name, env.from_addr, env.to, env.cc, env.snippet, env.message_id):
        assert inert(value, one_line=True), value
    assert env == envelope_mod.parse_envelope_robust(raw, len(raw))  # fast envelope == robust envelope

    rendered = render_message(raw)
    for value in [rendered.text, *rendered.headers.values(), *rendered.notes]:
        assert inert(value), value
    for att in rendered.attachments:
        assert inert(att.filename, one_line=True) and "/" not in att.filename
    listed = [a for a in rendered.attachments if a.content_type not in SIGNATURE_TYPES]
    assert env.has_attachments == bool(listed)  # the paperclip == the reader's attachments

    reply = reply_draft(raw, ["me@example.org"], reply_all=True)
    assert inert(reply.subject, one_line=True) and "\n" not in reply.references
    forward = forward_draft(raw)
    assert len(forward.attachments) == len(rendered.attachments)


@PROPERTY
@given(message())
def test_random_mime(raw: bytes) -> None:
    check(raw)


@PROPERTY
@given(mutated())
def test_mutated_fixtures(raw: bytes) -> None:
    check(raw)
