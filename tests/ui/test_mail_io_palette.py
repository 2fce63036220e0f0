"""Back up and export from the command palette: done in a worker, the outcome told in one sentence."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui_mail import paths
from tui_mail.backup import check
from tui_mail.mailbox_io import read_mailbox

if TYPE_CHECKING:
    from conftest import Mailbox

SIZE = (120, 40)


async def _run_command(app: object, pilot: object, words: str) -> None:
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.press("colon")  # type: ignore[attr-defined]
    await pilot.press(*words)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


async def test_back_up_an_account_from_the_palette(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await _run_command(app, pilot, "Back up account home")
        (made,) = list((paths.data_dir() / "backups").iterdir())
        assert (
            check(made).messages
            == demo.manager.cache("home").conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        )
        assert any("Backup of home" in n.message for n in app._notifications)


async def test_export_an_account_from_the_palette(demo: Mailbox) -> None:
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await _run_command(app, pilot, "Export account work as mbox")
        (dest,) = list((paths.data_dir() / "exports").iterdir())
        inbox = demo.manager.cache("work").folder_by_name("INBOX")
        assert inbox is not None
        assert len(list(read_mailbox(dest / "INBOX"))) == inbox.total
        assert any("Exported" in n.message for n in app._notifications)
        assert Path(dest).name.startswith("work-")


async def test_status_line_shows_the_quota_and_warns_when_nearly_full(demo: Mailbox) -> None:
    from tui_mail.backends.imap_quota import QUOTA_META

    demo.manager.cache("work").set_meta(QUOTA_META, f"{int(1.2 * 2**30)} {2 * 2**30}")
    app = demo.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = str(app.status.render())
        assert "1.2 GB of 2 GB (60%)" in shown and "nearly full" not in shown
        demo.manager.cache("work").set_meta(QUOTA_META, f"{int(1.9 * 2**30)} {2 * 2**30}")
        app.update_status()
        await pilot.pause()
        assert "1.9 GB of 2 GB (95%) nearly full" in str(app.status.render())
