"""HTML -> plain text for the reader and the list snippet (lxml + inscriptis; nothing remote is ever fetched)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from .sanitize import SURROGATE_RE

_HTML_CAP = 4 * 1024 * 1024
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SHOWN_SCHEMES = ("http://", "https://", "mailto:", "ftp://", "tel:")


def html_tree(html: str) -> Any:
    """The lxml tree of an HTML body (first 4 MiB, nothing fetched), None when it is empty or unreadable."""
    import lxml.html

    html = SURROGATE_RE.sub("\ufffd", _XML_DECL.sub("", html[:_HTML_CAP]))
    if not html.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, no_network=True)
    try:
        return lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except Exception:
        return None


def _strip_tags(html: str) -> str:
    return unescape(_TAG_RE.sub(" ", html))


def html_to_text(html: str) -> str:
    """Readable text for an HTML body; links become numbered footnotes `[1] https://...`, images their alt text."""
    try:
        return _html_to_text(html)
    except Exception:
        return _strip_tags(html[:_HTML_CAP])


def _html_to_text(html: str) -> str:
    from inscriptis import Inscriptis
    from inscriptis.model.config import ParserConfig

    tree = html_tree(html)
    if tree is None:
        return ""
    for bad in tree.xpath("//script|//style|//head|//title|//noscript|//template"):
        bad.drop_tree()
    links: list[str] = []
    numbers: dict[str, int] = {}
    for a in tree.iter("a"):
        href = " ".join((a.get("href") or "").split())
        if not href.lower().startswith(_SHOWN_SCHEMES) or len(href) > 2048:
            continue
        if href not in numbers:
            links.append(href)
            numbers[href] = len(links)
        label = a.text_content().strip()
        marker = f"[{numbers[href]}]"
        if label and label != href:
            a.tail = f" {marker}" + (a.tail or "")
        else:  # a bare URL as its own label: the footnote says it all
            for child in list(a):
                a.remove(child)
            a.text = marker
    for img in tree.iter("img"):
        alt = " ".join((img.get("alt") or "").split())
        img.tail = (f"[image: {alt}]" if alt else "") + (img.tail or "")
    text = Inscriptis(tree, ParserConfig(display_images=False, display_links=False)).get_text()
    if not text.strip():  # e.g. nesting deeper than the HTML parser accepts: keep the words at least
        text = " ".join(_strip_tags(html[:_HTML_CAP]).split())
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    if links:
        text += "\n\n" + "\n".join(f"[{i}] {url}" for i, url in enumerate(links, 1))
    return text


_BLOCK_TAGS = frozenset(
    "p div br li tr td th h1 h2 h3 h4 h5 h6 table ul ol blockquote pre section article header footer".split()
)


def html_snippet_text(html: str) -> str:
    """Cheap HTML -> text for list snippets (no layout work)."""
    tree = html_tree(html[: 64 * 1024])
    if tree is None:
        return ""
    try:
        for bad in tree.xpath("//script|//style|//head|//title|//noscript|//template"):
            bad.drop_tree()
        for el in tree.iter(*_BLOCK_TAGS):
            el.tail = " " + (el.tail or "")
        text = str(tree.text_content())
        return text if text.strip() else _strip_tags(html[: 64 * 1024])
    except Exception:
        return _strip_tags(html[: 64 * 1024])
