"""A search's result count is refreshed in a worker: keys act at once while a slow count runs, and its answer
neither moves the cursor the user moved nor overwrites a newer one."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from tests.ui.conftest import screen_text, settle
from tui_mail.models import Role
from tui_mail.store.cache import Cache
from tui_mail.ui.app import MailApp

if TYPE_CHECKING:
    from tests.ui.conftest import Mailbox

SIZE = (120, 40)


class SlowCounts:
    """From install() on, every count of a search (of one query, when given) waits for release() and records the
    thread it ran on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, only: str | None = None) -> None:
        self.monkeypatch = monkeypatch
        self.only = only
        self.gate = threading.Event()
        self.threads: list[threading.Thread] = []

    def install(self) -> None:
        real = Cache.count

        def count(cache: Cache, folder_id: int | None, query: str = "", include: Sequence[int] = (), **kw: Any) -> int:
            if query and self.only in (None, query):
                self.threads.append(threading.current_thread())
                self.gate.wait(timeout=60)  # a count on the UI thread would freeze the app until then
            return real(cache, folder_id, query, include, **kw)

        self.monkeypatch.setattr(Cache, "count", count)

    def release(self) -> None:
        self.gate.set()


async def wait_until(app: MailApp, pilot: object, done: object) -> None:
    """Let the app run (no sleeping) until done() is true."""
    for _ in range(2000):
        if done():  # type: ignore[operator]
            return
        await pilot.pause()  # type: ignore[attr-defined]
    raise AssertionError("the app never got there")


async def test_keys_act_while_a_search_is_recounted_after_marking_read(
    demo: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = demo.manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    unread = cache.count(inbox.id, "is:unread")
    assert unread >= 3
    slow = SlowCounts(monkeypatch)
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"is:unread", "enter")
        await settle(app, pilot)
        ml = app.message_list
        assert ml.row_count == unread
        first = ml.current_row
        assert first is not None and not first.seen
        slow.install()
        await pilot.press("u")  # read now: it leaves the search's results once they are counted again
        await wait_until(app, pilot, lambda: slow.threads)
        assert ml.recounting
        assert threading.main_thread() not in slow.threads
        # The count is still running: keys move the cursor, and the rows on screen are read again already.
        await pilot.press("j")
        assert ml.cursor == 1
        assert all(ml.row(i) is not None and ml.row(i).id != first.id for i in range(unread - 1))  # type: ignore[union-attr]
        slow.release()
        await settle(app, pilot)
        assert not ml.recounting
        assert ml.row_count == unread - 1
        assert ml.cursor == 1  # the late answer did not move the cursor back
        assert cache.message(first.id).seen  # type: ignore[union-attr]


async def test_a_stale_count_never_overwrites_a_newer_search(demo: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = demo.manager.cache("work")
    inbox = cache.folder_by_role(Role.INBOX)
    assert inbox is not None
    read = cache.count(inbox.id, "is:read")
    unread = cache.count(inbox.id, "is:unread")
    assert read != unread
    slow = SlowCounts(monkeypatch, only="is:unread")
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"is:unread", "enter")
        await settle(app, pilot)
        ml = app.message_list
        slow.install()
        ml.reload()  # e.g. new mail arrived: the is:unread count is in flight...
        await wait_until(app, pilot, lambda: slow.threads)
        await pilot.press("slash", "ctrl+u", *"is:read", "enter")  # ...when the user searches for something else
        await wait_until(app, pilot, lambda: ml.row_count == read and not ml.recounting)
        slow.release()  # the old answer arrives last
        await settle(app, pilot)
        assert ml.source is not None and ml.source.query == "is:read"
        assert ml.row_count == read


async def test_a_large_backlog_is_indexed_in_the_background_with_progress(
    demo: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_mail.store import search_index
    from tui_mail.ui import background

    cache = demo.manager.cache("work")
    search_index.rebuild(cache)  # as after an upgrade or `tui-mail reindex`
    total = search_index.backlog(cache)
    assert total > 10
    monkeypatch.setattr(background, "INDEX_PROGRESS_FROM", 1)
    monkeypatch.setattr(background, "INDEX_PROGRESS_EVERY", 0)
    monkeypatch.setattr(search_index, "BATCH", 5)
    gate = threading.Event()
    writes: list[int] = []
    real_write = search_index._write

    def write(c: Cache, docs: list[search_index.Document]) -> int:
        writes.append(len(docs))
        if len(writes) == 2:
            gate.wait(timeout=60)  # the second batch waits: the first one's progress is on screen
        return real_write(c, docs)

    monkeypatch.setattr(search_index, "_write", write)
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(app, pilot, lambda: f"indexing 5/{total}" in screen_text(app))
        ml = app.message_list
        await pilot.press("j")  # the UI is not waiting for the index
        assert ml.cursor == 1
        gate.set()
        await settle(app, pilot)
        assert "indexing" not in screen_text(app)
        assert search_index.backlog(cache) == 0
        await pilot.press("slash", *"conference", "enter")  # a word only in a body
        await settle(app, pilot)
        assert ml.row_count == 1
