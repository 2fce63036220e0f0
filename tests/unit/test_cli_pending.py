"""`tui-mail pending [ACCOUNT] [--cancel ID]`: what waits for the server, why a refused change was refused, undo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_mail.accounts import AccountManager
from tui_mail.cli import main
from tui_mail.config import load_config
from tui_mail.models import Envelope, Role
from tui_mail.store.cache import NewMessage


@pytest.fixture
def config_path(app_dirs: Path) -> Path:
    path = app_dirs / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[[accounts]]\nname = "me"\nemail = "me@example.test"\nprotocol = "imap"\n'
        '[accounts.incoming]\nhost = "mail.example.invalid"\npassword_command = "echo x"\n',
        encoding="utf-8",
    )
    return path


def test_pending_lists_waiting_and_refused_changes_and_cancels_one(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = AccountManager(load_config(config_path))
    cache = manager.cache("me")
    inbox = cache.ensure_folder("INBOX", role=Role.INBOX)
    archive = cache.ensure_folder("Archive", role=Role.ARCHIVE)
    env = Envelope(message_id="<a@x>", date=1_700_000_000, from_addr="a@x", subject="Lunch?\x1b]0;evil\x07")
    [mid] = cache.store_messages(inbox, [NewMessage(env, uid=5)], uidvalidity=3, last_uid=5)
    cache.move([mid], archive)
    cache.set_flags([mid], add=["\\Flagged"])
    [move] = cache.pending_actions()
    cache.refuse_action(move.id, "the folder Archive does not exist on the server any more [TRYCREATE]")
    cache.set_flags([mid], add=["\\Seen"])
    manager.close()

    assert main(["--config", str(config_path), "pending"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"me\t{move.id}\trefused\tMove “Lunch?")
    assert "[TRYCREATE]" in out[0] and "\x1b" not in out[0]
    assert out[1].split("\t")[2] == "waiting" and "Mark as read “Lunch?" in out[1]
    waiting_id = int(out[1].split("\t")[1])

    assert main(["--config", str(config_path), "pending", "me", "--cancel", str(waiting_id)]) == 0
    assert capsys.readouterr().out.startswith("Cancelled: Mark as read")
    assert main(["--config", str(config_path), "pending", "--cancel", "999"]) == 1
    assert "no pending action 999" in capsys.readouterr().err
    assert main(["--config", str(config_path), "pending", "me", "--cancel", str(move.id)]) == 0
    assert main(["--config", str(config_path), "pending", "me"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "me: nothing waits for the server."
