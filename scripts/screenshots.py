"""Regenerate the README screenshots (SVG) from the demo mailbox: main view, reader, compose, account switch, help,
80x24 with tags, the go-to-folder picker, collapsed threads, All inboxes.

Usage: .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]   (default: screenshots/)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

SIZE = (120, 36)


async def take(out_dir: Path) -> list[Path]:
    """Drive the app over a fresh demo mailbox with the Pilot and save one SVG per view."""
    from tui_mail.accounts import AccountManager
    from tui_mail.demo import build_demo
    from tui_mail.models import Role
    from tui_mail.ui.app import MailApp

    out_dir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="tui-mail-shots-") as tmp:
        data_dir = Path(tmp)
        os.environ["TUI_MAIL_DATA_DIR"] = str(data_dir)
        config = build_demo(data_dir)
        manager = AccountManager(config, data_dir=data_dir, offline=True)
        try:
            app = MailApp(config, manager, sync_on_start=False, show_clock=False, preview_delay=0.0, cursor_blink=False)

            async with app.run_test(size=SIZE) as pilot:

                async def settle() -> None:
                    await pilot.pause()
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.2)

                def shot(name: str) -> None:
                    app.save_screenshot(filename=name, path=str(out_dir))
                    saved.append(out_dir / name)

                await settle()
                cache = manager.cache("work")
                inbox = cache.folder_by_role(Role.INBOX)
                assert inbox is not None
                subjects = [r.subject for r in cache.window(inbox.id, 0, 200, threaded=config.ui.threads)]
                # Main view: the cursor on the hostile message, whose preview shows markup and escapes inert.
                hostile = subjects.index("[bold]markup[/] stays literal")
                for _ in range(hostile):
                    await pilot.press("j")
                await settle()
                shot("main.svg")
                # Reader and reply: the release-plan thread (the first reply in it).
                target = subjects.index("Re: Release plan for tui-mail 1.0")
                for _ in range(target - hostile):
                    await pilot.press("j")
                await settle()

                await pilot.press("enter")
                await settle()
                shot("reader.svg")

                await pilot.press("r")
                await settle()
                shot("compose.svg")
                await pilot.press("escape")  # nothing typed: closes without asking
                await settle()
                await pilot.press("escape")  # back from the reader
                await settle()

                await pilot.press("2")
                await settle()
                shot("account-switch.svg")

                await pilot.press("1", "_")  # every thread collapsed: one row each, with its message and unread counts
                await settle()
                shot("threads-collapsed.svg")
                await pilot.press("_")
                await settle()

                await pilot.press("0", "j")  # All inboxes: both accounts' Inboxes, the account on each row
                await settle()
                shot("unified-inbox.svg")

                await pilot.press("question_mark")
                await settle()
                shot("help.svg")

            # mutt's home size: 80x24, the folder pane hidden by itself, two messages tagged; then go to a folder.
            app = MailApp(config, manager, sync_on_start=False, show_clock=False, preview_delay=0.0, cursor_blink=False)
            async with app.run_test(size=(80, 24)) as pilot:

                async def settle_small() -> None:
                    await pilot.pause()
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.2)

                await settle_small()
                await pilot.press("j", "v", "v")
                await settle_small()
                app.save_screenshot(filename="small-tagged.svg", path=str(out_dir))
                saved.append(out_dir / "small-tagged.svg")
                await pilot.press("escape", "C", *"pro")
                await settle_small()
                app.save_screenshot(filename="goto-folder.svg", path=str(out_dir))
                saved.append(out_dir / "goto-folder.svg")
        finally:
            manager.close()
    return saved


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "screenshots"
    # Deterministic output: dates in UTC whatever the local zone.
    os.environ["TZ"] = "UTC"
    time.tzset()
    for path in asyncio.run(take(out_dir)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
