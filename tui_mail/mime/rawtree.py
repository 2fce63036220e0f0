"""The envelope's fast path: a MIME tree read straight from the raw bytes, exactly as the email parser would read it.

Anything it cannot reproduce exactly raises Unsupported, and the caller lets the email parser decide instead. Only
the structure is read here; the decisions (body or attachment) are Walk's, in structure.py.
"""

from __future__ import annotations

import binascii
import functools
import re

from .charsets import decode_bytes, decode_header_text
from .headers import clean_block, field_spans, split_offsets
from .htmltext import html_snippet_text
from .sanitize import sanitize_line

SNIPPET_PARSE_CAP = 256 * 1024
FAST_MAX_DEPTH = 8
FAST_MAX_PARTS = 64
_FAST_MAX_FALSE_BOUNDARIES = 256  # boundary-like text that is not a boundary line
_CACHED_BLOCK_LEN = 512
_CLEAN_VALUE = re.compile(rb"[\t\r\n\x20-\x7e]*")  # content header values: ASCII without controls
_PARAMS = re.compile(r'(?:\s*;\s*[A-Za-z0-9_.*-]+\s*=\s*(?:"[^"\\]*"|[^\s;"\\]+))*\s*;?\s*')
_PARAM = re.compile(r'([A-Za-z0-9_.*-]+)\s*=\s*("[^"\\]*"|[^\s;"\\]+)')
_BOUNDARY_TAIL = re.compile(rb"(?:--)?[ \t]*(\r\n|\n|\r)?")
_NOT_BLANK = re.compile(rb"[^ \t\n\r\x0b\x0c\x1c-\x1f]")  # a byte that str.strip() would keep
_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


class Unsupported(Exception):
    """The fast path met something only the email parser handles exactly."""


def unfold_boundary(value: str) -> str:
    """A boundary parameter folded over lines means the unfolded text (RFC 5322 unfolding removes the CRLF only)."""
    return value.replace("\r\n", "").replace("\n", "") if "\n" in value else value


class PartHeaders:
    """The content headers of one part, read the way compat32's Message methods read them."""

    __slots__ = ("_ctype_params", "_ctype_value", "_disposition_value", "content_id", "cte", "ctype", "disposition")
    ctype: str  # get_content_type()
    cte: str  # what get_payload(decode=True) compares
    disposition: str  # get_content_disposition() or ""
    content_id: bool
    _ctype_value: str | None
    _disposition_value: str | None
    _ctype_params: dict[str, str] | None  # parsed on first use

    def __init__(self, values: dict[bytes, bytes]) -> None:
        for value in values.values():
            if _CLEAN_VALUE.fullmatch(value) is None:
                raise Unsupported
        ctype = values.get(b"content-type")
        self._ctype_value = ctype.decode("ascii") if ctype is not None else None
        if self._ctype_value is None:
            self.ctype = "text/plain"
        else:
            self.ctype = self._ctype_value.partition(";")[0].strip().lower()
            if self.ctype.count("/") != 1:
                self.ctype = "text/plain"
        cte = values.get(b"content-transfer-encoding")
        self.cte = cte.decode("ascii").lower() if cte is not None else ""
        disposition = values.get(b"content-disposition")
        self._disposition_value = disposition.decode("ascii") if disposition is not None else None
        self.disposition = ""
        if self._disposition_value is not None:
            self.disposition = self._disposition_value.partition(";")[0].strip().lower()
        self.content_id = bool(values.get(b"content-id"))
        self._ctype_params = None

    @property
    def ctype_value(self) -> str | None:
        """The Content-Type header's value as compat32 keeps it, None when there is none."""
        return self._ctype_value

    @property
    def disposition_value(self) -> str | None:
        """The Content-Disposition header's value as compat32 keeps it, None when there is none."""
        return self._disposition_value

    def param(self, name: str, disposition: bool = False) -> str | None:
        """get_param(name) of the Content-Type (or Content-Disposition) header, None when it is not there."""
        value = self._disposition_value if disposition else self._ctype_value
        if value is None:
            return None
        if disposition:
            params = _params_of(value)
        elif self._ctype_params is not None:
            params = self._ctype_params
        else:
            params = self._ctype_params = _params_of(value)
        found = params.get(name)
        if found is None and f"{name}*" in params:  # RFC 2231 form only: leave it to the email package
            raise Unsupported
        return found

    def filename(self) -> str:
        """The part's filename as parsed.part_filename() gives it."""
        name = self.param("filename", disposition=True)
        if name is None:
            name = self.param("name")
        if not name or not name.strip():
            return ""
        return sanitize_line(decode_header_text(name.strip()[:4096]))


