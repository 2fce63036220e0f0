"""Conversations in the list, pressed as a mutt/aerc user would: t threads, - and _ collapse, thread actions, sort,
n/N to the next search hit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from tests.ui.conftest import FIXED_NOW, Helpers, Mailbox, screen_text, settle
from tui_mail.mime import parse_envelope
from tui_mail.models import FLAGGED, SEEN, Role
from tui_mail.store.cache import NewMessage
from tui_mail.ui.screens.folder_picker import FolderPickerScreen, PickerScreen

SIZE = (120, 36)
H = 3600


def raw(subject: str, sender: str, hours_ago: int, msgid: str, parent: str = "", refs: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Me <me@example.com>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.fromtimestamp(FIXED_NOW - hours_ago * H, UTC))
    msg["Message-ID"] = f"<{msgid}@example.com>"
    if parent:
        msg["In-Reply-To"] = f"<{parent}@example.com>"
        msg["References"] = " ".join(f"<{r}@example.com>" for r in (refs or parent).split())
    msg.set_content(f"{subject} body\n")
    return msg.as_bytes()


# Newest thread first: Budget (latest 1h ago), Lunch (2h), Plan (3h).
MESSAGES = [
    raw("Plan", "Alice <alice@example.com>", 5, "plan"),
    raw("Re: Plan", "Bob <bob@example.com>", 4, "plan1", "plan"),
    raw("Re: Plan", "Alice <alice@example.com>", 3, "plan2", "plan1", "plan plan1"),
    raw("Lunch", "Zed <zed@example.com>", 2, "lunch"),
    raw("Budget", "Bob <bob@example.com>", 10, "budget"),
    raw("Re: Budget", "Carol <carol@example.com>", 1, "budget1", "budget"),
]
UNREAD = ("plan1", "lunch", "budget1")


def threaded_mailbox(tmp_path: Path, ui: Helpers, **ui_changes: object) -> Mailbox:
    box = ui.build_mailbox(tmp_path, MESSAGES, seen=True)
    cache = box.manager.cache("test")
    with cache.transaction() as c:
        for mid in UNREAD:
            c.execute("UPDATE messages SET seen=0, flags='' WHERE message_id=?", (f"<{mid}@example.com>",))
    changes = {"threads": True, **ui_changes}
    config = replace(box.config, ui=replace(box.config.ui, **changes))  # type: ignore[arg-type]
    return Mailbox(config, box.manager, box.data_dir)


def subjects(app) -> list[str]:  # type: ignore[no-untyped-def]
    ml = app.message_list
    return [ml.row(i).subject for i in range(ml.row_count)]


def said(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


def by_msgid(box: Mailbox, mid: str):  # type: ignore[no-untyped-def]
    cache = box.manager.cache("test")
    row_id = cache.conn.execute("SELECT id FROM messages WHERE message_id=?", (f"<{mid}@example.com>",)).fetchone()[0]
    return cache.message(row_id)


async def test_t_toggles_threads_and_v_tags(tmp_path: Path, ui: Helpers) -> None:
    box = ui.build_mailbox(tmp_path, MESSAGES)  # threads off in this config
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert subjects(app)[:3] == ["Re: Budget", "Lunch", "Re: Plan"]  # flat: newest first
        assert "↳" not in screen_text(app)
        await pilot.press("t")
        await settle(app, pilot)
        assert app.threaded
        assert subjects(app) == ["Budget", "Re: Budget", "Lunch", "Plan", "Re: Plan", "Re: Plan"]
        assert "↳ Re: Budget" in screen_text(app)
        assert not app.message_list.tagged  # t no longer tags
        await pilot.press("v")
        assert len(app.message_list.tagged) == 1
        await pilot.press("escape", "t")
        await settle(app, pilot)
        assert not app.threaded and "↳" not in screen_text(app)
        await pilot.press("question_mark")  # the help screen lists the new keys with their ids
        await settle(app, pilot)
        rows = {(k, d, i) for k, d, i in app.screen.rows}  # type: ignore[attr-defined]
        for row in [
            ("t", "Threads on/off", "list.threads"),
            ("v", "Tag", "tag.toggle"),
            ("-", "Collapse/expand thread", "thread.fold"),
            ("_", "Collapse/expand all threads", "thread.fold-all"),
            ("^r", "Mark thread read", "thread.read"),
            ("n", "Next search hit", "search.next"),
            ("o", "Sort by…", "list.sort"),
        ]:
            assert row in rows, row


async def test_collapse_one_thread_and_all_keeps_the_cursor_on_the_thread(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        ml = app.message_list
        assert ml.row_count == 6
        await pilot.press("end", "k")  # the middle message of the Plan thread
        plan_thread = ml.current_row.thread_id  # type: ignore[union-attr]
        await pilot.press("minus")
        await settle(app, pilot)
        assert ml.row_count == 4
        row = ml.current_row
        assert row is not None and row.thread_id == plan_thread and row.message_id == "<plan2@example.com>"
        assert "[3, 1 unread] Re: Plan" in screen_text(app)
        await pilot.press("minus")  # expand it again: the cursor stays on the thread
        await settle(app, pilot)
        assert ml.row_count == 6 and ml.current_row.thread_id == plan_thread  # type: ignore[union-attr]
        await pilot.press("underscore")  # every thread collapsed
        await settle(app, pilot)
        assert subjects(app) == ["Re: Budget", "Lunch", "Re: Plan"]
        assert ml.current_row.thread_id == plan_thread  # type: ignore[union-attr]
        text = screen_text(app)
        assert "[2, 1 unread] Re: Budget" in text and "[3, 1 unread] Re: Plan" in text and "] Lunch" not in text
        await pilot.press("home", "minus")  # one thread open among collapsed ones
        await settle(app, pilot)
        assert subjects(app) == ["Budget", "Re: Budget", "Lunch", "Re: Plan"]
        await pilot.press("underscore")
        await settle(app, pilot)
        assert ml.row_count == 6


async def test_new_mail_in_a_collapsed_thread_updates_its_counts(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    cache = box.manager.cache("test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("underscore", "end")  # the cursor on the collapsed Plan thread (third row)
        await settle(app, pilot)
        assert "[3, 1 unread] Re: Plan" in screen_text(app)
        plan_thread = app.message_list.current_row.thread_id  # type: ignore[union-attr]
        new = raw("Re: Plan", "Dan <dan@example.com>", 0, "plan3", "plan2", "plan plan1 plan2")
        inbox = cache.folder_by_role(Role.INBOX)
        assert inbox is not None
        cache.store_messages(inbox.id, [NewMessage(parse_envelope(new), uid=99, raw=new)], uidvalidity=1, last_uid=99)
        app.message_list.reload()  # what a sync's progress message does
        await settle(app, pilot)
        assert subjects(app) == ["Re: Plan", "Re: Budget", "Lunch"]  # the thread moved up: its newest is new
        assert "[4, 2 unread] Re: Plan" in screen_text(app)
        assert app.message_list.row(0).from_name == "Dan"  # type: ignore[union-attr]
        assert app.message_list.cursor == 0 and app.message_list.current_row.thread_id == plan_thread  # type: ignore[union-attr]


async def test_thread_actions_read_delete_move_and_undo(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    cache = box.manager.cache("test")
    trash, archive = cache.folder_by_role(Role.TRASH), cache.folder_by_role(Role.ARCHIVE)
    assert trash is not None and archive is not None
    plan = [f"<{m}@example.com>" for m in ("plan", "plan1", "plan2")]

    def folders_of(ids: list[str]) -> set[int]:
        marks = ",".join("?" * len(ids))
        return {r[0] for r in cache.conn.execute(f"SELECT folder_id FROM messages WHERE message_id IN ({marks})", ids)}

    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("end")  # in the Plan thread
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert all(by_msgid(box, m).seen for m in ("plan", "plan1", "plan2"))
        assert not by_msgid(box, "lunch").seen  # other threads untouched
        await pilot.press("ctrl+d")
        await settle(app, pilot)
        assert folders_of(plan) == {trash.id}
        assert app.message_list.row_count == 3
        await pilot.press("U")  # one undo brings the whole thread back
        await settle(app, pilot)
        app.message_list.reload()
        assert folders_of(plan) != {trash.id} and trash.id not in folders_of(plan)
        await pilot.press("home", "M")
        await settle(app, pilot)
        assert isinstance(app.screen, FolderPickerScreen) and "Move the thread (2 messages)" in screen_text(app)
        await pilot.press(*"Archive", "enter")
        await settle(app, pilot)
        assert folders_of(["<budget@example.com>", "<budget1@example.com>"]) == {archive.id}
        assert cache.pending_count() >= 3  # queued for the server like any move


async def test_keys_on_a_collapsed_thread_act_on_the_whole_thread(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    cache = box.manager.cache("test")
    trash = cache.folder_by_role(Role.TRASH)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("underscore")
        await settle(app, pilot)
        await pilot.press("s")  # flag the Budget thread
        await settle(app, pilot)
        assert FLAGGED in by_msgid(box, "budget").flags and FLAGGED in by_msgid(box, "budget1").flags
        await pilot.press("u")  # one unread in it: u marks it all read
        await settle(app, pilot)
        assert SEEN in by_msgid(box, "budget").flags and SEEN in by_msgid(box, "budget1").flags
        await pilot.press("d")
        await settle(app, pilot)
        assert trash is not None
        assert by_msgid(box, "budget").folder_id == trash.id and by_msgid(box, "budget1").folder_id == trash.id
        assert subjects(app) == ["Lunch", "Re: Plan"]
        await pilot.press("end", "v")  # tagging a collapsed thread tags all of it
        assert len(app.message_list.tagged) == 3
        await pilot.press("escape", "home")
        await pilot.press("d")  # a one-message "thread" deletes just that message
        await settle(app, pilot)
        assert by_msgid(box, "lunch").folder_id == trash.id and by_msgid(box, "plan").folder_id != trash.id


async def test_sort_by_sender_subject_size_and_reverse(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui, threads=False)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, PickerScreen) and "by sender" in screen_text(app)
        await pilot.press("j", "enter")  # by sender
        await settle(app, pilot)
        ml = app.message_list
        senders = [ml.row(i).from_name for i in range(ml.row_count)]  # type: ignore[union-attr]
        assert senders == ["Alice", "Alice", "Bob", "Bob", "Carol", "Zed"]
        assert ml.row(0).subject == "Re: Plan"  # same sender: newest first  # type: ignore[union-attr]
        await pilot.press("O")
        await settle(app, pilot)
        assert [ml.row(i).from_name for i in range(3)] == ["Zed", "Carol", "Bob"]  # type: ignore[union-attr]
        await pilot.press("t")  # threaded: threads ordered by their newest message's sender, Z to A
        await settle(app, pilot)
        assert subjects(app) == ["Lunch", "Budget", "Re: Budget", "Plan", "Re: Plan", "Re: Plan"]
        app.set_sort("subject", False)
        await settle(app, pilot)
        assert subjects(app) == ["Budget", "Re: Budget", "Lunch", "Plan", "Re: Plan", "Re: Plan"]
        app.set_sort("date", True)  # oldest thread first, tree order inside
        await settle(app, pilot)
        assert subjects(app) == ["Plan", "Re: Plan", "Re: Plan", "Lunch", "Budget", "Re: Budget"]


async def test_sort_from_config(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui, threads=False, sort="subject")
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert subjects(app)[:2] == ["Re: Budget", "Budget"] or subjects(app)[:2] == ["Budget", "Re: Budget"]
        assert subjects(app)[2] == "Lunch"


async def test_n_and_N_jump_to_the_next_and_previous_hit(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        ml = app.message_list
        await pilot.press("n")
        await settle(app, pilot)
        assert any("No search yet" in m for m in said(app))
        await pilot.press("slash", *"from:alice", "enter")
        await settle(app, pilot)
        assert ml.row_count == 2
        await pilot.press("escape")  # back to the folder, the cursor where it was
        await settle(app, pilot)
        assert ml.row_count == 6 and ml.cursor == 0
        await pilot.press("n")
        await settle(app, pilot)
        assert ml.current_row.message_id == "<plan@example.com>"  # type: ignore[union-attr]
        await pilot.press("n")
        await settle(app, pilot)
        assert ml.current_row.message_id == "<plan2@example.com>"  # type: ignore[union-attr]
        await pilot.press("n")  # past the last hit: back to the first, and said so
        await settle(app, pilot)
        assert ml.current_row.message_id == "<plan@example.com>"  # type: ignore[union-attr]
        assert "Search wrapped around." in said(app)
        await pilot.press("N")
        await settle(app, pilot)
        assert ml.current_row.message_id == "<plan2@example.com>"  # type: ignore[union-attr]
        await pilot.press("underscore", "home", "n")  # a hit inside a collapsed thread opens that thread
        await settle(app, pilot)
        assert ml.current_row.message_id == "<plan@example.com>"  # type: ignore[union-attr]
        assert subjects(app) == ["Re: Budget", "Lunch", "Plan", "Re: Plan", "Re: Plan"]


async def test_mutt_preset_keeps_t_for_tagging_and_N_for_read(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui, keys="mutt")
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        assert len(app.message_list.tagged) == 1 and app.threaded
        await pilot.press("escape", "ctrl+t")
        await settle(app, pilot)
        assert not app.threaded
        row = app.message_list.current_row
        assert row is not None and not row.seen
        await pilot.press("N")
        await settle(app, pilot)
        assert by_msgid(box, "budget1").seen
        await pilot.press("slash", *"from:alice", "enter", "escape", "n")
        await settle(app, pilot)
        assert app.message_list.current_row.from_name == "Alice"  # type: ignore[union-attr]
        first = app.message_list.cursor
        await pilot.press("alt+n")
        await settle(app, pilot)
        assert app.message_list.cursor != first and app.message_list.current_row.from_name == "Alice"  # type: ignore[union-attr]


async def test_command_palette_has_the_thread_and_sort_entries(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+k", *"Sort by sender")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.sort_key == "sender"
        await pilot.press("ctrl+k", *"Collapse/expand all threads")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert subjects(app) == ["Re: Plan", "Re: Budget", "Lunch"]  # by the newest message's sender: Alice, Carol, Zed


async def test_move_a_thread_from_the_reader_then_undo_it(tmp_path: Path, ui: Helpers) -> None:
    from tui_mail.ui.screens.reader_screen import ReaderScreen

    box = threaded_mailbox(tmp_path, ui)
    app = box.app()
    cache = box.manager.cache("test")
    inbox, archive = cache.folder_by_role(Role.INBOX), cache.folder_by_role(Role.ARCHIVE)
    assert inbox is not None and archive is not None
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("end", "enter")  # read the last reply of the Plan thread
        await settle(app, pilot)
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("M")
        await settle(app, pilot)
        assert "Move the thread (3 messages)" in screen_text(app)
        await pilot.press(*"Archive", "enter")
        await settle(app, pilot)
        assert app.screen is app.main_screen  # the reader closes: its message moved away
        assert {by_msgid(box, m).folder_id for m in ("plan", "plan1", "plan2")} == {archive.id}
        await pilot.press("U")  # one undo: the whole thread is back
        await settle(app, pilot)
        assert {by_msgid(box, m).folder_id for m in ("plan", "plan1", "plan2")} == {inbox.id}
        assert any("Cancelled 3 changes" in m for m in said(app))


async def test_sort_by_sender_pages_from_an_order_made_off_the_ui_thread(tmp_path: Path, ui: Helpers) -> None:
    """Sorting by sender/subject/size orders the folder once in a worker: scrolling, new mail and moving the cursor
    never re-sort the folder on the UI thread, and the cursor stays on its message through a sort and new mail."""
    import threading

    box = threaded_mailbox(tmp_path, ui, threads=False)
    app = box.app()
    cache = box.manager.cache("test")
    on_ui: list[str] = []
    real_window, real_position = cache.window, cache.position

    def window(*args, **kwargs):  # type: ignore[no-untyped-def]
        order = kwargs.get("order")
        if order is not None and order.sort != "date" and threading.current_thread() is threading.main_thread():
            on_ui.append("window")
        return real_window(*args, **kwargs)

    def position(*args, **kwargs):  # type: ignore[no-untyped-def]
        order = kwargs.get("order")
        if order is not None and order.sort != "date" and threading.current_thread() is threading.main_thread():
            on_ui.append("position")
        return real_position(*args, **kwargs)

    cache.window, cache.position = window, position  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        ml = app.message_list
        await pilot.press("j")  # on Lunch (Zed)
        assert ml.current_row.subject == "Lunch"  # type: ignore[union-attr]
        await pilot.press("o", "j", "enter")  # by sender
        await settle(app, pilot)
        senders = [ml.row(i).from_name for i in range(ml.row_count)]  # type: ignore[union-attr]
        assert senders == ["Alice", "Alice", "Bob", "Bob", "Carol", "Zed"]
        assert ml.current_row.subject == "Lunch" and ml.cursor == 5  # type: ignore[union-attr]
        await pilot.press("k")  # on Carol's
        new = raw("Hello", "Aaron <aaron@example.com>", 0, "hello")
        inbox = cache.folder_by_role(Role.INBOX)
        assert inbox is not None
        cache.store_messages(inbox.id, [NewMessage(parse_envelope(new), uid=99, raw=new)], uidvalidity=1, last_uid=99)
        ml.reload()  # what a sync's progress message does
        await settle(app, pilot)
        assert ml.row(0).from_name == "Aaron" and ml.row_count == 7  # type: ignore[union-attr]
        assert ml.current_row.from_name == "Carol" and ml.cursor == 5  # type: ignore[union-attr]
        await pilot.press("G", "g", "g", "O")  # scroll and reverse
        await settle(app, pilot)
        assert [ml.row(i).from_name for i in range(2)] == ["Zed", "Carol"]  # type: ignore[union-attr]
        assert "Sorting" not in screen_text(app)
    assert on_ui == []


async def test_status_line_shows_the_sort_and_thread_mode_when_not_the_default(tmp_path: Path, ui: Helpers) -> None:
    box = threaded_mailbox(tmp_path, ui)  # the default: threads, by date, newest first
    app = box.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        status = lambda: str(app.status.render())  # noqa: E731
        assert "↓" not in status() and "threads" not in status()
        await pilot.press("o", "j", "enter")  # by sender
        await settle(app, pilot)
        assert "Inbox · sender↓ · threads ·" in status()
        await pilot.press("O", "t")
        await settle(app, pilot)
        assert "Inbox · sender↑ · flat ·" in status()
        await pilot.press("O", "o", "enter")  # back to by date, newest first: flat is still said
        await settle(app, pilot)
        assert "Inbox · date↓ · flat ·" in status()
        await pilot.press("t")
        await settle(app, pilot)
        assert "↓" not in status() and "flat" not in status()
