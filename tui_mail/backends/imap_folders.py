"""IMAP folders and their roles: the folder list, the personal namespace (RFC 2342), which folder is Sent/Drafts/
Trash (SPECIAL-USE or well-known names), creating role folders where the server wants them, and uploading the
Sent copies and drafts that exist only in the cache.

A mixin of ImapBackend: it uses the backend's connection (``_c``), capabilities, selection and cache.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response

from ..errors import ProtocolError, describe
from ..models import DRAFT, SEEN, Folder, Role
from ..store.cache import Cache
from ..store.local_copies import LocalCopy, add_note, drop_if_empty_local, local_copies, place_uploaded
from .base import SyncResult

log = logging.getLogger(__name__)

MAX_FOLDERS = 10_000  # a LIST answer beyond this is refused with a clear error (a hostile or broken server)
NAMESPACE_META = "imap_personal_namespace"  # cache meta: "<prefix>\n<separator>" of the personal namespace

# SPECIAL-USE attributes (RFC 6154) -> roles.
_SPECIAL_USE: dict[str, Role] = {
    "\\sent": Role.SENT,
    "\\drafts": Role.DRAFTS,
    "\\trash": Role.TRASH,
    "\\junk": Role.JUNK,
    "\\archive": Role.ARCHIVE,
}
# Well-known names, for the roles no folder is marked with by a SPECIAL-USE attribute.
_WELL_KNOWN: dict[str, Role] = {
    "sent": Role.SENT,
    "sent items": Role.SENT,
    "sent messages": Role.SENT,
    "sent mail": Role.SENT,
    "drafts": Role.DRAFTS,
    "draft": Role.DRAFTS,
    "trash": Role.TRASH,
    "deleted items": Role.TRASH,
    "deleted messages": Role.TRASH,
    "junk": Role.JUNK,
    "junk e-mail": Role.JUNK,
    "spam": Role.JUNK,
    "archive": Role.ARCHIVE,
    "archives": Role.ARCHIVE,
}
_APPENDUID = re.compile(rb"\[APPENDUID\s+(\d+)\s+(\d+)\]", re.IGNORECASE)
# The folder a role gets when tui-mail has to create it (inside the personal namespace, e.g. "INBOX.Sent").
ROLE_FOLDER_NAMES: dict[Role, str] = {
    Role.SENT: "Sent",
    Role.DRAFTS: "Drafts",
    Role.TRASH: "Trash",
    Role.JUNK: "Junk",
    Role.ARCHIVE: "Archive",
}
# Local-only copies uploaded by the sync once the server has a folder for their role, with the flags they get.
_UPLOADED_ROLES: tuple[tuple[Role, tuple[str, ...]], ...] = ((Role.SENT, (SEEN,)), (Role.DRAFTS, (DRAFT, SEEN)))


def folder_role(name: str, delimiter: str, flags: Iterable[str], server_has_special_use: bool) -> Role:
    """The role of a LISTed folder: INBOX by name, else its SPECIAL-USE attribute; well-known names (by the
    last path component, e.g. "Sent Messages", "Deleted Items") only when the server announces no SPECIAL-USE."""
    if name.upper() == "INBOX":
        return Role.INBOX
    for f in flags:
        role = _SPECIAL_USE.get(f.lower())
        if role is not None:
            return role
    if server_has_special_use:
        return Role.NONE
    leaf = name.rsplit(delimiter, 1)[-1] if delimiter else name
    return _WELL_KNOWN.get(leaf.strip().lower(), Role.NONE)


# (name, delimiter, role, selectable) of one LISTed folder.
FolderEntry = tuple[str, str, Role, bool]


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def list_entries(entries: Iterable[tuple[Iterable[object], object, object]]) -> list[FolderEntry]:
    """LIST answers (flags, delimiter, name) -> (name, delimiter, role, selectable). Roles come from SPECIAL-USE
    attributes; a role no folder is marked with falls back to the well-known names (also under a prefix)."""
    listed = [
        (_text(name), _text(delim) if delim else "", {_text(f).lower() for f in flags})
        for flags, delim, name in entries
    ]
    marked = {role for _n, _d, lflags in listed for f in lflags if (role := _SPECIAL_USE.get(f)) is not None}
    out = []
    for name, sep, lflags in listed:
        if name.upper() == "INBOX":
            name = "INBOX"
        selectable = "\\noselect" not in lflags and "\\nonexistent" not in lflags
        role = folder_role(name, sep, lflags, bool(marked))
        if role is Role.NONE and marked:
            by_name = folder_role(name, sep, (), False)
            if by_name not in marked and by_name is not Role.INBOX:
                role = by_name
        out.append((name, sep, role, selectable))
    return out


def appenduid(resp: object) -> tuple[int, int] | None:
    """(uidvalidity, uid) from an APPEND response's APPENDUID code (RFC 4315), if the server sent one."""
    m = _APPENDUID.search(resp if isinstance(resp, bytes) else str(resp).encode())
    return (int(m.group(1)), int(m.group(2))) if m else None


