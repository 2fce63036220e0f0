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
