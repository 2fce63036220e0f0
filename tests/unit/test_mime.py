"""mime: malformed input never crashes or leaks control characters; reader, attachments, reply/forward, building."""

from __future__ import annotations

import base64
import binascii
import random
import socket
import sys
import time
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tui_mail import mime
from tui_mail.mime import (
    NOTE_DAMAGED,
    NOTE_TOO_DEEP,
    attachment_bytes,
    build_message,
    forward_draft,
    parse_envelope,
    quote_depth,
    recipients,
    render_message,
    reply_draft,
    safe_filename,
)
from tui_mail.mime import envelope as envelope_mod

FIXTURES = Path(__file__).parent.parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import make_malformed  # noqa: E402

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


def fixture(name: str) -> bytes:
    return (FIXTURES / "malformed" / name).read_bytes()


def assert_inert(s: str) -> None:
    bad = [c for c in s if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c in BIDI]
    assert not bad, f"control characters survived: {bad!r} in {s[:200]!r}"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering must never fetch anything (remote images, links, DTDs)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("mime tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


GENERATED = {
    "deep_nesting_300": lambda: make_malformed.deep_nesting(300),
    "megabyte_header_line": lambda: make_malformed.huge_header(1024 * 1024),
}
ALL_CASES = sorted(make_malformed.SMALL) + sorted(GENERATED)


def load(name: str) -> bytes:
    return GENERATED[name]() if name in GENERATED else fixture(name)


def test_committed_fixtures_match_generator() -> None:
    for name, data in make_malformed.SMALL.items():
        assert fixture(name) == data, f"{name} is stale: run tests/fixtures/make_malformed.py"


@pytest.mark.parametrize("name", ALL_CASES)
def test_malformed_message_parses_and_renders_inert(name: str) -> None:
    raw = load(name)
    env = parse_envelope(raw)
    for value in (env.subject, env.from_name, env.from_addr, env.to, env.cc, env.snippet, env.message_id):
        assert_inert(value)
        assert "\n" not in value and "\t" not in value
    assert env.size == len(raw)
    assert len(env.snippet) <= 200

    rendered = render_message(raw)
    for value in [rendered.text, *rendered.headers.values(), *rendered.notes]:
        assert_inert(value)
    for att in rendered.attachments:
        assert_inert(att.filename)
        assert "/" not in att.filename and "\\" not in att.filename and not att.filename.startswith(".")
        attachment_bytes(raw, att.index)  # every listed attachment can be saved

    for part in (parse_envelope(raw[: len(raw) // 2]), render_message(raw[: len(raw) // 3])):  # truncated input
        assert part is not None


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00" * 100, b"\xff\xfe\xfd", b"\r\n\r\n", b"Subject", b"Content-Type: multipart/mixed\r\n\r\n--", b":\n:"],
)
def test_garbage_never_raises(raw: bytes) -> None:
    assert parse_envelope(raw).size == len(raw)
    assert isinstance(render_message(raw).text, str)


def test_terminal_escapes_are_stripped_and_markup_kept_literally() -> None:
    raw = fixture("terminal_escapes.eml")
    env = parse_envelope(raw)
    assert env.subject == "[link=http://evil]click[/link] done"
    assert env.from_addr == "evil@example.com"
    assert env.from_name == "[bold red]Admin[/] Evil"
    rendered = render_message(raw)
    assert "Hello [red]world[/red]" in rendered.text
    assert "hyperlink" in rendered.text and "evil.example" not in rendered.text and "secret" not in rendered.text
    assert rendered.headers["From"] == "[bold red]Admin[/] Evil <evil@example.com>"
    assert [a.filename for a in rendered.attachments] == ["red.bin"]


def test_traversal_filenames_become_plain_basenames() -> None:
    raw = fixture("path_traversal.eml")
    rendered = render_message(raw)
    assert [a.filename for a in rendered.attachments] == ["passwd", "win.ini", "bashrc"]
    assert attachment_bytes(raw, 0) == b"root:x:0:0"
    assert attachment_bytes(raw, 1) == b"[win]"
    assert parse_envelope(raw).has_attachments
    with pytest.raises(IndexError):
        attachment_bytes(raw, 3)


def test_bidi_override_is_removed_from_filename() -> None:
    rendered = render_message(fixture("bidi_filename.eml"))
    assert [a.filename for a in rendered.attachments] == ["invoicefdp.exe"]  # the real extension is visible


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("..", "attachment"),
        ("", "attachment"),
        ("...hidden", "hidden"),
        (".bashrc", "bashrc"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ('a<b>:c"d|e?f*.txt', "a_b__c_d_e_f_.txt"),
        ("report\x00\x1b[31m.pdf", "report.pdf"),
        ("-rf", "rf"),
        ("Résumé 2026.pdf", "Résumé 2026.pdf"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_limits_length_but_keeps_extension() -> None:
    out = safe_filename("é" * 500 + ".pdf")
    assert out.endswith(".pdf") and len(out.encode()) <= 200


def test_html_only_links_become_footnotes_and_nothing_is_fetched() -> None:
    raw = fixture("html_only.eml")
    text = render_message(raw).text
    assert "our news [1]" in text and "unsubscribe [2]" in text
    assert "[1] https://example.com/news" in text
    assert "[2] https://example.com/unsubscribe" in text
    assert "[3] https://example.com/raw" in text
    assert "[image: Company logo]" in text
    assert "tracker.example.net" not in text  # remote images are never loaded nor listed
    assert "alert(1)" not in text and "color: red" not in text
    assert "[bold]not markup[/bold]" in text
    assert parse_envelope(raw).snippet.startswith("Dear user, read our news and unsubscribe.")


def test_broken_and_missing_boundaries_show_what_can_be_read() -> None:
    broken = render_message(fixture("broken_boundary.eml"))
    assert "Body behind a wrong boundary." in broken.text
    assert [a.filename for a in broken.attachments] == ["report.pdf"]
    assert NOTE_DAMAGED in broken.notes
    missing = render_message(fixture("missing_boundary.eml"))
    assert "missing boundary body" in missing.text
    assert NOTE_DAMAGED in missing.notes


def test_unknown_charset_is_shown_with_a_note() -> None:
    rendered = render_message(fixture("unknown_charset.eml"))
    assert "crème brûlée" in rendered.text
    assert any("x-foo" in n for n in rendered.notes)
    assert parse_envelope(fixture("unknown_charset.eml")).subject.startswith("Caf")


def test_bad_base64_decodes_what_it_can() -> None:
    rendered = render_message(fixture("bad_base64.eml"))
    assert rendered.text.startswith("Hello")
    assert rendered.notes


def test_eight_bit_headers_are_decoded() -> None:
    env = parse_envelope(fixture("eight_bit_headers.eml"))
    assert env.subject == "Grüße aus Köln"
    assert env.from_name == "François Dupont"
    assert env.to == "Jürgen <j@example.de>"
    assert render_message(fixture("eight_bit_headers.eml")).text == "Café crème"


def test_nul_bytes_are_dropped() -> None:
    raw = fixture("nul_bytes.eml")
    assert parse_envelope(raw).subject == "Nul in subject"
    assert render_message(raw).text == "beforeafter end"


def test_deep_nesting_is_cut_with_a_note() -> None:
    rendered = render_message(make_malformed.deep_nesting(300))
    assert NOTE_TOO_DEEP in rendered.notes
    assert rendered.headers["Subject"] == "Nested 300 deep"


def test_megabyte_header_line_is_capped() -> None:
    raw = make_malformed.huge_header(1024 * 1024)
    env = parse_envelope(raw)
    assert env.subject.startswith("SSSS") and len(env.subject) <= 1000
    assert render_message(raw).text == "body after huge headers"


def test_big_attachment_is_listed_without_decoding_and_envelope_is_fast() -> None:
    raw = make_malformed.big_attachment(20 * 1024 * 1024)
    start = time.perf_counter()
    env = parse_envelope(raw)
    assert time.perf_counter() - start < 1.0  # only the first 256 KiB are parsed
    assert env.has_attachments and env.snippet == "the text part"
    rendered = render_message(raw)
    assert rendered.text == "the text part"
    (att,) = rendered.attachments
    assert att.filename == "big.bin" and abs(att.size - 20 * 1024 * 1024) < 1024


ORIGINAL = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Me <me@example.org>, Bob <bob@example.net>\r\n"
    b"Cc: carol@example.com, ME@example.org, bob@example.net\r\n"
    b"Subject: Re: RE: Lunch plans\r\n"
    b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <m3@example.com>\r\n"
    b"In-Reply-To: <m2@example.com>\r\n"
    b"References: <m1@example.com> <m2@example.com>\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee you at noon.\r\n> earlier text\r\n"
    b'--b\r\nContent-Type: application/pdf; name="menu.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    b"JVBERi0xLjQK\r\n--b--\r\n"
)


def test_reply_quotes_and_threads() -> None:
    draft = reply_draft(ORIGINAL, ["me@example.org"])
    assert draft.to == ["Alice <alice@example.com>"]
    assert draft.cc == []
    assert draft.subject == "Re: Lunch plans"
    assert draft.in_reply_to == "<m3@example.com>"
    assert draft.references == "<m1@example.com> <m2@example.com> <m3@example.com>"
    assert draft.body.startswith("On ") and "Alice <alice@example.com> wrote:\n" in draft.body
    assert "> See you at noon.\n>> earlier text\n" in draft.body
    assert [quote_depth(line) for line in draft.body.splitlines()[1:]] == [1, 2]


def test_reply_all_excludes_self_and_duplicates() -> None:
    draft = reply_draft(ORIGINAL, ["me@example.org"], reply_all=True)
    assert draft.to == ["Alice <alice@example.com>"]
    assert draft.cc == ["Bob <bob@example.net>", "carol@example.com"]


def test_reply_uses_reply_to() -> None:
    raw = b"From: a@example.com\r\nReply-To: list@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    draft = reply_draft(raw, [])
    assert draft.to == ["list@example.com"] and draft.subject == "Re: x" and draft.references == ""


def test_forward_includes_header_block_text_and_attachments() -> None:
    draft = forward_draft(ORIGINAL)
    assert draft.subject == "Fwd: Re: RE: Lunch plans"
    assert "---------- Forwarded message ----------" in draft.body
    assert "From: Alice <alice@example.com>" in draft.body and "See you at noon." in draft.body
    assert draft.attachments == [("menu.pdf", "application/pdf", b"%PDF-1.4\n")]
    assert draft.to == [] and draft.in_reply_to == ""


def test_quote_depth() -> None:
    assert [quote_depth(s) for s in ["plain", "> one", ">> two", "> > two", " >x", ""]] == [0, 1, 2, 2, 1, 0]


def test_build_message_round_trips_non_ascii_and_attachment() -> None:
    msg = build_message(
        from_addr="me@example.org",
        from_name="Zoë Ødegård",
        to=["Jürgen <j@example.de>"],
        cc=["c@example.com"],
        bcc=["secret@example.com"],
        subject="Grüße — 日本語",
        body="Hällo wörld\nzweite Zeile",
        attachments=[("../Résumé.pdf", "", b"%PDF-1.4 data")],
        in_reply_to="<m3@example.com>",
        references="<m1@example.com> <m3@example.com>",
    )
    raw = msg.as_bytes()
    assert raw.isascii()  # encoded words / quoted-printable / base64: safe for any SMTP server
    assert b"secret@example.com" not in raw and b"Bcc" not in raw
    assert recipients(msg, ["secret@example.com", "J@example.de"]) == [
        "j@example.de",
        "c@example.com",
        "secret@example.com",
    ]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"].endswith("@example.org>")
    assert parsed["Date"].datetime is not None
    env = parse_envelope(raw)
    assert env.subject == "Grüße — 日本語"
    assert env.from_name == "Zoë Ødegård" and env.to == "Jürgen <j@example.de>"
    assert env.in_reply_to == "<m3@example.com>" and env.has_attachments
    rendered = render_message(raw)
    assert rendered.text == "Hällo wörld\nzweite Zeile"
    assert [(a.filename, a.content_type) for a in rendered.attachments] == [("Résumé.pdf", "application/pdf")]
    assert attachment_bytes(raw, 0) == b"%PDF-1.4 data"


def test_build_message_refuses_header_injection() -> None:
    with pytest.raises(ValueError, match=r"^The Subject field contains a line break"):
        build_message(from_addr="me@example.org", to=["a@example.com"], subject="hi\r\nBcc: x@evil", body="b")


def _generated(i: int) -> bytes:
    alt = i % 3 == 0
    body = (f"Hello number {i}, this is a fairly ordinary message body with some words in it.\r\n" * 20).encode()
    head = (
        f"From: =?utf-8?q?Sender_{i}_J=C3=B6rg?= <s{i}@example.com>\r\n"
        f"To: Someone <to{i}@example.org>, other@example.org\r\n"
        f"Subject: =?utf-8?b?R3LDvMOfZQ==?= message {i}\r\n"
        f"Date: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0100\r\n"
        f"Message-ID: <{i}@example.com>\r\nReferences: <{i - 1}@example.com>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    if alt:
        html = b"<html><body><p>" + body.replace(b"\r\n", b"</p><p>") + b"</p></body></html>"
        return (
            head
            + b'Content-Type: multipart/alternative; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n'
            + body
            + b"\r\n--x\r\nContent-Type: text/html\r\n\r\n"
            + html
            + b"\r\n--x--\r\n"
        )
    return head + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body


def test_parse_envelope_speed_sanity() -> None:
    messages = [_generated(i) for i in range(2000)]
    headers_only = [m.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" for m in messages]
    start = time.perf_counter()
    for m in messages:
        parse_envelope(m)
    full = time.perf_counter() - start
    start = time.perf_counter()
    for h in headers_only:
        parse_envelope(h)
    heads = time.perf_counter() - start
    print(f"\nparse_envelope x2000: full messages {full:.3f}s, header blocks {heads:.3f}s")


def test_build_message_punycodes_idn_domains_and_rejects_non_addresses() -> None:
    msg = build_message(from_addr="me@example.org", to=["Jörg <jorg@exämple.de>"], subject="s", body="b")
    assert recipients(msg) == ["jorg@xn--exmple-cua.de"]
    for bad in (["not an address"], ["jörg@example.de"]):
        with pytest.raises(ValueError, match="in To"):
            build_message(from_addr="me@example.org", to=bad, subject="s", body="b")
    with pytest.raises(ValueError):
        build_message(from_addr="", to=["a@example.com"], subject="s", body="b")


STRUCTURES = (
    b"From: a@example.com\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
    b"--o\r\nContent-Type: text/plain\r\n\r\nsee forwarded\r\n"
    b"--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.com\r\nSubject: Inner subj\r\n\r\ninner body\r\n"
    b"--o\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
    b'--r\r\nContent-Type: text/html\r\n\r\n<p>html part <img src="cid:logo"></p>\r\n'
    b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    b"--r--\r\n"
    b'--o\r\nContent-Type: application/pdf; name="apple.pdf"\r\nContent-Disposition: inline; filename="apple.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
    b"--o\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\n--o--\r\n"
)


def test_attachment_listing_follows_what_the_sender_attached() -> None:
    rendered = render_message(STRUCTURES)
    assert rendered.text == "see forwarded\n\nhtml part"
    assert [(a.filename, a.content_type) for a in rendered.attachments] == [
        ("Inner subj.eml", "message/rfc822"),  # a forwarded message
        ("apple.pdf", "application/pdf"),  # Apple Mail's inline-but-named attachment
        ("attachment-3.ics", "text/calendar"),  # unnamed: a generated name; the inline logo is not listed
    ]
    assert b"inner body" in attachment_bytes(STRUCTURES, 0)
    assert attachment_bytes(STRUCTURES, 1) == b"%PDF-"


def test_signature_alone_is_not_an_attachment_in_the_list_view() -> None:
    signed = (
        b'From: a@example.com\r\nContent-Type: multipart/signed; protocol="application/pgp-signature"; boundary=s\r\n'
        b"\r\n--s\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--s\r\nContent-Type: application/pgp-signature;"
        b' name="signature.asc"\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n--s--\r\n'
    )
    assert parse_envelope(signed).has_attachments is False
    assert render_message(signed).text == "signed text"


def test_html_nested_deeper_than_the_parser_allows_still_shows_words() -> None:
    raw = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * 5000 + b"deep text" + b"</div>" * 5000
    assert render_message(raw).text == "deep text"
    assert parse_envelope(raw).snippet == "deep text"


# --- the fast envelope path must agree with the email-parser path ------------------------------------------------

_NAMES = ["Alice Archer", '"Carol, Chen"', "=?utf-8?q?J=C3=B6rg_M=C3=BCller?=", "=?iso-8859-1?q?Fran=E7ois?=",
          "=?utf-8?b?0J7Qu9GM0LPQsA==?=", "Zoë Raw", "", "John Q. Public", "\u202eevil\x1b[2J", "(comment) Bob"]  # fmt: skip
_DATES = ["Mon, 02 Nov 2026 10:05:00 +0100", "2 Nov 2026 10:05 -0530", "Tue, 3 Nov 2026 23:59:60 +0000 (UTC)",
          "Mon, 02 Nov 2026 10:05:00 -0000", "Mon, 02 Nov 26 10:05:00 GMT", "02 nov 2026 10:05:00 EST", "yesterday",
          "Mon,2 Nov 2026 1:02:03 +1400", ""]  # fmt: skip
_SUBJECTS = ["Quarterly report", "Re: =?utf-8?b?w5xiZXJwcsO8ZnVuZw==?=", "=?utf-8?q?Caf=C3=A9?= =?utf-8?q?_d=C3=A9j=C3=A0?=",
             "Größe raw", "tab\tand\x1b]8;;http://x\x07link", "[bold]markup[/]", ""]  # fmt: skip
_TEXTS = ["Hello,\n\nplease find the numbers below.\nThanks", "> quoted only\n> more", "",
          "On Mon someone wrote:\n> old\n\nnew text after quote\n" + "filler words here " * 40, "Grüße aus Köln €",
          "\x1b[31mred\x1b[0m and \u202ebidi", "   \n\t\n", "line\rwith bare CR"]  # fmt: skip


def _addr(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    addr = rng.choice(["a@example.com", "first.last@mail.example.org", "x+tag@example.net"])
    return rng.choice([f"{name} <{addr}>" if name else addr, addr, f"<{addr}>"])


def _leaf(rng: random.Random, ctype: str = "", text: str | None = None) -> str:
    ctype = ctype or rng.choice(
        [
            "text/plain",
            "text/plain",
            "text/html",
            "application/pdf",
            "image/png",
            "text/calendar",
            "TEXT/Plain ",
            "text",
        ]
    )
    text = rng.choice(_TEXTS) if text is None else text
    if ctype == "text/html":
        text = f"<html><body><p>{text}</p><script>x()</script></body></html>"
    charset = rng.choice(["utf-8", "us-ascii", '"iso-8859-1"', "x-unknown-cs", ""])
    head = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "")
    if ctype.startswith(("application/", "image/")):
        head += rng.choice(['; name="file.bin"', "", "; name*=utf-8''%C3%BC.bin", "; name=two words.bin"])
    disposition = rng.choice(
        ["", "", "Content-Disposition: inline\n", 'Content-Disposition: attachment; filename="a.txt"\n']
    )
    if ctype.startswith("image/") and rng.random() < 0.5:
        disposition += "Content-ID: <img1@x>\n"
    cte = rng.choice(["7bit", "8bit", "quoted-printable", "base64", "", "x-uuencode"])
    data = text.encode("utf-8" if "iso" not in charset else "latin-1", "replace")
    if cte == "quoted-printable":
        data = binascii.b2a_qp(data)
    elif cte == "base64":
        data = base64.encodebytes(data) if rng.random() < 0.9 else b"!!not*base64=\n"
    return (
        head
        + "\n"
        + (f"Content-Transfer-Encoding: {cte}\n" if cte else "")
        + disposition
        + "\n"
        + data.decode("latin-1")
    )


def _tree(rng: random.Random, depth: int) -> str:
    if depth > 2 or rng.random() < 0.4:
        return _leaf(rng)
    sub = rng.choice(["mixed", "alternative", "related", "signed", "digest", "report"])
    boundary = rng.choice(["b", "=_Part_1.2", "outer:boundary"]) + str(depth) + str(rng.randrange(100))
    if rng.random() < 0.05:
        boundary = f"<angle{depth}>"  # the email package unquotes <...> parameter values
    if sub == "alternative":
        parts = [_leaf(rng, "text/plain"), _leaf(rng, "text/html")]
        rng.shuffle(parts)
    elif sub == "signed":
        parts = [_tree(rng, depth + 1), _leaf(rng, "application/pgp-signature", "SIG")]
    else:
        parts = [_tree(rng, depth + 1) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.2:
            parts.append("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body")
    quote = rng.choice(['"', ""])
    out = f"Content-Type: multipart/{sub}; boundary={quote}{boundary}{quote}\n\n"
    out += rng.choice(["", "This is a multi-part message in MIME format.\n"])
    for p in parts:
        out += f"--{boundary}\n{p}\n"
    out += rng.choice([f"--{boundary}--\n", f"--{boundary}--\nepilogue\n", "", f"--{boundary}\n"])
    return out


def _varied_message(rng: random.Random) -> bytes:
    head = [f"From: {_addr(rng)}", f"To: {_addr(rng)}, {_addr(rng)}", f"Date: {rng.choice(_DATES)}"]
    if rng.random() < 0.5:
        head.append(f"Cc: {_addr(rng)}")
    head.append(f"Subject: {rng.choice(_SUBJECTS)}")
    head.append(rng.choice(["Message-ID: <m1@example.com>", "Message-Id: bare@example.com", "Message-ID:"]))
    if rng.random() < 0.4:
        head.append("In-Reply-To: <p@example.com>\nReferences: <r1@example.com>\n <r2@example.com> <p@example.com>")
    head.append("X-Mailer: test\nMIME-Version: 1.0")
    raw = ("\n".join(head) + "\n" + _tree(rng, 0)).encode("utf-8", "surrogateescape")
    if rng.random() < 0.7:
        raw = raw.replace(b"\n", b"\r\n")
    if rng.random() < 0.1:
        raw = raw[: rng.randrange(len(raw))]
    return raw


def _fast_and_robust_cases() -> list[bytes]:
    rng = random.Random(2047)
    cases = [_varied_message(rng) for _ in range(200)]
    cases += [_generated(i) for i in range(6)] + [STRUCTURES]
    cases += [fixture(p.name) for p in sorted((FIXTURES / "malformed").iterdir())]
    cases += [load(name) for name in sorted(GENERATED)]
    return cases + [raw.split(b"\n\r\n", 1)[0] + b"\n\r\n" for raw in cases if b"\n\r\n" in raw]


def test_fast_envelope_path_gives_the_same_envelope_as_the_email_parser() -> None:
    for raw in _fast_and_robust_cases():
        assert parse_envelope(raw) == envelope_mod.parse_envelope_robust(raw, len(raw)), raw[:300]


def test_typical_messages_do_not_need_the_email_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path covers plain, alternative, attachments, related and signed mail (the sync speed depends on it)."""
    calls: list[bytes] = []
    real = envelope_mod.body_summary
    monkeypatch.setattr(envelope_mod, "body_summary", lambda raw: calls.append(raw) or real(raw))
    typical = [_generated(i) for i in range(6)] + [STRUCTURES]
    typical += [fixture(n) for n in ("html_only.eml", "path_traversal.eml", "unknown_charset.eml", "nul_bytes.eml")]
    for raw in typical:
        parse_envelope(raw)
    assert calls == []
    parse_envelope(fixture("broken_boundary.eml"))  # only the email parser salvages this one
    assert len(calls) == 1


def test_snippet_and_line_shortcuts_match_the_plain_formulas() -> None:
    """sanitize_line and the snippet skip work for clean text; the result must be what the plain formulas give."""
    rng = random.Random(99)
    pieces = ["word", "Wörd", " ", "  ", "\n", "\r\n", "\r", "\t", "> ", "\n>", "\x0b", "\x0c", "\x1c", "\x1f", "\x85",
              "\xa0", "\u2028", "\u202e", "\u200b", "\x1b[31m", "\x1b]8;;x\x07", "\x9b", "\ud800", "日本", "\x00"]  # fmt: skip
    for _ in range(1000):
        text = "".join(rng.choice(pieces) for _ in range(rng.choice([1, 8, 60, 400, 2500])))
        assert mime.sanitize_line(text) == " ".join(mime.sanitize_text(text).split())
        assert envelope_mod.make_snippet(text) == mime.sanitize_line(envelope_mod.strip_quoted(text[:8000]))[:200]
