"""scripts/demo installs with pip only when pyproject.toml changed (a launch with nothing changed skips pip)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_script_skips_pip_when_nothing_changed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in ("demo", "bootstrap.sh"):
        shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    log = tmp_path / "calls"
    python = shutil.which("python3") or "python3"
    # A fake venv: python records pip calls and runs everything else; tui-mail records that it ran.
    (venv_bin / "python").write_text(
        f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo pip >>"{log}"; exit 0; fi\nexec {python} "$@"\n'
    )
    (venv_bin / "tui-mail").write_text(f'#!/bin/sh\necho tui-mail "$@" >>"{log}"\n')
    for f in venv_bin.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": os.environ.get("PATH", "")}

    def launch() -> list[str]:
        log.write_text("")
        subprocess.run(["bash", str(root / "scripts" / "demo")], check=True, env=env, capture_output=True)
        return log.read_text().split()

    assert launch() == ["pip", "tui-mail", "--demo"]  # first launch installs
    assert launch() == ["tui-mail", "--demo"]  # nothing changed: no pip
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    assert launch() == ["pip", "tui-mail", "--demo"]  # the project changed: install again
