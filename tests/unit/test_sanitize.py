"""sanitize_text / sanitize_line: untrusted text becomes inert for a terminal, and markup stays literal."""

from __future__ import annotations

import pytest

from tui_mail.mime import sanitize_line, sanitize_text

ESC = "\x1b"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


def assert_inert(s: str) -> None:
    bad = [c for c in s if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c in BIDI]
    assert not bad, f"control characters survived: {bad!r} in {s!r}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{ESC}[31mred{ESC}[0m text", "red text"),
        (f"{ESC}[1;38;5;196mbold{ESC}[m", "bold"),
        (f"title {ESC}]0;pwned\x07 after", "title  after"),
        (f"{ESC}]8;;https://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\", "click"),
        (f"a{ESC}P1$r secret{ESC}\\b", "ab"),
        (f"x{ESC}(By", "xy"),
        (f"x{ESC}cy", "xy"),  # full terminal reset
        ("8-bit \x9b2J CSI", "8-bit  CSI"),
        ("8-bit \x9d0;title\x9c OSC", "8-bit  OSC"),
        ("nul\x00bell\x07bs\x08del\x7f", "nulbellbsdel"),
        ("c1 \x85 \x90 \x9f end", "c1    end"),
        ("line1\r\nline2\rline3", "line1\nline2line3"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("\u2066isolate\u2069 \u200fmark", "isolate mark"),
        ("\ufeffBOM at start", "BOM at start"),
        ("zero\u200bwidth", "zerowidth"),
        ("para\u2029sep", "para\nsep"),
        ("undecodable \udcff byte", "undecodable \ufffd byte"),
    ],
)
def test_sanitize_text_strips_controls_and_sequences(raw: str, expected: str) -> None:
    out = sanitize_text(raw)
    assert out == expected
    assert_inert(out)


@pytest.mark.parametrize(
    "text",
    ["[bold red]Admin[/]", "[link=http://evil]x[/link]", "\\[escaped]", "a [b] c", "Ünïcödé 日本語 👩‍💻 مرحبا"],
)
def test_markup_and_normal_unicode_are_left_alone(text: str) -> None:
    assert sanitize_text(text) == text


def test_unterminated_osc_is_cut_at_end_of_line_only() -> None:
    assert sanitize_text(f"before{ESC}]0;never ends\nnext line") == "before\nnext line"


def test_lone_escape_at_end_is_removed() -> None:
    assert sanitize_text(f"text{ESC}") == "text"


def test_sanitize_line_collapses_whitespace() -> None:
    assert sanitize_line("  Re:\r\n\tthe   subject \n") == "Re: the subject"
    assert sanitize_line(f"{ESC}[2Jhello\x00 [b]x[/b]") == "hello [b]x[/b]"


def test_all_code_points_below_256_and_bidi_range_are_inert() -> None:
    everything = "".join(chr(i) for i in range(256)) + BIDI + "".join(chr(i) for i in range(0x2060, 0x2070))
    out = sanitize_text(everything)
    assert_inert(out)
    assert "ABC" in out and "\n" in out and "\t" in out
    assert "\n" not in sanitize_line(everything) and "\t" not in sanitize_line(everything)
