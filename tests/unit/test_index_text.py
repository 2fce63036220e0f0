"""The index's text of a message: what the reader shows (HTML as words, quoted lines), attachment names, caps."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from tui_mail.mime import parse_envelope, render_message
from tui_mail.mime.indextext import INDEX_TEXT_CAP, html_index_text, index_text
from tui_mail.models import Role
from tui_mail.store import search_index
from tui_mail.store.cache import Cache, NewMessage

HEAD = b"From: A <a@example.com>\r\nTo: b@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def test_plain_body_with_quoted_lines_and_a_base64_latin1_part() -> None:
    raw = HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee below.\r\n\r\n> the quoted zebra line\r\n"
    text, names = index_text(raw)
    assert {"see", "below", "quoted", "zebra"} <= words(text) and names == ""
    msg = EmailMessage()
    msg["Subject"] = "latin"
    msg.set_content("Grüße aus Zürich", charset="iso-8859-1", cte="base64")
    assert "Zürich" in index_text(msg.as_bytes())[0]


def test_html_becomes_words_without_markup_scripts_or_styles() -> None:
    html = (
        "<html><head><title>t</title><style>.x{color:red}</style></head><body>"
        "<script>var secretScript = 1;</script><p>Caf&eacute; &amp; cr&egrave;me</p>"
        "<table><tr><td>alpha</td><td>beta</td></tr></table>"
        '<a href="https://tracker.example/path">click</a><img alt="logo text"></body></html>'
    )
    text = html_index_text(html)
    assert {"café", "crème", "alpha", "beta", "click", "logo"} <= words(text)
    assert "tracker.example" in text  # the reader shows link targets as footnotes: they are found too
    assert "secretscript" not in words(text) and "color" not in words(text) and "<" not in text


def test_the_alternative_the_reader_shows_is_the_one_indexed() -> None:
    msg = EmailMessage()
    msg["Subject"] = "alt"
    msg.set_content("plain words only")
    msg.add_alternative("<p>html words <b>only</b></p>", subtype="html")
    raw = msg.as_bytes()
    text = index_text(raw)[0]
    assert words(text) == words(render_message(raw).text)


@pytest.mark.parametrize(
    "disposition",
    [
        b'attachment; filename="report-q4.pdf"',
        b'attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="',
        b"attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf",
    ],
)
def test_attachment_file_names_in_every_encoding(disposition: bytes) -> None:
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHi.\r\n'
        b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: " + disposition + b"\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    )
    text, names = index_text(raw)
    assert "Hi." in text
    assert names == render_message(raw).attachments[0].filename
    assert names in ("report-q4.pdf", "résumé.pdf")


def test_a_big_message_is_capped_but_its_late_attachment_names_are_kept() -> None:
    big = b"word " * 400_000  # 2 MB of text
    raw = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
        + big
        + b"\r\n--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=late.zip\r\n\r\n"
        + b"x" * 1_000_000
        + b"\r\n--b--\r\n"
    )
    text, names = index_text(raw)
    assert len(text) == INDEX_TEXT_CAP
    assert names == "late.zip"


def test_what_the_fast_reader_cannot_read_goes_through_the_email_parser() -> None:
    # uuencoded text: only the email package decodes it
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 t.txt\r\n%:&5L;&\\*\r\n`\r\nend\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsecond part marmot\r\n--b--\r\n"
    )
    text, _ = index_text(raw)
    assert "marmot" in words(text)
    assert words(text) == words(render_message(raw).text)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 100,
        b"Subject: x\r\n",
        HEAD + b"Content-Type: multipart/mixed\r\n\r\nno boundary",
        b"\r\n\r\n",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    text, names = index_text(raw)
    assert isinstance(text, str) and isinstance(names, str)


def test_html_bodies_and_rfc2231_names_are_found_by_search(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "work.sqlite3")
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    html = HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>The <b>quarterly</b>&nbsp;numbers</p>"
    named = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHi.\r\n'
        b"--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''Lebenslauf%20M%C3%BCller.pdf\r\n\r\nJVBERi0xLjQK\r\n"
        b"--b--\r\n"
    )
    for raw in (html, named):
        cache.store_messages(inbox, [NewMessage(parse_envelope(raw), flags=frozenset(), raw=raw)])
    assert search_index.index_pending(cache) == 2
    assert cache.count(inbox, "quarterly numbers") == 1
    assert cache.count(inbox, "filename:muller") == 1  # diacritics folded, as everywhere
