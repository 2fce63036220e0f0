"""Where an account's mail lives and how much room it takes: folder sizes, server quota, POP3-only mail and backups."""

from __future__ import annotations

import time

from .backends.imap_quota import cached_quota, human_size
from .backup import LAST_BACKUP_META
from .config import AccountConfig
from .store.cache import Cache

__all__ = ["account_notes", "folder_sizes", "human_size", "status_storage"]


def folder_sizes(cache: Cache) -> dict[int, int]:
    """folder id -> bytes of its messages as the server counts them (known sizes only)."""
    return {int(f): int(s or 0) for f, s in cache.conn.execute("SELECT folder_id, SUM(size) FROM messages GROUP BY 1")}


def account_notes(account: AccountConfig, cache: Cache, now: float | None = None) -> list[str]:
    """Sentences for the user about storage: the quota ("Server storage: 1.2 GB of 2 GB (60%)", with a warning
    from 90%), and for a POP3 account that deletes from the server, that the mail exists only here and when it
    was last backed up."""
    notes: list[str] = []
    quota = cached_quota(cache)
    if quota is not None:
        notes.append(f"Server storage: {quota.describe()}.")
    pop = account.pop3
    if account.protocol == "pop3" and not pop.leave_on_server:
        last = cache.get_meta(LAST_BACKUP_META) or ""
        if last.isdigit():
            days = int(((now or time.time()) - int(last)) // 86400)
            when = time.strftime("%Y-%m-%d", time.localtime(int(last)))
            age = "today" if days <= 0 else f"{days} day(s) ago"
            backed = f"last backup {when} ({age})"
        else:
            backed = "never backed up"
        notes.append(
            f"Mail of {account.name} lives only on this computer (POP3 deletes it from the server); {backed}: "
            f"`tui-mail backup {account.name} DIR` makes a copy."
        )
    return notes


def status_storage(cache: Cache) -> tuple[str, bool]:
    """The quota as the status line shows it ("1.2 GB of 2 GB (60%)", "" when unknown) and whether it is nearly
    full (from 90%)."""
    quota = cached_quota(cache)
    if quota is None:
        return "", False
    return f"{human_size(quota.used)} of {human_size(quota.limit)} ({quota.fraction:.0%})", quota.nearly_full
