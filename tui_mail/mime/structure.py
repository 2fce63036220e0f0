"""The one MIME-tree walk: which parts are shown as the body, which are attachments, what the user is told.

The envelope at sync time walks a cheap tree read from the raw bytes (rawtree.py), the reader walks the email
parser's tree (parsed.py); both go through Walk, so the list's paperclip and the reader's attachments agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_DEPTH = 50
MAX_PARTS = 1000
NOTE_DAMAGED = "The message's MIME structure is damaged; showing what could be read."
NOTE_TOO_DEEP = f"The message is nested more than {MAX_DEPTH} levels deep; deeper parts are not shown."
NOTE_TOO_MANY = f"The message has more than {MAX_PARTS} parts; the rest are not shown."
NOTE_BAD_ENCODING = "Part of the message was badly encoded; showing what could be decoded."
NOTE_ENCRYPTED = "This message is encrypted; tui-mail cannot decrypt it."
NOTE_UNPARSEABLE = "The message could not be parsed; showing its raw text."

BODY_TYPES = frozenset({"text/plain", "text/html"})
# Other text parts shown inline when unnamed (bounces, rich text); the rest (calendar, vcard, csv ...) are attachments.
EXTRA_TEXT_TYPES = frozenset({"text/rfc822-headers", "text/enriched", "text/markdown", "text/x-markdown"})
SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)


class Node(Protocol):
    """One MIME part as the walk sees it (raw-bytes tree or email-parser tree)."""

    @property
    def ctype(self) -> str: ...  # "type/subtype", lowercased

    @property
    def disposition(self) -> str: ...  # "attachment", "inline" or ""

    def filename(self) -> str: ...  # decoded and sanitised, "" when unnamed

    def content_id(self) -> bool: ...

    def children(self) -> Sequence[Node] | None: ...  # None for a leaf (or a multipart whose boundary was never found)

    def blank(self) -> bool: ...  # the payload is empty or only whitespace

    def damaged(self) -> bool: ...  # the parser reported a broken structure here


@dataclass(slots=True)
class Found:
    """An attachment the walk found."""

    node: Node
    content_type: str
    is_signature: bool = False


BODY, ATTACHMENT, SIGNATURE = "body", "attachment", "signature"


def classify(node: Node, in_related: bool, shown: bool) -> str | None:
    """What a leaf part is: BODY (shown as text), ATTACHMENT, SIGNATURE, or None (not listed at all).

    `shown` is False inside an alternative that is not displayed: there only what the sender attached (a named part
    or a Content-Disposition: attachment) is listed; its text and unnamed inline resources are not.
    """
    ctype = node.ctype
    disposition = node.disposition
    kind: str | None
    if disposition == "attachment":
        kind = SIGNATURE if ctype in SIGNATURE_TYPES else ATTACHMENT
    elif ctype in BODY_TYPES or (ctype in EXTRA_TEXT_TYPES and not node.filename()):
        return BODY if shown else None
    elif in_related and node.content_id() and not node.filename():
        return None  # an inline resource of an HTML body (logo, spacer): not something the user attached
    else:
        kind = SIGNATURE if ctype in SIGNATURE_TYPES else ATTACHMENT
    if node.blank():
        return None  # nothing to save (a message without a body has no attachment)
    if not shown and (kind == SIGNATURE or (disposition != "attachment" and not node.filename())):
        return None
    return kind


def choose_alternative(children: Sequence[Node]) -> Node | None:
    """The alternative to display: text/plain preferred (when not empty), else the richest (last) HTML or multipart
    alternative, else the last one."""
    for c in children:
        if c.ctype == "text/plain" and c.disposition != "attachment" and not c.blank():
            return c
    for c in reversed(children):
        if c.ctype == "text/html" or c.ctype.startswith("multipart/"):
            return c
    return children[-1] if children else None


class StopWalk(Exception):
    """Raised by a Walk subclass that knows all it needs; run() returns what was found so far."""


class Walk:
    """One pass over a MIME tree: body parts in display order, attachments anywhere in the tree, and notes."""

    def __init__(self, max_depth: int = MAX_DEPTH, max_parts: int = MAX_PARTS) -> None:
        self.bodies: list[Node] = []
        self.attachments: list[Found] = []
        self.notes: list[str] = []
        self._count = 0
        self._max_depth = max_depth
        self._max_parts = max_parts

    def note(self, text: str) -> None:
        """Add a note for the user (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def run(self, root: Node) -> Walk:
        """Walk the tree from its root; returns self."""
        try:
            self._visit(root, 0, False, True)
        except StopWalk:
            pass
        return self

    def found_body(self, node: Node) -> None:
        """A body part, in display order (a subclass may raise StopWalk once it knows enough)."""
        self.bodies.append(node)

    def found_attachment(self, found: Found) -> None:
        """An attachment (a subclass may raise StopWalk once it knows enough)."""
        self.attachments.append(found)

    def _visit(self, node: Node, depth: int, in_related: bool, shown: bool) -> None:
        self._count += 1
        if self._count > self._max_parts:
            self.note(NOTE_TOO_MANY)
            return
        if node.damaged():
            self.note(NOTE_DAMAGED)
        ctype = node.ctype
        maintype, _, subtype = ctype.partition("/")
        if maintype == "message":  # a forwarded message: an attachment, shown branch or not (unless empty)
            if not node.blank():
                self.found_attachment(Found(node, ctype))
            return
        children = node.children()
        if children is not None:
            if depth >= self._max_depth:
                self.note(NOTE_TOO_DEEP)
                return
            if subtype == "encrypted":
                self.note(NOTE_ENCRYPTED)
            if subtype == "alternative":
                chosen = choose_alternative(children)
                for child in children:
                    self._visit(child, depth + 1, False, shown and child is chosen)
                return
            for child in children:
                self._visit(child, depth + 1, subtype == "related", shown)
            return
        if maintype == "multipart":  # boundary never found: show the body as text
            self.note(NOTE_DAMAGED)
            if shown:
                self.found_body(node)
            return
        kind = classify(node, in_related, shown)
        if kind == BODY:
            self.found_body(node)
        elif kind is not None:
            self.found_attachment(Found(node, ctype, kind == SIGNATURE))

    @property
    def has_attachments(self) -> bool:
        """What the list's paperclip shows: an attachment other than a signature."""
        return any(not a.is_signature for a in self.attachments)