def _parse_personal_namespace(c: imapclient.IMAPClient, data: list[Any]) -> Any:
    """The personal part of a NAMESPACE answer, as imapclient's namespace() gives it: ((prefix, separator), ...)."""
    try:
        parsed = parse_response(data)
    except Exception as e:  # a malformed answer: no namespace, as if the server had none
        log.info("NAMESPACE answer not understood: %s", e)
        return None
    item = parsed[0] if parsed else None
    if not item:
        return None
    return tuple((decode_utf7(p) if c.folder_encode else p, _text(sep) if sep else sep) for p, sep in item)


class FolderGone(Exception):
    """SELECT failed because the folder does not exist (anymore)."""


class ImapFolders:
    """Folder list, namespace, role folders and local-copy upload; mixed into ImapBackend."""

    cache: Cache
    _namespace: tuple[str, str] | None

    # Provided by ImapBackend.
    @property
    def _c(self) -> imapclient.IMAPClient:
        raise NotImplementedError

    @property
    def _where(self) -> str:
        raise NotImplementedError

    def _has(self, cap: str) -> bool:
        raise NotImplementedError

    def _select(self, name: str, readonly: bool) -> dict[bytes, Any]:
        raise NotImplementedError

    def _list(self) -> list[FolderEntry]:
        """(name, delimiter, role, selectable) for every server folder. Roles come from SPECIAL-USE attributes;
        a role no folder is marked with falls back to the well-known names (also under the personal prefix)."""
        entries = self._c.list_folders()
        if len(entries) > MAX_FOLDERS:
            raise ProtocolError(
                f"{self._where} lists {len(entries)} folders, more than tui-mail handles ({MAX_FOLDERS}); "
                "remove some on the server."
            )
        return list_entries(entries)

    def _personal_namespace(self) -> tuple[str, str]:
        """(prefix, separator) of the personal namespace (RFC 2342), e.g. ("INBOX.", ".") on Courier; ("", "")
        when the server has no NAMESPACE. Asked once per connection and remembered in the cache (meta), so
        folders made offline (a Trash on first delete) get the server's full name."""
        if self._namespace is None:
            personal = None
            if self._has("NAMESPACE"):
                try:
                    personal = self._c.namespace().personal
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as e:
                    log.info("NAMESPACE failed: %s", e)
            self._remember_namespace(personal)
        assert self._namespace is not None
        return self._namespace

    def _remember_namespace(self, personal: Any) -> None:
        ns = ("", "")
        if personal:
            prefix, sep = personal[0]
            ns = (_text(prefix), _text(sep) if sep else "")
        self._namespace = ns
        if self.cache.get_meta(NAMESPACE_META) != "\n".join(ns):
            self.cache.set_meta(NAMESPACE_META, "\n".join(ns))

    def _list_and_namespace(self) -> list[FolderEntry]:
        """_list(), with the NAMESPACE question (when not asked yet on this connection) sent in the same flight:
        one round trip for both."""
        if self._namespace is not None or not self._has("NAMESPACE"):
            entries = self._list()
            self._personal_namespace()
            return entries
        c = self._c
        tag = c._imap._command("NAMESPACE")
        try:
            entries = self._list()
        finally:
            try:
                typ, _ = c._imap._command_complete("NAMESPACE", tag)  # answered before LIST's: already read
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:  # BAD
                log.info("NAMESPACE failed: %s", e)
                typ = "BAD"
            data = c._imap.untagged_responses.pop("NAMESPACE", None)
        self._remember_namespace(_parse_personal_namespace(c, data) if typ == "OK" and data else None)
        return entries

    def _sync_folder_list(self, result: SyncResult) -> list[Folder]:
        entries = self._list_and_namespace()
        # One folder per role: the first one listed keeps it.
        seen_roles: set[Role] = set()
        names: set[str] = set()
        for name, delim, role, selectable in entries:
            if not selectable:
                continue
            if role is not Role.NONE:
                if role in seen_roles:
                    role = Role.NONE
                seen_roles.add(role)
            self.cache.ensure_folder(name, delim or "/", role)
            names.add(name)
        kept: list[tuple[Folder, str, int]] = []
        for f in self.cache.folders():
            if not f.local_only and f.name not in names:
                rescued = self.cache.delete_folder(f.id)  # rows kept only here survive in a local folder
                if rescued is not None:
                    kept.append((f, *rescued))
        names.update(self._upload_local_copies(result, entries))
        from ..transfer import upload_pending_imports  # an interrupted `tui-mail import` resumes here

        result.warnings.extend(upload_pending_imports(self, self.cache))
        for gone, local, n in kept:
            where = local
            if self.cache.folder_by_name(local) is None:  # all uploaded to the role's server folder meanwhile
                dest = self.cache.folder_by_role(gone.role)
                where = f"{dest.name} on the server" if dest is not None else local
            text = (
                f"The folder {gone.name} is gone from the server; {n} message(s) kept only on this computer "
                f"were moved to {where}."
            )
            result.warnings.append(text)
            add_note(self.cache, "folder-gone", text)
        return [f for f in self.cache.folders() if not f.local_only and f.name in names]

    def _create_local_role_folders(self, result: SyncResult) -> None:
        """Create on the server the role folders made in the cache before the server had them (a Trash made by
        the first delete on a server without one), so the replay can move mail there."""
        wanted = [
            f
            for f in self.cache.folders()
            if not f.local_only and f.uidvalidity is None and f.role in ROLE_FOLDER_NAMES
        ]
        if not wanted:
            return
        prefix = self._personal_namespace()[0]
        wanted = [f for f in wanted if f.name == prefix + ROLE_FOLDER_NAMES[f.role]]  # a name tui-mail gave it
        listed = {name for name, _d, _r, _s in self._list()}
        for f in wanted:
            if f.name in listed:
                continue
            try:
                self._c.create_folder(f.name)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                result.warnings.append(f"The server refused to create the folder {f.name} ({describe(e)}).")

    def _upload_local_copies(self, result: SyncResult, entries: list[FolderEntry]) -> set[str]:
        """APPEND the Sent copies and drafts that exist only in the cache to the server folder of their role
        (created in the personal namespace when missing). A copy already on the server (found by Message-ID,
        e.g. after an interrupted upload) is not appended again. Returns the server folders it used."""
        used: set[str] = set()
        for role, flags in _UPLOADED_ROLES:
            copies = local_copies(self.cache, role)
            if not copies:
                continue
            try:
                name = self._role_folder(role, ROLE_FOLDER_NAMES[role], entries)
                dest = self.cache.folder_by_name(name)
                if dest is None:
                    continue
                used.add(name)
                self._upload(name, dest.id, copies, flags, result)
            except IMAPClientAbortError:
                raise
            except (ProtocolError, IMAPClientError, FolderGone) as e:
                why = str(e) if isinstance(e, ProtocolError) else f"the server refused the upload ({describe(e)})."
                result.warnings.append(f"{len(copies)} message(s) stay on this computer only for now: {why}")
        return used

    def _upload(
        self, name: str, dest_id: int, copies: list[LocalCopy], flags: tuple[str, ...], result: SyncResult
    ) -> None:
        validity = self._select(name, readonly=True).get(b"UIDVALIDITY")
        for copy in copies:
            uid: int | None = None
            if copy.message_id:
                found = self._c.search(["HEADER", "Message-ID", copy.message_id])
                uid = max(found) if found else None
            if uid is None:
                try:
                    resp = self._c.append(name, copy.raw, flags=list(copy.flags | set(flags)))
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as e:
                    result.warnings.append(f"The server refused to store a message in {name} ({describe(e)}).")
                    continue
                got = appenduid(resp)
                if got is not None:
                    validity, uid = got
            place_uploaded(self.cache, copy.id, dest_id, uid, validity)
            if copy.folder_id != dest_id:
                drop_if_empty_local(self.cache, copy.folder_id)

    def _role_folder(self, role: Role, default: str, entries: list[FolderEntry] | None = None) -> str:
        """The server folder with this role: by SPECIAL-USE or well-known name, else created in the personal
        namespace ("INBOX.Sent" on Courier-like servers; under INBOX when a server without NAMESPACE refuses a
        top-level folder). Raises ProtocolError when the server refuses."""
        entries = self._list() if entries is None else entries
        for name, _delim, r, selectable in entries:
            if r is role and selectable:
                return name
        prefix, sep = self._personal_namespace()
        sep = sep or next((d for n, d, _r, _s in entries if n == "INBOX" and d), "/")
        candidates = [prefix + default] + ([f"INBOX{sep}{default}"] if not prefix else [])
        existing = {name.lower(): name for name, _d, _r, selectable in entries if selectable}
        want = next((existing[c.lower()] for c in candidates if c.lower() in existing), "")
        refusal = ""
        for candidate in [] if want else candidates:
            try:
                self._c.create_folder(candidate)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                if not self._c.folder_exists(candidate):
                    refusal = refusal or describe(e)
                    continue
            want = candidate
            break
        if not want:
            raise ProtocolError(f"The server refused to create the folder {candidates[0]} ({refusal}).")
        self.cache.ensure_folder(want, sep, role)
        return want
