"""IMAP QUOTA (RFC 9208 / 2087): how much of the account's storage is used, asked after a sync and kept in the cache."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ..store.cache import Cache

if TYPE_CHECKING:
    from .imap import ImapBackend

log = logging.getLogger(__name__)

QUOTA_META = "quota_storage"  # "used limit" in bytes; absent when the server has no QUOTA or no storage limit
WARN_AT = 0.9


@dataclass(frozen=True, slots=True)
class StorageQuota:
    """Used and allowed storage in bytes."""

    used: int
    limit: int

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0

    @property
    def nearly_full(self) -> bool:
        return self.fraction >= WARN_AT

    def describe(self) -> str:
        """The figure as shown: "1.2 GB of 2 GB (60%)", with a warning sentence from 90% on."""
        text = f"{human_size(self.used)} of {human_size(self.limit)} ({self.fraction:.0%})"
        if self.nearly_full:
            text += "; the mailbox is nearly full: delete or export mail before the server refuses new messages"
        return text


def human_size(n: float) -> str:
    """1536 -> "1.5 KB", 2 GiB -> "2 GB" (powers of 1024, one decimal below 10)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            if unit == "B":
                return f"{int(n)} B"
            figure = f"{n:.1f}".removesuffix(".0") if n < 10 else f"{n:.0f}"
            return f"{figure} {unit}"
        n /= 1024
    return f"{n:.0f} TB"


def record_quota(backend: ImapBackend, cache: Cache) -> StorageQuota | None:
    """Ask the server for INBOX's STORAGE quota (units of 1024 octets) and remember it; None without QUOTA."""
    if not backend._has("QUOTA"):
        return None
    if backend.mailbox_unchanged and cache.get_meta(QUOTA_META) is not None:
        return cached_quota(cache)  # no folder gained or lost mail since the figure was asked: a round trip saved
    try:
        _roots, quotas = backend._c.get_quota_root("INBOX")
    except IMAPClientAbortError:
        raise
    except IMAPClientError as e:
        log.info("GETQUOTAROOT failed: %s", e)
        return None
    found = next((q for q in quotas if str(q.resource).upper() == "STORAGE" and q.limit), None)
    if found is None:
        if cache.get_meta(QUOTA_META) != "":
            cache.set_meta(QUOTA_META, "")  # asked: no storage limit
        return None
    quota = StorageQuota(int(found.usage) * 1024, int(found.limit) * 1024)
    cache.set_meta(QUOTA_META, f"{quota.used} {quota.limit}")
    return quota


def cached_quota(cache: Cache) -> StorageQuota | None:
    """The quota the last sync saw, if any."""
    value = cache.get_meta(QUOTA_META) or ""
    used, _, limit = value.partition(" ")
    if not used.isdigit() or not limit.isdigit() or not int(limit):
        return None
    return StorageQuota(int(used), int(limit))
