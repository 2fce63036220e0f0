"""Removing an account from the config file: the smallest text edit, comments and other accounts untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_mail.config import load_config
from tui_mail.config_edit import remove_account
from tui_mail.errors import ConfigError

CONFIG = """\
# My mail setup. Keep this comment.

[ui]
theme = "nord"   # a trailing comment

# The work account.
[[accounts]]
name = "work"
email = "alice@example.org"
protocol = "imap"
[accounts.incoming]
host = "imap.example.org"

# The old POP3 box (being moved to work).
[[accounts]]
name = "home"
email = "bob@example.net"
protocol = "pop3"
[accounts.incoming]
host = "pop.example.net"   # comment inside the removed account
[accounts.pop3]
leave_on_server = true

# Club mail.
[[accounts]]
name = "club"
email = "me@club.example"
protocol = "imap"
[accounts.incoming]
host = "imap.club.example"

[keymap]
"mail.delete" = "x"
"""


def test_removes_only_that_account_and_keeps_every_comment_around_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    path.chmod(0o600)
    backup = remove_account(path, "home")
    assert backup.read_text(encoding="utf-8") == CONFIG  # the copy is the file as it was
    text = path.read_text(encoding="utf-8")
    start = CONFIG.index('[[accounts]]\nname = "home"')
    end = CONFIG.index("\n# Club mail.")
    assert text == CONFIG[:start] + CONFIG[end:]  # exactly its lines went; the comment above it stays
    for kept in ("# My mail setup. Keep this comment.", "# a trailing comment", "# The work account.", "# Club mail."):
        assert kept in text
    config = load_config(path)
    assert [a.name for a in config.accounts] == ["work", "club"]
    assert config.ui.theme == "nord" and config.keymap == {"mail.delete": "x"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_last_account_and_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    remove_account(path, "club")
    assert [a.name for a in load_config(path).accounts] == ["work", "home"]
    assert path.read_text(encoding="utf-8").endswith('[keymap]\n"mail.delete" = "x"\n')
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="no \\[\\[accounts\\]\\] table named 'gone'"):
        remove_account(path, "gone")
    assert path.read_text(encoding="utf-8") == before


def test_a_file_it_cannot_edit_safely_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    tricky = 'accounts = [{ name = "home", email = "b@x", protocol = "pop3", incoming = { host = "p.x" } }]\n'
    path.write_text(tricky, encoding="utf-8")
    with pytest.raises(ConfigError):
        remove_account(path, "home")
    assert path.read_text(encoding="utf-8") == tricky
    assert list(tmp_path.iterdir()) == [path]  # no backup, no temporary file left
