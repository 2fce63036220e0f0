"""Tagging (aerc's `v`; mutt's `t` with `keys = "mutt"`): mark messages one by one, by range or all matching the
filter, then apply delete, move, flag and read to every tagged message at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App

from ..models import MessageRow

if TYPE_CHECKING:
    from .widgets.message_list import MessageList


class Tagging(App[int]):
    """Mixed into MailApp: the tag set lives on the message list (it draws a `*`); it is cleared on folder change."""

    if TYPE_CHECKING:  # provided by MailApp
        manager: Any

        @property
        def message_list(self) -> MessageList: ...
        def run_action_worker(self, account: str, what: str, fn: Callable[[], object]) -> None: ...

    @property
    def tagged(self) -> set[int]:
        return self.message_list.tagged

    def action_tag(self) -> None:
        """Tag or untag the message under the cursor, then move down (like mutt)."""
        ml = self.message_list
        row_id = ml.current_id
        if row_id is None:
            return
        folded = getattr(self, "folded_rows", lambda: None)()  # a collapsed thread: all of it
        ids = {r.id for r in folded[1]} if folded else {row_id}
        if row_id in ml.tagged:
            ml.tagged -= ids
        else:
            ml.tagged |= ids
            ml.tag_anchor = ml.cursor
        ml.refresh_tags()
        ml.cursor += 1
        self._say_tagged()

    def action_tag_range(self) -> None:
        """Tag every message between the last one tagged and the cursor."""
        ml = self.message_list
        anchor = ml.tag_anchor if ml.tag_anchor is not None else ml.cursor
        lo, hi = sorted((anchor, ml.cursor))
        for index in range(lo, hi + 1):
            row = ml.row(index)
            if row is not None:
                ml.tagged.add(row.id)
        ml.tag_anchor = ml.cursor
        ml.refresh_tags()
        self._say_tagged()

    def action_tag_matching(self) -> None:
        """Tag every message of the folder that matches the current filter (the whole folder without one);
        pressed again with all of them tagged, untag them."""
        ml = self.message_list
        source = ml.source
        if source is None:
            return
        ids = set(source.cache.ids(source.folder_id, source.query, source.include))
        if ids and ids <= ml.tagged:
            ml.tagged -= ids
        else:
            ml.tagged |= ids
        ml.refresh_tags()
        self._say_tagged()

    def clear_tags(self) -> bool:
        """Untag everything; False when nothing was tagged."""
        ml = self.message_list
        if not ml.tagged:
            return False
        ml.tagged.clear()
        ml.tag_anchor = None
        ml.refresh_tags()
        self.notify("Tags cleared.", markup=False)
        return True

    def _say_tagged(self) -> None:
        n = len(self.message_list.tagged)
        self.notify(f"{n} message{'s' if n != 1 else ''} tagged.", markup=False, timeout=2)

    def tagged_rows(self) -> tuple[str, list[MessageRow]] | None:
        """(account, rows) of the tagged messages when the main view has tags, else None."""
        if self.screen is not self.screen_stack[0]:
            return None
        ml = self.message_list
        if not ml.tagged or ml.source is None:
            return None
        cache = ml.source.cache
        rows = [r for r in (cache.message(i) for i in sorted(ml.tagged)) if r is not None]
        return (ml.source.account, rows) if rows else None

    def apply_to_tagged(self, what: str, folder_id: int | None = None) -> bool:
        """Apply delete, flag, toggle_read or move (with folder_id) to every tagged message; False when none."""
        found = self.tagged_rows()
        if found is None:
            return False
        account, rows = found
        ids = [r.id for r in rows]
        manager = self.manager
        if what == "delete":
            # In Trash this deletes for good: LocalActions asks first (delete() runs at once elsewhere).
            confirm = getattr(self, "confirm_delete_for_good", None)

            def run() -> None:
                self.run_action_worker(account, "delete", lambda: manager.delete(account, ids))

            if confirm is not None:
                confirm(account, rows, run)
            else:
                run()
        elif what == "flag":
            flagged = not all(r.flagged for r in rows)
            self.run_action_worker(account, "flag", lambda: manager.flag(account, ids, flagged))
        elif what == "toggle_read":
            read = not all(r.seen for r in rows)
            self.run_action_worker(account, "mark", lambda: manager.mark_read(account, ids, read))
        elif what == "move" and folder_id is not None:
            self.run_action_worker(account, "move", lambda: manager.move(account, ids, folder_id))
        else:
            return False
        n = len(ids)
        self.notify(
            f"{what.replace('_', ' ').capitalize()}: {n} tagged message{'s' if n != 1 else ''}.",
            markup=False,
            timeout=2,
        )
        self.message_list.tagged.clear()
        self.message_list.tag_anchor = None
        self.message_list.refresh_tags()
        return True
