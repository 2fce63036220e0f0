"""mutt/aerc habits: reader navigation, headers and source, tagging, go-to-folder, keymap, palette, small terminals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, TextArea

from tests.ui.conftest import settle
from tui_mail.config import Config
from tui_mail.models import FLAGGED, SEEN, Role
from tui_mail.ui.app import MailApp
from tui_mail.ui.screens.compose import ComposeScreen
from tui_mail.ui.screens.folder_picker import FolderPickerScreen
from tui_mail.ui.screens.help import HelpScreen
from tui_mail.ui.screens.reader_screen import ReaderScreen

if TYPE_CHECKING:
    from conftest import Mailbox

SIZE = (120, 40)


def screen_text(app: MailApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app: MailApp) -> str:
    return " ".join(n.message for n in app._notifications)


def with_config(demo: Mailbox, **changes: object) -> MailApp:
    ui = replace(demo.config.ui, **{k: v for k, v in changes.items() if k in ("keys",)})  # type: ignore[arg-type]
    config = Config(
        path=None,
        accounts=demo.config.accounts,
        ui=ui,
        keymap=changes.get("keymap", {}),  # type: ignore[arg-type]
    )
    return MailApp(config, demo.manager, sync_on_start=False, show_clock=False, preview_delay=0, cursor_blink=False)


# -- the reader ------------------------------------------------------------------------------------------------------


async def test_reader_j_k_go_to_next_and_previous_message(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        first = app.message_list.row(0)
        second = app.message_list.row(1)
        assert first is not None and second is not None
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("j")
        await settle(app, pilot)
        assert app.screen.row.id == second.id
        assert f"Subject: {second.subject}" in screen_text(app)
        assert SEEN in (demo.manager.cache("work").message(second.id).flags)  # type: ignore[union-attr]
        await pilot.press("K")
        await settle(app, pilot)
        assert app.screen.row.id == first.id
        assert app.message_list.cursor == 0  # the list follows: back in the list, the cursor is on it
        await pilot.press("k")
        await settle(app, pilot)
        assert app.screen.row.id == first.id
        assert "No previous message." in notifications(app)


async def test_reader_space_pages_then_moves_to_the_next_unread(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=(120, 12)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # Terminal Weekly: longer than the 12-line screen
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        first = app.screen.row
        reader = app.screen.reader
        await pilot.press("space")
        assert app.screen.row.id == first.id and reader.scroll_offset.y > 0  # paged
        for _ in range(20):
            if reader.at_end:
                break
            await pilot.press("space")
        assert app.screen.row.id == first.id
        await pilot.press("space")  # at the end: the next unread message
        await settle(app, pilot)
        row = app.screen.row
        assert row.id != first.id and row.subject == "Retro notes"


async def test_h_shows_every_header_and_e_the_raw_source(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Message-ID:" not in screen_text(app)
        await pilot.press("h")
        await settle(app, pilot)
        assert "Message-ID:" in screen_text(app)
        await pilot.press("h")
        await settle(app, pilot)
        assert "Message-ID:" not in screen_text(app)
        await pilot.press("e")
        await settle(app, pilot)
        text = screen_text(app)
        assert "Raw source" in text and "Content-Type:" in text
        await pilot.press("v")
        await settle(app, pilot)
        assert "Raw source" not in screen_text(app)


async def test_html_links_show_their_targets(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # the Terminal Weekly newsletter is HTML with links
        await settle(app, pilot)
        await pilot.press("end")
        assert "[1] https://" in screen_text(app)


# -- tagging ---------------------------------------------------------------------------------------------------------


async def test_tag_two_messages_and_delete_both(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    assert trash is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        a, b, c = (app.message_list.row(i) for i in range(3))
        assert a and b and c
        await pilot.press("v", "v")  # tag the first two (the cursor moves down after each)
        assert app.message_list.tagged == {a.id, b.id}
        assert screen_text(app).count("*") >= 2
        await pilot.press("d")
        await settle(app, pilot)
        assert cache.message(a.id).folder_id == trash.id  # type: ignore[union-attr]
        assert cache.message(b.id).folder_id == trash.id  # type: ignore[union-attr]
        assert cache.message(c.id).folder_id != trash.id  # type: ignore[union-attr]
        assert not app.message_list.tagged


async def test_tag_a_range_then_flag_and_mark_read(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        ids = [app.message_list.row(i).id for i in range(4)]  # type: ignore[union-attr]
        await pilot.press("v", "j", "j", "V")  # tag row 0, then rows 0..3 as a range
        assert app.message_list.tagged == set(ids)
        await pilot.press("s")
        await settle(app, pilot)
        assert all(FLAGGED in cache.message(i).flags for i in ids)  # type: ignore[union-attr]
        await pilot.press("v", "V")
        await pilot.press("home", "v", "end", "k")
        # Escape clears the tags (and never quits).
        await pilot.press("escape")
        assert not app.message_list.tagged and app.is_running


async def test_tag_all_matching_the_filter_then_move(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    archive = cache.folder_by_role(Role.ARCHIVE)
    assert archive is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"Pipeline", "enter")
        await settle(app, pilot)
        matching = {app.message_list.row(i).id for i in range(app.message_list.row_count)}  # type: ignore[union-attr]
        assert len(matching) >= 2
        await pilot.press("T")
        assert app.message_list.tagged == matching
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen)
        await pilot.press(*"pro")  # "Projects/tui-mail": p is a key of the main view, typed here all the same
        assert app.screen.filter_input.value == "pro"
        await pilot.press("backspace", "backspace", "backspace", *"arch", "enter")
        await settle(app, pilot)
        assert {cache.message(i).folder_id for i in matching} == {archive.id}  # type: ignore[union-attr]
        assert not app.message_list.tagged


# -- folders, pickers ------------------------------------------------------------------------------------------------


async def test_go_to_a_folder_by_typing_its_name(demo: Mailbox) -> None:
    app = demo.app()
    cache = demo.manager.cache("work")
    archive = cache.folder_by_role(Role.ARCHIVE)
    assert archive is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("C")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen)
        assert "Go to folder" in screen_text(app)
        await pilot.press(*"arc")
        assert isinstance(app.focused, Input) and app.focused.value == "arc"
        assert app.screen.option_list.option_count == 1
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.message_list.source is not None and app.message_list.source.folder_id == archive.id
        assert "work · Archive" in screen_text(app)


async def test_j_and_k_move_in_the_picker(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("C")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen)
        ol = app.screen.option_list
        assert ol.highlighted == 0
        await pilot.press("j", "j", "k")
        assert ol.highlighted == 1
        await pilot.press("q")
        await settle(app, pilot)
        assert app.screen is app.main_screen


async def test_folders_under_a_parent_that_holds_no_mail_show_their_parent_path(demo: Mailbox) -> None:
    cache = demo.manager.cache("work")
    cache.ensure_folder("Lists/rust", "/")
    cache.ensure_folder("Lists/python", "/")
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        lines = [line.split("▕")[0].rstrip() for line in screen_text(app).splitlines()]
        at = next(i for i, line in enumerate(lines) if line.strip() == "Lists")
        assert lines[at + 1].strip() == "python" and lines[at + 2].strip() == "rust"
        assert len(lines[at + 1]) - len(lines[at + 1].lstrip()) > len(lines[at]) - len(lines[at].lstrip())


# -- keymap, help, palette -------------------------------------------------------------------------------------------


async def test_readme_keymap_example_works_as_written(demo: Mailbox) -> None:
    app = with_config(demo, keymap={"reply": "r", "delete": "x,delete"})
    cache = demo.manager.cache("work")
    trash = cache.folder_by_role(Role.TRASH)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None and trash is not None
        await pilot.press("x")
        await settle(app, pilot)
        assert cache.message(row.id).folder_id == trash.id  # type: ignore[union-attr]
        assert not notifications(app)


async def test_an_unknown_keymap_id_is_one_sentence_naming_it(demo: Mailbox) -> None:
    app = with_config(demo, keymap={"mail.frobnicate": "z"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "[keymap] 'mail.frobnicate' is not a binding id; press ? to see the ids." in notifications(app)
        assert "Traceback" not in screen_text(app)


async def test_help_shows_binding_ids_and_scrolls_with_j_k_at_80x24(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "list.down" in text and "Id ([keymap])" in text
        assert ("Reply", "mail.reply") in {(d, i) for _k, d, i in app.screen.rows}
        await pilot.press("j", "j", "j")
        assert "list.down" not in screen_text(app) or "list.up" not in screen_text(app)
        await pilot.press("k", "k", "k")
        assert "list.up" in screen_text(app)
        await pilot.press("q")
        assert app.screen is app.main_screen


async def test_ctrl_k_opens_the_command_palette(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+k")
        await settle(app, pilot)
        assert CommandPalette.is_open(app)


async def test_mutt_preset(demo: Mailbox) -> None:
    app = with_config(demo, keys="mutt")
    cache = demo.manager.cache("work")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = app.message_list.current_row
        assert row is not None and not row.flagged and not row.seen
        await pilot.press("F")
        await settle(app, pilot)
        assert FLAGGED in cache.message(row.id).flags  # type: ignore[union-attr]
        await pilot.press("N")
        await settle(app, pilot)
        assert SEEN in cache.message(row.id).flags  # type: ignore[union-attr]
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen) and "Move to folder" in screen_text(app)
        await pilot.press("escape", "c")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen) and "Go to folder" in screen_text(app)
        await pilot.press("escape", "m")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)


# -- small terminals -------------------------------------------------------------------------------------------------


async def test_80x24_hides_the_folder_pane_and_b_toggles_it(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not app.folder_pane.display
        text = screen_text(app)
        assert "Terminal Weekly #142: Line API, IMAP4rev2, WAL" in text  # the subject gets the room
        footer = text.splitlines()[-1]
        assert "q Quit" in footer and "? Help" in footer
        await pilot.press("b")
        await settle(app, pilot)
        assert app.folder_pane.display
        await pilot.press("b")
        assert not app.folder_pane.display
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.folder_pane.display


async def test_compose_at_50x15_keeps_five_body_lines_and_the_keys_that_matter(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=(50, 15)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        body = app.screen.query_one("#compose-body", TextArea)
        assert body.content_region.height >= 5
        footer = screen_text(app).splitlines()[-1]
        assert "^s Send" in footer and "esc Close" in footer


# -- attachments: openers and save-as --------------------------------------------------------------------------------


def test_find_opener_prefers_the_config_then_mailcap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui_mail.ui.openers import find_opener

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".mailcap").write_text(
        "image/png; w3m %s; needsterminal\nimage/*; sh -c 'view \"$0\"' %s\napplication/pdf; zathura %s\n"
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("sh", "zathura"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    f = tmp_path / "a b.pdf"
    assert find_opener("application/pdf", f, {"application/pdf": "evince --fullscreen"}) == [
        "evince",
        "--fullscreen",
        str(f),
    ]
    assert find_opener("application/pdf", f, {}) == ["zathura", str(f)]
    assert find_opener("image/png", f, {}) == ["sh", "-c", 'view "$0"', str(f)]  # needsterminal is skipped
    assert find_opener("video/mp4", f, {"*": "mpv %s"}) == ["mpv", str(f)]
    assert find_opener("video/mp4", f, {}) is None  # no xdg-open on this PATH


async def test_open_uses_the_openers_table_and_says_when_none_exists(
    demo: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_mail.ui.attachments as attachments

    started: list[list[str]] = []
    monkeypatch.setattr(attachments, "run_opener", started.append)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    config = Config(path=None, accounts=demo.config.accounts, ui=demo.config.ui, openers={"text/*": "viewer"})
    for openers, expect_started in (({"text/*": "viewer"}, True), ({}, False)):
        config = replace(config, openers=openers)
        app = MailApp(config, demo.manager, sync_on_start=False, show_clock=False, preview_delay=0, cursor_blink=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("slash", *"budget", "enter", "enter")
            await settle(app, pilot)
            await pilot.press("o")
            await settle(app, pilot)
            if expect_started:
                assert started and started[-1][0] == "viewer" and Path(started[-1][1]).exists()
                assert "Opened" in notifications(app) and "with viewer" in notifications(app)
            else:
                assert len(started) == 1
                assert "No program here opens text/csv files" in notifications(app)
                assert "[openers]" in notifications(app)


async def test_save_as_a_new_file_name(demo: Mailbox, tmp_path: Path) -> None:
    app = demo.app(opener=lambda p: None)
    target = tmp_path / "out"
    target.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"budget", "enter", "enter")
        await settle(app, pilot)
        await pilot.press("S")
        await settle(app, pilot)
        box = app.screen.query_one(Input)
        assert box.value.endswith(".xlsx") or "." in Path(box.value).name  # the attachment's own name by default
        box.value = str(target / "budget-2026.bin")
        await pilot.press("enter")
        await settle(app, pilot)
        assert [p.name for p in target.iterdir()] == ["budget-2026.bin"]
        assert f"Saved {target / 'budget-2026.bin'}." in notifications(app)


def test_the_readme_config_example_parses_and_its_keymap_names_real_bindings() -> None:
    import tomllib

    from tui_mail.config import parse_config
    from tui_mail.ui.keymap import known_ids, resolve

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_config(tomllib.loads(block))
    assert config.keymap and config.openers["application/pdf"] == "zathura %s"
    keymap, unknown = resolve(config.ui.keys, config.keymap, known_ids())
    assert unknown == []
    assert keymap["mail.reply"] == "r" and keymap["mail.delete"] == "d,delete" and keymap["reader.source"] == "e,v"
