"""Where tui-mail keeps its config, caches and logs (platformdirs, overridable by env vars)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

APP = "tui-mail"


def _platform_dirs() -> ModuleType:
    """platformdirs, loaded only when no override names the directory (it pulls in tempfile, shutil...)."""
    import platformdirs

    return platformdirs


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The config file: --config, then $TUI_MAIL_CONFIG, then the platform config dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("TUI_MAIL_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(_platform_dirs().user_config_dir(APP)) / "config.toml"


def data_dir() -> Path:
    """Directory of the per-account cache databases: $TUI_MAIL_DATA_DIR or the platform data dir."""
    env = os.environ.get("TUI_MAIL_DATA_DIR")
    path = Path(env).expanduser() if env else Path(_platform_dirs().user_data_dir(APP))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def state_dir() -> Path:
    """Directory for the log file."""
    env = os.environ.get("TUI_MAIL_STATE_DIR")
    path = Path(env).expanduser() if env else Path(_platform_dirs().user_state_dir(APP))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def cache_path(account_name: str) -> Path:
    """The SQLite cache of one account (the name made safe for a file name)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in account_name) or "account"
    return data_dir() / f"{safe}.sqlite3"
