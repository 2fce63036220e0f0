"""Folders of a server with an "INBOX." personal namespace (Courier, hosting servers) are shown like anyone's."""

from __future__ import annotations

from pathlib import Path

from tests.ui.conftest import build_mailbox, make_raw, screen_text
from tui_mail.models import Role

SIZE = (120, 40)


async def test_namespace_prefix_does_not_indent_personal_folders(tmp_path: Path) -> None:
    mailbox = build_mailbox(tmp_path, [make_raw("hello")])
    cache = mailbox.manager.cache("test")
    cache.ensure_folder("INBOX.Sent", ".", Role.SENT)
    cache.ensure_folder("INBOX.Projects", ".", Role.NONE)
    cache.ensure_folder("INBOX.Projects.Alpha", ".", Role.NONE)
    cache.ensure_folder("Local/Sent", "/", Role.SENT, local_only=True)  # copies whose server folder went
    app = mailbox.app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        lines = screen_text(app).splitlines()

    def indent(name: str) -> int:
        [line] = [line for line in lines if f" {name} " in f"{line} " and "INBOX" not in line]
        return len(line) - len(line.lstrip(" │┃"))

    assert indent("Sent") == indent("Trash")  # shown by its role name, not "INBOX.Sent"
    assert indent("Projects") == indent("Trash")  # a top-level folder for the user, not a child of Inbox
    assert indent("Alpha") == indent("Projects") + 2
    assert indent("Local/Sent") == indent("Trash")  # not a second "Sent"
