"""The reader's line preparation: cutting monster lines (still sanitized), quotes, wrapping by cells."""

from __future__ import annotations

from rich.cells import cell_len

from tui_mail.ui.widgets.reader_lines import MAX_LINE, Line, body_lines, wrap, wrap_lines


def test_a_long_line_is_cut_with_a_marker_and_stays_inert() -> None:
    body = "\x1b[31m" + "y" * 3_000_000 + "\nnext line\n> quoted\n>> deeper"
    lines = body_lines(body)
    assert [line.text for line in lines[1:]] == [
        "… [line cut: 3,000,005 characters]",
        "next line",
        "> quoted",
        ">> deeper",
    ]
    assert "\x1b" not in lines[0].text and len(lines[0].text) <= MAX_LINE
    assert [line.style for line in lines] == ["", "note", "", "quote", "quote2"]


def test_wrap_breaks_at_spaces_and_by_cells_for_wide_characters() -> None:
    assert wrap("one two three four", 9) == ["one two", "three", "four"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    wide = "漢字" * 20 + " tail"
    parts = wrap(wide, 10)
    assert all(cell_len(p) <= 10 for p in parts) and "".join(parts).replace(" ", "") == wide.replace(" ", "")


def test_a_labelled_line_wraps_under_its_text() -> None:
    out = wrap_lines([Line("a@x.org, b@x.org, c@x.org, d@x.org", "", "To:      ")], 30)
    assert out[0].label == "To:      " and all(line.label == " " * 9 for line in out[1:]) and len(out) > 1