def _params_of(value: str) -> dict[str, str]:
    """The parameters of a header value as compat32 get_param() returns them (first one wins), for the plain
    `; name=token` / `; name="quoted"` forms; anything else raises Unsupported."""
    main, _, rest = value.partition(";")
    if "=" in main or '"' in main or _PARAMS.fullmatch(";" + rest) is None:
        raise Unsupported
    params: dict[str, str] = {}
    for m in _PARAM.finditer(rest):
        name = m.group(1).lower()
        if "*" in name:  # RFC 2231: only remember that it is there
            name = name.split("*", 1)[0] + "*"
        found = m.group(2)
        if found[:1] == '"':
            found = found[1:-1]
        if found[:1] == "<" and found[-1:] == ">":  # email.utils.unquote() would strip these too
            raise Unsupported
        params.setdefault(name, found)
    return params


def compat_values(block: bytes, spans: dict[bytes, tuple[int, int]]) -> dict[bytes, bytes]:
    """Content header values as compat32 keeps them: first line lstripped, folds kept, trailing CR/LF removed."""
    out: dict[bytes, bytes] = {}
    for key in (b"content-type", b"content-transfer-encoding", b"content-disposition", b"content-id"):
        span = spans.get(key)
        if span is not None:
            out[key] = block[span[0] : span[1]].lstrip(b" \t").rstrip(b"\r\n")
    return out


def _part_block_headers(block: bytes) -> PartHeaders | None:
    """The content headers of a part's header block, None when the fast path cannot read it exactly."""
    if not block:
        return PartHeaders({})
    if not clean_block(block):
        return None
    try:
        return PartHeaders(compat_values(block, field_spans(block)))
    except Unsupported:
        return None


_part_block_headers_cached = functools.lru_cache(maxsize=1024)(_part_block_headers)


@functools.lru_cache(maxsize=1024)
def _top_headers_cached(items: tuple[tuple[bytes, bytes], ...]) -> PartHeaders:
    return PartHeaders(dict(items))


def top_headers(block: bytes, spans: dict[bytes, tuple[int, int]]) -> PartHeaders:
    """The message's own content headers (remembered for the common short ones)."""
    values = compat_values(block, spans)
    if sum(map(len, values.values())) <= _CACHED_BLOCK_LEN:
        return _top_headers_cached(tuple(sorted(values.items())))
    return PartHeaders(values)


class RawPart:
    """A part of the raw-bytes tree: its headers and payload span (a structure.Node)."""

    __slots__ = ("ctype", "disposition", "end", "h", "in_multipart", "kids", "lazy", "raw", "start")

    def __init__(
        self, raw: bytes, h: PartHeaders, start: int, end: int, kids: list[RawPart] | None, in_multipart: bool
    ) -> None:
        self.raw, self.h, self.start, self.end, self.kids, self.in_multipart = raw, h, start, end, kids, in_multipart
        self.ctype = h.ctype
        self.disposition = h.disposition
        self.lazy: tuple[RawTree, list[bytes], int] | None = None  # a multipart whose children are not read yet

    def filename(self) -> str:
        return self.h.filename()

    def content_id(self) -> bool:
        return self.h.content_id

    def children(self) -> list[RawPart] | None:
        if self.lazy is not None:
            tree, stack, depth = self.lazy
            self.lazy = None
            self.kids = tree.children(self.start, stack, depth)
        return self.kids

    def blank(self) -> bool:
        if self.kids is not None or self.lazy is not None:
            return False
        return _NOT_BLANK.search(self.raw, self.start, self.end) is None

    def damaged(self) -> bool:
        return False

    def text(self) -> str:
        """The decoded text of a body part for the snippet (first 64 KiB, HTML made text); Unsupported when only
        the email parser decodes it exactly."""
        raw, start, end = self.raw, self.start, self.end
        if self.in_multipart:  # the line break before a boundary belongs to the boundary
            if raw.startswith(b"\r\n", end - 2, end) and end - 2 >= start:
                end -= 2
            elif end > start and raw[end - 1] in (10, 13):
                end -= 1
        cte = self.h.cte
        if cte == "quoted-printable":
            data = binascii.a2b_qp(raw[start:end])
        elif cte == "base64":
            encoded = b"".join(raw[start:end].splitlines())
            pad = len(encoded) % 4
            try:
                data = binascii.a2b_base64(encoded + b"==="[: 4 - pad] if pad else encoded, strict_mode=True)
            except binascii.Error:
                raise Unsupported from None
        elif cte in _UUENCODE:
            raise Unsupported
        else:
            data = raw[start : min(end, start + 64 * 1024)]
        charset = self.h.param("charset")
        text = decode_bytes(data[: 64 * 1024], charset.lower() if charset is not None else None)[0]
        if self.h.ctype == "text/html":
            text = html_snippet_text(text)
        return text


_Boundary = tuple[int, int, bool, int]  # (index in the stack, line start, is the close delimiter, next line start)


