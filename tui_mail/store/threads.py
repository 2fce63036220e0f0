"""Conversations: JWZ-style threading of one account's messages (all folders) from Message-ID, In-Reply-To and
References, kept in the cache as messages are stored (a stored chunk at a time, as if one message at a time).

Every Message-ID a message names (its own and the ones it refers to) maps to a conversation in `thread_ids`, so a
parent that arrives after its replies finds the conversation they started, and two conversations that turn out to
be one are merged. Inside a conversation a JWZ tree (missing parents bridged, reference cycles and duplicate
Message-IDs tolerated) gives each message its depth and its pre-order position, stored on the row: the threaded list
is then one ordered index walk (`thread_date DESC, thread_id DESC, thread_pos`), as fast as the flat one. Mail with
no references joins a conversation by its subject only when the subject says it is a reply ("Re: ...").
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeVar

from ..models import Envelope

MAX_TREE = 500  # a conversation larger than this is appended to, not re-laid out (mailing-list storms)
_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|wg|vs|antw|odp|r|tr)\s*(?:\[\d+\])?\s*:\s*|\[[^\]]{1,40}\]\s*)+", re.I)
_SPACE = re.compile(r"\s+")
T = TypeVar("T")


def subject_key(subject: str) -> str:
    """The subject with reply/forward prefixes and list tags removed, case-folded ("" when nothing is left)."""
    return _SPACE.sub(" ", _PREFIX.sub("", subject)).strip().casefold()


def is_reply_subject(subject: str) -> bool:
    m = _PREFIX.match(subject)
    return m is not None and not m.group(0).lstrip().startswith("[")


def references(env: Envelope) -> list[str]:
    """The ancestors a message names, oldest first, each once, never itself."""
    out: list[str] = []
    for ref in [*env.references.split(), *env.in_reply_to.split()[:1]]:
        if ref and ref != env.message_id and ref not in out:
            out.append(ref)
    return out


_CHUNK = 500  # bound parameters per IN (...) query


def _chunks(values: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def link_batch(c: sqlite3.Connection, items: Sequence[tuple[int, int, Envelope]]) -> None:
    """Put just-inserted messages (row, folder, envelope; oldest first), each inserted as a conversation of its own
    (thread_id = its row, position and depth 0, thread_date its date), into their conversations, merging the
    conversations they join, and lay out each touched conversation once.

    The same result as threading them one at a time, at a few set-based queries per batch: the Message-IDs the batch
    names are looked up at once, the merges are a union-find in memory, and a new row is updated only when it joins
    a conversation (conversation, position, depth and date in one UPDATE).
    """
    if not items:
        return
    plans: list[tuple[int, int, Envelope, list[str], list[str], str]] = []
    wanted: set[str] = set()
    for row, folder, env in items:
        refs = references(env)
        ids = ([env.message_id] if env.message_id else []) + refs
        key = subject_key(env.subject)
        skey = "s:" + key if key else ""
        plans.append((row, folder, env, ids, refs, skey))
        wanted.update(ids)
        if skey:
            wanted.add(skey)
    known: dict[str, int] = {}
    for part in _chunks(sorted(wanted)):
        marks = ",".join("?" * len(part))
        known.update(c.execute(f"SELECT msgid, conv FROM thread_ids WHERE msgid IN ({marks})", part).fetchall())
    stored = set(known.values())  # conversations the cache already has rows for
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while root in parent:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    touched: set[str] = set()
    conv_of: dict[int, int] = {}
    for row, _folder, env, ids, refs, skey in plans:
        convs = {find(known[i]) for i in ids if i in known}
        if not convs and not refs and skey and skey in known and is_reply_subject(env.subject):
            convs = {find(known[skey])}
        target = min(convs) if convs else row
        for other in convs - {target}:
            parent[other] = target
        for i in ids:
            known[i] = target
        touched.update(ids)
        if skey:
            known[skey] = target
            touched.add(skey)
        conv_of[row] = target
    merged = sorted(conv for conv in parent if conv in stored)
    for conv in merged:  # conversations this batch joined into one
        root = find(conv)
        c.execute("UPDATE thread_ids SET conv=? WHERE conv=?", (root, conv))
        c.execute("UPDATE messages SET thread_id=? WHERE thread_id=?", (root, conv))
    c.executemany(
        "INSERT OR REPLACE INTO thread_ids(msgid, conv) VALUES (?, ?)", [(k, find(known[k])) for k in sorted(touched)]
    )
    new_by_conv: dict[int, list[Member]] = {}
    for row, folder, env, _ids, _refs, _skey in plans:
        member = Member(row, env.message_id, env.in_reply_to, env.references, env.date, env.subject, folder)
        new_by_conv.setdefault(find(conv_of[row]), []).append(member)
    new_rows = set(conv_of)
    old_by_conv: dict[int, list[tuple[Member, int, int, int]]] = {}
    roots = sorted(new_by_conv)
    for some in _chunks(roots):
        marks = ",".join("?" * len(some))
        for r in c.execute(
            "SELECT id, message_id, in_reply_to, refs, date, subject, folder_id, thread_pos, thread_depth, "
            f"thread_date, thread_id FROM messages WHERE thread_id IN ({marks})",
            some,
        ):
            if r[0] not in new_rows:
                old_by_conv.setdefault(r[10], []).append((Member(*r[:7]), r[7], r[8], r[9]))
    updates: list[tuple[int, int, int, int]] = []
    for root in roots:
        _layout(old_by_conv.get(root, []), new_by_conv[root], updates)
    # Joining first (the triggers keep the heads), then the layout (a trigger resets a conversation's thread_date).
    moves = [(conv, m.row) for conv, members in new_by_conv.items() for m in members if m.row != conv]
    c.executemany("UPDATE messages SET thread_id=? WHERE id=?", moves)
    c.executemany("UPDATE messages SET thread_pos=?, thread_depth=?, thread_date=? WHERE id=?", updates)


def _layout(
    old: list[tuple[Member, int, int, int]], new: list[Member], updates: list[tuple[int, int, int, int]]
) -> None:
    """One conversation's depth, pre-order position and latest date per folder, as updates (pos, depth, date, row)
    of the rows where they change (a new row was inserted with 0, 0 and its own date)."""
    # A folder lists the conversation by its latest message in that folder (an old Inbox thread does not jump to the
    # top because of a reply sitting in Sent); the conversation itself spans every folder.
    members = [*(o[0] for o in old), *new]
    latest: dict[int, int] = {}
    for m in members:
        latest[m.folder] = max(latest.get(m.folder, 0), m.date)
    current = [*((m, pos, depth, date) for m, pos, depth, date in old), *((m, 0, 0, m.date) for m in new)]
    if len(members) > MAX_TREE:
        # A storm: new messages are appended (depth 1) instead of the whole tree being laid out again.
        last = max((o[1] for o in old), default=0)
        placed = {m.row: (pos, depth) for m, pos, depth, _date in old}
        for m in new:
            last += 1
            placed[m.row] = (last, 1)
    elif len(members) == 1:
        placed = {members[0].row: (0, 0)}  # most mail starts a conversation of its own
    else:
        placed = build(members)
    for m, pos, depth, date in current:
        where = (*placed[m.row], latest[m.folder])
        if where != (pos, depth, date):
            updates.append((*where, m.row))


@dataclass(slots=True)
class Member:
    row: int
    message_id: str
    in_reply_to: str
    refs: str
    date: int
    subject: str = ""
    folder: int = 0


@dataclass(eq=False, slots=True)
class _Node:
    key: str
    member: Member | None = None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)

    def first_date(self) -> int:
        if self.member is not None:
            return self.member.date
        return min((ch.first_date() for ch in self.children), default=0)


def _is_ancestor(a: _Node, b: _Node) -> bool:
    """a is b or one of b's ancestors."""
    seen = 0
    node: _Node | None = b
    while node is not None and seen < 10_000:
        if node is a:
            return True
        node, seen = node.parent, seen + 1
    return False


