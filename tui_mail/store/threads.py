"""Conversations: JWZ-style threading of one account's messages (all folders) from Message-ID, In-Reply-To and
References, kept in the cache as each message is stored.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from ..models import Envelope

MAX_TREE = 500  # a conversation larger than this is appended to, not re-laid out (mailing-list storms)
_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|wg|vs|antw|odp|r|tr)\s*(?:\[\d+\])?\s*:\s*|\[[^\]]{1,40}\]\s*)+", re.I)
_SPACE = re.compile(r"\s+")


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


def link(c: sqlite3.Connection, message_row: int, env: Envelope) -> None:
    """Put a just-inserted message into its conversation (merging conversations it joins) and lay that out again."""
    refs = references(env)
    ids = ([env.message_id] if env.message_id else []) + refs
    convs: set[int] = set()
    if ids:
        marks = ",".join("?" * len(ids))
        convs = {r[0] for r in c.execute(f"SELECT DISTINCT conv FROM thread_ids WHERE msgid IN ({marks})", ids)}
    key = subject_key(env.subject)
    if not convs and not refs and key and is_reply_subject(env.subject):
        row = c.execute("SELECT conv FROM thread_ids WHERE msgid=?", ("s:" + key,)).fetchone()
        if row:
            convs = {row[0]}
    target = min(convs) if convs else message_row
    others = sorted(convs - {target})
    if others:
        marks = ",".join("?" * len(others))
        c.execute(f"UPDATE thread_ids SET conv=? WHERE conv IN ({marks})", (target, *others))
        c.execute(f"UPDATE messages SET thread_id=? WHERE thread_id IN ({marks})", (target, *others))
    c.executemany("INSERT OR REPLACE INTO thread_ids(msgid, conv) VALUES (?, ?)", [(i, target) for i in ids])
    if key:
        c.execute("INSERT OR REPLACE INTO thread_ids(msgid, conv) VALUES (?, ?)", ("s:" + key, target))
    c.execute("UPDATE messages SET thread_id=? WHERE id=?", (target, message_row))
    layout(c, target, message_row)


def layout(c: sqlite3.Connection, conv: int, newest_row: int | None = None) -> None:
    """Store depth, pre-order position and the conversation's latest date on each of its messages."""
    rows = c.execute(
        "SELECT id, message_id, in_reply_to, refs, date, thread_pos, thread_depth, thread_date, subject, folder_id "
        "FROM messages "
        "WHERE thread_id=?",
        (conv,),
    ).fetchall()
    if not rows:
        return
    # A folder lists the conversation by its latest message in that folder (an old Inbox thread does not jump to the
    # top because of a reply sitting in Sent); the conversation itself spans every folder.
    latest: dict[int, int] = {}
    for r in rows:
        latest[r[9]] = max(latest.get(r[9], 0), r[4])
    if len(rows) > MAX_TREE and newest_row is not None:
        last = max((r[5] or 0) for r in rows)
        c.execute("UPDATE messages SET thread_pos=?, thread_depth=1 WHERE id=?", (last + 1, newest_row))
        c.executemany(
            "UPDATE messages SET thread_date=? WHERE thread_id=? AND folder_id=? AND thread_date<>?",
            [(d, conv, f, d) for f, d in latest.items()],
        )
        return
    placed = build([Member(r[0], r[1], r[2], r[3], r[4], r[8], r[9]) for r in rows])
    updates = []
    for r in rows:
        pos, depth = placed[r[0]]
        if (r[5], r[6], r[7]) != (pos, depth, latest[r[9]]):
            updates.append((pos, depth, latest[r[9]], r[0]))
    c.executemany("UPDATE messages SET thread_pos=?, thread_depth=?, thread_date=? WHERE id=?", updates)


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
    rows = c.execute("SELECT id, message_id, in_reply_to, refs, subject FROM messages ORDER BY date, id").fetchall()
    for row_id, msgid, irt, refs, subject in rows:
        link(c, row_id, Envelope(message_id=msgid, in_reply_to=irt, references=refs, subject=subject))
