"""The core never imports Textual: it must be usable from cron, the CLI and tests without a UI."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "tui_mail.config",
    "tui_mail.credentials",
    "tui_mail.models",
    "tui_mail.paths",
    "tui_mail.store",
    "tui_mail.backends.base",
    "tui_mail.backends.imap",
    "tui_mail.backends.pop3",
    "tui_mail.mime",
    "tui_mail.smtp",
    "tui_mail.accounts",
    "tui_mail.cli",
]


def test_core_does_not_import_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {CORE!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"core modules pulled in Textual: {proc.stdout}"