def _attach(child: _Node, parent: _Node) -> None:
    if child.parent is parent or _is_ancestor(child, parent):
        return  # already there, or it would close a loop (References cycles happen)
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def build(members: Sequence[Member]) -> dict[int, tuple[int, int]]:
    """JWZ threading of one conversation: row -> (pre-order position, depth). Depth counts only ancestors that are
    messages in the same folder (a missing parent, or my reply in Sent, does not indent the Inbox's replies twice);
    siblings and roots are ordered by date."""
    nodes: dict[str, _Node] = {}

    def node(key: str) -> _Node:
        n = nodes.get(key)
        if n is None:
            n = nodes[key] = _Node(key)
        return n

    own: list[_Node] = []
    for m in sorted(members, key=lambda m: (m.date, m.row)):
        key = m.message_id or f"<row-{m.row}>"
        n = node(key)
        if n.member is not None:  # a duplicate Message-ID: its own node, beside the first
            n = node(f"{key}#{m.row}")
        n.member = m
        own.append(n)
    for n in own:
        assert n.member is not None
        chain = [*n.member.refs.split(), *n.member.in_reply_to.split()[:1]]
        chain = [r for i, r in enumerate(chain) if r and r != n.key and r not in chain[:i]]
        for a, b in pairwise(chain):
            child = node(b)
            if child.parent is None:
                _attach(child, node(a))
        if chain:
            _attach(n, node(chain[-1]))
    # A reply that names no parent hangs under the first message of the same subject (JWZ's subject grouping).
    by_subject: dict[str, _Node] = {}
    for n in own:
        assert n.member is not None
        key = subject_key(n.member.subject)
        if n.parent is None and not n.member.refs and not n.member.in_reply_to and is_reply_subject(n.member.subject):
            first = by_subject.get(key)
            if first is not None:
                _attach(n, first)
                continue
        by_subject.setdefault(key, n)
    out: dict[int, tuple[int, int]] = {}
    pos = 0

    def visit(n: _Node, depths: dict[int, int]) -> None:
        nonlocal pos
        here = depths
        if n.member is not None:
            folder = n.member.folder
            out[n.member.row] = (pos, depths.get(folder, 0))
            pos += 1
            here = {**depths, folder: depths.get(folder, 0) + 1}
        for ch in sorted(n.children, key=lambda x: (x.first_date(), x.key)):
            visit(ch, here)

    roots = [n for n in nodes.values() if n.parent is None]
    for r in sorted(roots, key=lambda x: (x.first_date(), x.key)):
        visit(r, {})
    return out


def rebuild_all(c: sqlite3.Connection) -> None:
    """Thread every message again (an upgrade from before conversations, or a repair)."""
    c.execute("DELETE FROM thread_ids")
    c.execute("UPDATE messages SET thread_id=id, thread_pos=0, thread_depth=0, thread_date=date")
    rows = c.execute(
        "SELECT id, folder_id, message_id, in_reply_to, refs, subject, date FROM messages ORDER BY date, id"
    ).fetchall()
    for part in _chunks(rows):
        link_batch(
            c,
            [
                (row_id, folder, Envelope(message_id=msgid, in_reply_to=irt, references=refs, subject=subject, date=d))
                for row_id, folder, msgid, irt, refs, subject, d in part
            ],
        )
