"""The unified inbox's merged list: the same rows, order and positions as sorting every account's Inbox together."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tui_mail.models import SEEN, Envelope, Role
from tui_mail.store import unified
from tui_mail.store.cache import Cache, NewMessage
from tui_mail.store.unified import STRIDE, UnifiedCache, members_for


def _fill(cache: Cache, n: int, rng: random.Random, tag: str) -> None:
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    other = cache.ensure_folder("Archive", "/", Role.ARCHIVE)
    msgs = []
    for k in range(n):
        date = 1_700_000_000 + rng.randrange(0, 400) * 3600  # many equal dates, inside and across accounts
        word = "budget" if k % 7 == 0 else "lunch"
        env = Envelope(message_id=f"<{tag}{k}@x>", date=date, from_addr=f"{tag}@x", subject=f"{word} {tag} {k}")
        msgs.append(NewMessage(env, uid=k + 1, flags=frozenset({SEEN}) if k % 3 else frozenset()))
    cache.store_messages(inbox, msgs[: n - 20], uidvalidity=1)
    cache.store_messages(other, msgs[n - 20 :], uidvalidity=1)


@pytest.fixture
def caches(tmp_path: Path) -> list[tuple[str, Cache]]:
    rng = random.Random(7)
    out = []
    for name, n in (("work", 900), ("home", 400), ("empty", 20), ("club", 1300)):
        c = Cache(tmp_path / f"{name}.sqlite3")
        _fill(c, n, rng, name)
        out.append((name, c))
    return out


def _expected(caches: list[tuple[str, Cache]], folder_scope: bool = True, query: str = "") -> list[int]:
    keys = []
    for i, (_, c) in enumerate(caches):
        inbox = c.folder_by_role(Role.INBOX)
        assert inbox is not None
        fid = inbox.id if folder_scope else None
        for r in c.window(fid, 0, 100_000, query=query):
            keys.append((-r.date, i, -r.id))
    return [-neg_id * STRIDE + i for _, i, neg_id in sorted(keys)]


def test_pages_in_any_order_match_one_sorted_list(
    caches: list[tuple[str, Cache]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unified, "MERGE_GAP", 150)  # exercise narrowing by date on a small corpus
    u = UnifiedCache(members_for(caches))
    want = _expected(caches)
    assert u.count(unified.INBOXES) == len(want) == 2540
    # scrolling down page by page, then jumping to the end, the middle and back
    got = [r.id for p in range(0, len(want), 100) for r in u.window(unified.INBOXES, p, 100)]
    assert got == want
    fresh = UnifiedCache(members_for(caches))
    for offset in (2500, 1234, 17, 2000, 0, 999):
        assert [r.id for r in fresh.window(unified.INBOXES, offset, 50)] == want[offset : offset + 50]


def test_position_and_rows_say_their_account(caches: list[tuple[str, Cache]]) -> None:
    u = UnifiedCache(members_for(caches))
    want = _expected(caches)
    for index in (0, 1, 57, 1200, len(want) - 1):
        assert u.position(unified.INBOXES, want[index]) == index
    row = u.window(unified.INBOXES, 10, 1)[0]
    account, local = u.locate(row.id)
    assert u.label(row) == account
    assert dict(caches)[account].message(local).subject == row.subject  # type: ignore[union-attr]


def test_search_across_every_folder_of_every_account(caches: list[tuple[str, Cache]]) -> None:
    u = UnifiedCache(members_for(caches))
    want = _expected(caches, folder_scope=False, query="budget")
    assert u.count(None, "budget") == len(want)
    assert [r.id for r in u.window(None, 0, 1000, query="budget")] == want
    assert all("budget" in r.subject for r in u.window(None, 0, 50, query="budget"))


def test_an_unreadable_cache_leaves_the_others(caches: list[tuple[str, Cache]], tmp_path: Path) -> None:
    members = members_for(caches)
    u = UnifiedCache(members)
    total = u.count(unified.INBOXES)
    caches[1][1].conn.execute("DROP INDEX messages_by_date")  # any read error will do: drop the table
    caches[1][1].conn.execute("ALTER TABLE messages RENAME TO gone")
    assert 0 < u.count(unified.INBOXES) < total
    assert len(u.window(unified.INBOXES, 0, 100)) == 100
