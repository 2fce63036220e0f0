"""mime: one test message per defect class of issue 10 (spoofed senders, hidden attachments, header/body split,
folded boundaries, bodiless messages, impossible dates, decoding gaps, work done twice, outgoing header safety)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tui_mail.mime import (
    attachment_bytes,
    build_message,
    forward_draft,
    parse_addresses,
    parse_date,
    parse_envelope,
    recipients,
    render_message,
    reply_draft,
)
from tui_mail.mime import envelope as envelope_mod
from tui_mail.mime import parsed as parsed_mod
from tui_mail.mime.structure import SIGNATURE_TYPES

FIXTURES = Path(__file__).parent.parent / "fixtures"
sys.path.insert(0, str(FIXTURES))


def fixture(name: str) -> bytes:
    return (FIXTURES / "malformed" / name).read_bytes()


def agree(raw: bytes) -> None:
    """The list's envelope (fast path) equals the reference one, and its paperclip equals the reader's list."""
    env = parse_envelope(raw)
    assert env == envelope_mod.parse_envelope_robust(raw, len(raw))
    listed = [a for a in render_message(raw).attachments if a.content_type not in SIGNATURE_TYPES]
    assert env.has_attachments == bool(listed)


# --- 1. sender spoofing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("support@paypal.com <evil@attacker.example>", [("support@paypal.com", "evil@attacker.example")]),
        ("Name@Host <real@addr.example>", [("Name@Host", "real@addr.example")]),
        ("a@x.example b@y.example", [("a@x.example", "b@y.example")]),
        ('"Carol, Chen" <c@x.example>, d@y.example', [("Carol, Chen", "c@x.example"), ("", "d@y.example")]),
        ("a@b.example (Alice)", [("Alice", "a@b.example")]),
        ("Team: a@x.example, b@y.example;", [("", "a@x.example"), ("", "b@y.example")]),
        ("<bare@x.example>", [("", "bare@x.example")]),
        (
            "=?utf-8?q?support=40paypal=2Ecom?= <evil@attacker.example>",
            [("support@paypal.com", "evil@attacker.example")],
        ),
    ],
)
def test_the_address_in_angle_brackets_is_the_address_whatever_the_python_version(
    value: str, expected: list[tuple[str, str]]
) -> None:
    assert parse_addresses(value) == expected
    assert envelope_mod.parse_addresses_robust(value) == expected


def test_spoofed_sender_is_listed_by_its_real_address_and_the_reader_warns() -> None:
    raw = fixture("spoofed_sender.eml")
    env = parse_envelope(raw)
    assert (env.from_name, env.from_addr) == ("support@paypal.com", "evil@attacker.example")
    rendered = render_message(raw)
    assert rendered.headers["From"] == "support@paypal.com <evil@attacker.example>"  # one sender, not two
    assert "evil@attacker.example" in rendered.sender_warning and "support@paypal.com" in rendered.sender_warning
    assert rendered.notes[0] == rendered.sender_warning
    draft = reply_draft(raw, ["bob@example.org"])
    assert draft.to == ['"Billing@PayPal.com" <collect@attacker.example>']  # Reply-To: the real address only
    msg = build_message(from_addr="bob@example.org", to=draft.to, subject=draft.subject, body="no")
    assert recipients(msg) == ["collect@attacker.example"]
    agree(raw)


def test_no_comma_sender_takes_the_last_address_and_warns() -> None:
    raw = fixture("no_comma_sender.eml")
    env = parse_envelope(raw)
    assert (env.from_name, env.from_addr) == ("support@paypal.com", "evil@attacker.example")
    assert "evil@attacker.example" in render_message(raw).sender_warning
    agree(raw)


def test_an_honest_sender_gets_no_warning() -> None:
    raw = b"From: bob@example.org <bob@example.org>\r\nTo: x@example.com\r\n\r\nhi\r\n"
    assert render_message(raw).sender_warning == ""
    assert render_message(fixture("eight_bit_headers.eml")).sender_warning == ""


# --- 2. hidden attachments ----------------------------------------------------------------------------------------


def test_attachments_in_the_alternative_not_shown_are_listed_saved_and_forwarded() -> None:
    raw = fixture("apple_alternative.eml")
    rendered = render_message(raw)
    assert rendered.text == "Two photos attached."
    assert [(a.filename, a.content_type) for a in rendered.attachments] == [
        ("one.png", "image/png"),
        ("two.jpg", "image/jpeg"),
    ]
    assert attachment_bytes(raw, 0).startswith(b"\x89PNG")
    assert [name for name, _t, _d in forward_draft(raw).attachments] == ["one.png", "two.jpg"]
    assert parse_envelope(raw).has_attachments
    agree(raw)


def test_inline_resources_of_the_html_branch_not_shown_are_not_listed() -> None:
    raw = (
        b'From: a@example.com\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        b"--a\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
        b'--a\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
        b'--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:l">\r\n'
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <l>\r\n\r\nPNG\r\n--r--\r\n--a--\r\n"
    )
    assert render_message(raw).attachments == []
    assert not parse_envelope(raw).has_attachments
    agree(raw)


# --- 3. header lines shown as body --------------------------------------------------------------------------------


def test_headers_end_at_the_empty_line_for_the_reader_too() -> None:
    raw = fixture("obsolete_headers.eml")
    rendered = render_message(raw)
    assert rendered.text == "The real body."
    assert rendered.headers["Subject"] == "Obsolete syntax"
    env = parse_envelope(raw)
    assert env.from_addr == "alice@example.com" and env.snippet == "The real body."
    agree(raw)


def test_space_before_colon_in_from_is_read_and_not_shown_as_body() -> None:
    raw = b"From  : Alice <alice@example.com>\r\nX-Spam : yes\r\nSubject: s\r\n\r\nbody only\r\n"
    assert render_message(raw).text == "body only"
    assert parse_envelope(raw).from_addr == "alice@example.com"
    agree(raw)


# --- 4. folded boundary -------------------------------------------------------------------------------------------


def test_folded_boundary_is_unfolded_by_both_paths() -> None:
    raw = fixture("folded_boundary.eml")
    rendered = render_message(raw)
    assert rendered.text == "folded text"
    assert [a.filename for a in rendered.attachments] == ["f.pdf"]
    env = parse_envelope(raw)
    assert env.has_attachments and env.snippet == "folded text"
    agree(raw)


# --- 5. bodiless messages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tail", [b"", b"\r\n", b"\r\n\r\n   \r\n"])
def test_a_message_without_a_body_has_no_attachment(tail: bytes) -> None:
    raw = fixture("bodiless.eml") + tail
    assert render_message(raw).attachments == []
    assert not parse_envelope(raw).has_attachments
    agree(raw)


def test_multipart_mixed_without_body_has_no_attachment() -> None:
    raw = b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n'
    assert not parse_envelope(raw).has_attachments and render_message(raw).attachments == []


# --- 6. impossible dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 02 Nov 2026 59:10:00 +0000",
        "Mon, 02 Nov 2026 10:61:00 +0000",
        "Mon, 31 Feb 2026 10:00:00 +0000",
        "Mon, 02 Nov 2026 24:00:00 +0000",
        "Mon, 02 Nov 2026 10:00:00 +9900",
        "2 Nov 2026 59:10 GMT",
    ],
)
def test_out_of_range_date_fields_mean_no_usable_date(value: str) -> None:
    assert parse_date(value) == 0
    assert envelope_mod.parse_date_robust(value) == 0


def test_impossible_date_gives_an_envelope_without_date() -> None:
    raw = fixture("impossible_date.eml")
    assert parse_envelope(raw).date == 0
    assert parse_date("Tue, 3 Nov 2026 23:59:60 +0000") > 0  # a leap second is a real time
    agree(raw)


# --- 7. decoding gaps ---------------------------------------------------------------------------------------------


def test_empty_charset_mac_cyrillic_and_undeclared_cjk_subject_are_decoded() -> None:
    raw = fixture("decoding_gaps.eml")
    env = parse_envelope(raw)
    assert env.from_name == "René"
    assert env.to == "Привет <ivan@example.ru>"
    assert env.subject == "你好"  # raw GB2312, charset named only by the body
    assert render_message(raw).headers["Subject"] == "你好"
    assert render_message(raw).text == "你好"
    agree(raw)


# --- 8. work done twice -------------------------------------------------------------------------------------------


def test_reply_forward_and_save_reuse_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = fixture("apple_alternative.eml") + b"\r\n"  # a bytes object no earlier test parsed
    calls: list[int] = []
    real = parsed_mod.parse_bytes

    def counting(data: bytes) -> object:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr("tui_mail.mime.render.parse_bytes", counting)
    render_message(raw)
    forward_draft(raw)
    reply_draft(raw, [])
    attachment_bytes(raw, 1)
    assert len(calls) == 1


# --- outgoing mail ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", ["a@example.com\r\nBcc: x@evil.example"]),
        ("cc", ["Eve\n <e@example.com>"]),
        ("bcc", ["b@example.com\rX: y"]),
        ("subject", "hi\nBcc: x@evil.example"),
        ("from_name", "Me\r\nX-Injected: 1"),
    ],
)
def test_line_breaks_in_header_fields_are_refused_with_one_sentence(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"from_addr": "me@example.org", "to": ["a@example.com"], "subject": "s", "body": "b"}
    kwargs[field] = value
    with pytest.raises(ValueError, match=r"contains a line break") as e:
        build_message(**kwargs)  # type: ignore[arg-type]
    assert str(e.value).count(".") == 1 and "\n" not in str(e.value)


def test_bcc_never_reaches_the_bytes_and_hostile_threading_ids_are_cleaned() -> None:
    msg = build_message(
        from_addr="me@example.org",
        to=["a@example.com"],
        bcc=["hidden@example.com"],
        subject="s",
        body="b",
        in_reply_to="<ok@x.example>\r\nBcc: evil@x.example",
        references="<r1@x.example> junk\r\nX-Evil: 1 <r2@x.example> <bad\x00id@x>",
    )
    raw = msg.as_bytes()
    assert b"hidden@example.com" not in raw and b"Bcc" not in raw and b"X-Evil" not in raw
    assert msg["In-Reply-To"] == "<ok@x.example>"
    assert msg["References"] == "<r1@x.example> <r2@x.example>"
    assert recipients(msg, ["hidden@example.com"]) == ["a@example.com", "hidden@example.com"]


def test_reply_to_a_hostile_message_builds_a_clean_message() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: =?utf-8?q?hi=0D=0ABcc=3A_x=40evil=2Eexample?=\r\n"
        b"Message-ID: <m1@example.com>\r\nReferences: <r0@example.com> =?utf-8?q?=0D=0AX-Evil=3A_1?=\r\n\r\nbody\r\n"
    )
    draft = reply_draft(raw, [])
    assert "\n" not in draft.subject and "\r" not in draft.subject
    msg = build_message(
        from_addr="me@example.org",
        to=draft.to,
        subject=draft.subject,
        body=draft.body,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
    )
    out = msg.as_bytes()
    assert b"\r\nBcc" not in out and b"X-Evil" not in out
    assert msg["References"] == "<r0@example.com> <m1@example.com>"