class RawTree:
    """Reads the MIME structure of raw[:256 KiB] into RawParts, like compat32 would parse it."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.cap = min(len(raw), SNIPPET_PARSE_CAP)
        self.parts = 0
        self.false_boundaries = 0

    def next_boundary(self, pos: int, stack: list[bytes]) -> _Boundary | None:
        """The first line at or after pos that the email parser takes for a boundary of `stack`; None at the end."""
        raw, cap = self.raw, self.cap
        best: _Boundary | None = None
        for index, sep in enumerate(stack):
            i = pos
            limit = cap if best is None else min(cap, best[1] + len(sep))
            while True:
                i = raw.find(sep, i, limit)
                if i < 0:
                    break
                before = raw[i - 1] if i > 0 else 10
                if before == 13:
                    raise Unsupported  # a bare CR starts a line for the email parser
                if before == 10:
                    m = _BOUNDARY_TAIL.match(raw, i + len(sep), cap)
                    assert m is not None
                    eol = m.group(1)
                    if eol == b"\r":
                        raise Unsupported
                    if eol is not None or m.end() == cap:
                        close = raw.startswith(b"--", i + len(sep), cap)
                        best = (index, i, close, m.end())
                        break
                self.false_boundaries += 1
                if self.false_boundaries > _FAST_MAX_FALSE_BOUNDARIES:
                    raise Unsupported  # pathological input: not worth a Python loop per occurrence
                i += 1
        return best

    def part_headers(self, pos: int, stack: list[bytes]) -> tuple[PartHeaders, int]:
        """Content headers of the part starting at pos, and where its body starts."""
        raw = self.raw
        block_end, body_start = split_offsets(raw, pos, self.cap)
        if body_start < 0:
            raise Unsupported  # headers running into the next boundary or the end
        block = raw[pos:block_end]
        for sep in stack:
            if block.startswith(sep) or b"\n" + sep in block:
                raise Unsupported
        h = _part_block_headers_cached(block) if len(block) <= _CACHED_BLOCK_LEN else _part_block_headers(block)
        if h is None:
            raise Unsupported
        return h, body_start

    def build(self, h: PartHeaders, body_start: int, stack: list[bytes], depth: int) -> tuple[RawPart, int | None]:
        """The part whose headers are h, and where the enclosing multipart resumes (None: the end). A multipart's
        children are read when the walk asks for them (RawPart.children), so a walk that stops early reads less."""
        self.parts += 1
        if self.parts > FAST_MAX_PARTS or depth > FAST_MAX_DEPTH:
            raise Unsupported
        maintype, _, subtype = h.ctype.partition("/")
        if maintype == "multipart":
            boundary = h.param("boundary")
            if boundary is None or subtype == "digest":
                raise Unsupported
            boundary = unfold_boundary(boundary).rstrip()
            if not boundary:
                raise Unsupported
            sep = b"--" + boundary.encode("ascii")
            if any(s.startswith(sep) or sep.startswith(s) for s in stack):
                raise Unsupported
            node = RawPart(self.raw, h, body_start, body_start, None, bool(stack))
            node.lazy = (self, [*stack, sep], depth)
            # The parent resumes at its next boundary line: the email parser ends this multipart there too.
            nxt = self.next_boundary(body_start, stack) if stack else None
            return node, (None if nxt is None else nxt[1])
        nxt = self.next_boundary(body_start, stack) if stack else None
        end = self.cap if nxt is None else nxt[1]
        return RawPart(self.raw, h, body_start, end, None, bool(stack)), (None if nxt is None else nxt[1])

    def children(self, body_start: int, stack: list[bytes], depth: int) -> list[RawPart]:
        """The parts of the multipart whose body starts at body_start and whose boundary is stack[-1]."""
        own = len(stack) - 1
        first = self.next_boundary(body_start, stack)
        if first is None or first[0] != own or first[2]:
            raise Unsupported  # no start boundary (the parser salvages), or an outer boundary comes first
        nxt: _Boundary | None = first
        kids: list[RawPart] = []
        while nxt is not None and nxt[0] == own and not nxt[2]:
            pos = nxt[3]
            child_h, child_body = self.part_headers(pos, stack)
            child, resume = self.build(child_h, child_body, stack, depth + 1)
            if resume == pos:
                raise Unsupported
            kids.append(child)
            nxt = None if resume is None else self.next_boundary(resume, stack)
        return kids


def raw_tree(raw: bytes, block: bytes, spans: dict[bytes, tuple[int, int]], body_start: int) -> RawPart | None:
    """The MIME tree of a message read from its bytes, or None when only the email parser can read it exactly."""
    if body_start > SNIPPET_PARSE_CAP or not block or not clean_block(block):
        return None
    try:
        return RawTree(raw).build(top_headers(block, spans), body_start, [], 0)[0]
    except Exception:  # Unsupported, or anything unforeseen: the email parser decides
        return None
