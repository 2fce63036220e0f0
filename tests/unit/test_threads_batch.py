"""Conversations threaded a chunk at a time (as a sync stores them) come out exactly as when each message is stored
on its own: same conversations, positions, depths, thread dates and collapsed-thread heads."""

from __future__ import annotations

import random
from pathlib import Path

from tui_mail.models import Envelope, Role
from tui_mail.store.cache import Cache, NewMessage

T0 = 1_700_000_000


def corpus(n: int, seed: int) -> list[tuple[str, Envelope]]:
    """Replies, replies to missing parents, reference cycles, duplicate Message-IDs, subject-only replies, mail in
    Sent, and parents dated after their replies."""
    rnd = random.Random(seed)
    out: list[tuple[str, Envelope]] = []
    ids: list[str] = []
    dates = rnd.sample(range(100_000), n)  # not in arrival order, never equal (ties would be broken by row id)
    for i in range(n):
        msgid = f"<m{i}@x>"
        if ids and rnd.random() < 0.08:
            msgid = rnd.choice(ids)  # a duplicate Message-ID
        refs: list[str] = []
        if ids and rnd.random() < 0.5:
            parent = rnd.choice(ids[-30:])
            refs = [f"<gone{rnd.randrange(5)}@x>"] if rnd.random() < 0.2 else []
            refs.append(parent)
        elif rnd.random() < 0.05:
            refs = [f"<m{i + rnd.randrange(1, 20)}@x>"]  # names a message that comes later (or a cycle)
        topic = f"topic {rnd.randrange(40)}"
        subject = f"Re: {topic}" if (refs or rnd.random() < 0.2) else topic
        date = T0 + dates[i] * 60
        env = Envelope(
            message_id=msgid,
            in_reply_to=refs[-1] if refs else "",
            references=" ".join(refs),
            date=date,
            subject=subject,
        )
        out.append(("Sent" if rnd.random() < 0.15 else "INBOX", env))
        ids.append(msgid)
    return out


def state(cache: Cache) -> list[tuple[object, ...]]:
    """Per message (by UID): its folder, its conversation (named by the conversation's lowest UID), position, depth,
    thread date and whether it heads its collapsed thread."""
    rows = cache.conn.execute(
        "SELECT uid, folder_id, thread_id, thread_pos, thread_depth, thread_date, thread_head FROM messages"
    ).fetchall()
    first: dict[int, int] = {}
    for r in rows:
        first[r[2]] = min(first.get(r[2], r[0]), r[0])
    return sorted((r[0], r[1], first[r[2]], *r[3:]) for r in rows)


def store(tmp_path: Path, name: str, msgs: list[tuple[str, Envelope]], chunk: int, one_by_one: bool) -> Cache:
    """Store the messages chunk by chunk, each chunk as one call per folder or (one_by_one) one call per message in
    the order a chunk is stored (by date)."""
    cache = Cache(tmp_path / name)
    folders = {
        "INBOX": cache.ensure_folder("INBOX", role=Role.INBOX),
        "Sent": cache.ensure_folder("Sent", role=Role.SENT),
    }
    uid = 0
    for i in range(0, len(msgs), chunk):
        for folder in ("INBOX", "Sent"):
            batch = []
            for f, env in msgs[i : i + chunk]:
                uid += 1
                if f == folder:
                    batch.append(NewMessage(env, uid=uid))
            if one_by_one:
                for m in sorted(batch, key=lambda m: m.envelope.date):
                    cache.store_messages(folders[folder], [m], uidvalidity=1)
            else:
                cache.store_messages(folders[folder], batch, uidvalidity=1)
    return cache


def test_a_chunk_threads_like_one_message_at_a_time(tmp_path: Path) -> None:
    for seed in range(3):
        msgs = corpus(300, seed)
        for chunk in (1, 7, 100, 300):
            one = store(tmp_path, f"one{seed}-{chunk}", msgs, chunk, True)
            many = store(tmp_path, f"many{seed}-{chunk}", msgs, chunk, False)
            assert state(many) == state(one), (seed, chunk)
            assert len({r[2] for r in state(many)}) < 300 * 0.8  # conversations did form
