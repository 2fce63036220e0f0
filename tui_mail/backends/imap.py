"""IMAP sync engine: brings one account's SQLite cache up to date with its IMAP server (imapclient).

Connections: the sync connection (``sync``, ``fetch_body``, ``save_sent``, ``save_draft``) is opened lazily and
must be used by one thread at a time; ``idle_wait`` uses a second, dedicated connection so an IDLE thread never
shares a socket with a sync worker. Every socket has a timeout (``incoming.timeout``).
"""

from __future__ import annotations

import dataclasses
import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import imapclient
import imapclient.imap4
import imapclient.tls
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.imapclient import seq_to_parenstr_upper
from imapclient.response_parser import parse_fetch_response

from ..config import AccountConfig
from ..errors import AuthError, ConnectError, MailError, ProtocolError, describe, tls_error
from ..faults import fault_point
from ..models import DRAFT, SEEN, Envelope, Folder, Role, SyncProgress
from ..store.cache import Cache, NewMessage
from ..tls import make_context
from .base import Capabilities, ProgressCallback, SyncResult
from .imap_folders import FolderGone as _FolderGone
from .imap_folders import ImapFolders, appenduid
from .imap_folders import folder_role as folder_role  # re-exported: the role of a LISTed folder
from .limits import limit_imap

log = logging.getLogger(__name__)

_IGNORED_FLAGS = {"\\recent"}


def parse_envelope(raw: bytes, size: int | None = None) -> Envelope:
    """Envelope of a message (headers-only or full); the MIME module does the real work."""
    from ..mime import parse_envelope as _parse

    return _parse(raw, size)


def safe_envelope(raw: bytes, size: int) -> Envelope:
    """parse_envelope, but a message the parser chokes on still gets a row (and the sync goes on)."""
    try:
        return parse_envelope(raw, size)
    except Exception:
        log.exception("could not parse a message envelope")
        return Envelope(subject="(message could not be read)", size=size)


def with_arrival_date(env: Envelope, internaldate: object) -> Envelope:
    """The envelope, dated by the server's INTERNALDATE (arrival time) when its Date header gave no usable date."""
    if env.date or not isinstance(internaldate, datetime):
        return env
    ts = int(internaldate.timestamp())  # imapclient gives naive local time (or aware): both convert correctly
    return dataclasses.replace(env, date=ts) if ts > 0 else env


def uid_sets(uids: Iterable[int], max_len: int = 4000) -> Iterator[str]:
    """Compress UIDs into IMAP sequence sets ("1:3,7"), each at most about max_len characters long."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    length = 0
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        part = str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}"
        if parts and length + len(part) + 1 > max_len:
            yield ",".join(parts)
            parts, length = [], 0
        parts.append(part)
        length += len(part) + 1
        i = j + 1
    if parts:
        yield ",".join(parts)


def parse_uid_set(text: str) -> list[int]:
    """Expand an IMAP sequence set of UIDs ("1:3,7") into a list, in the order given."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        if ":" in part:
            a, b = (int(x) for x in part.split(":", 1))
            step = 1 if b >= a else -1
            out.extend(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class _GreetingCapabilities:
    """Mixin for imaplib connections: the capabilities come from the greeting's CAPABILITY response code when it has
    one (RFC 3501 7.1), not from a CAPABILITY command: one round trip less per connection. Only the greeting's:
    after STARTTLS imaplib asks again (nothing said before the handshake counts)."""

    untagged_responses: dict[str, list[Any]]
    _encoding: str
    _greeted = False

    def _get_capabilities(self) -> None:
        code = self.untagged_responses.pop("CAPABILITY", None) if not self._greeted else None
        self._greeted = True
        if code and code[-1]:
            self.capabilities = tuple(str(code[-1], self._encoding).upper().split())
            return
        super()._get_capabilities()  # type: ignore[misc]


class _IMAP4_TLS(_GreetingCapabilities, imapclient.tls.IMAP4_TLS):
    pass


class _IMAP4(_GreetingCapabilities, imapclient.imap4.IMAP4WithTimeout):
    pass


class _Client(imapclient.IMAPClient):
    """IMAPClient over the connections above."""

    def _create_IMAP4(self) -> imaplib.IMAP4:
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _IMAP4_TLS(self.host, self.port, self.ssl_context, timeout)
        return _IMAP4(self.host, self.port, timeout)


def _flags(raw: Iterable[object]) -> frozenset[str]:
    return frozenset(f for f in (_text(x) for x in raw) if f.lower() not in _IGNORED_FLAGS)


class ImapBackend(ImapFolders):
    """One IMAP account: replays local changes, syncs folders/messages/flags, fetches bodies, appends Sent/Drafts."""

    chunk_size: int = 500  # UIDs per FETCH (and per cache transaction)
    first_page: int = 50  # envelopes in a folder's first, newest chunk: enough for a screen, stored at once
    full_chunk_bytes: int = 16 * 1024 * 1024  # at most this much message data per FETCH in download="full"

    def __init__(self, account: AccountConfig, password: str, cache: Cache) -> None:
        self.account = account
        self.cache = cache
        self._password = password
        self._client: imapclient.IMAPClient | None = None
        self._selected: str | None = None
        self._selected_info: dict[bytes, Any] = {}  # the SELECT answer of the selected folder
        self._status_ahead: dict[str, dict[bytes, Any]] = {}  # STATUS of folders asked in one flight, not used yet
        self._unchanged_folders = 0  # folders the last sync found unchanged by STATUS alone
        # The last sync found every folder as it was (no mail added or removed anywhere, nothing replayed).
        self.mailbox_unchanged = False
        self._idle_client: imapclient.IMAPClient | None = None
        self._caps: set[str] = set()
        self._enabled_now: set[str] = set()
        self._enable_tag: Any = None  # an ENABLE sent and not yet answered
        self._namespace: tuple[str, str] | None = None  # personal (prefix, separator), asked once per connection
        # Tests switch these off to exercise the fallbacks on a server that offers the extensions.
        self.use_condstore = True
        self.use_qresync = True
        self.use_move = True
        self.priority: str | None = None  # the folder to sync next (see prefer)
        self.capabilities = Capabilities(
            server_folders=True, move=True, server_flags=True, idle=account.idle, server_search=True
        )

    # -- connection -----------------------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.account.incoming.host}:{self.account.incoming.port}"

    def _open(self) -> imapclient.IMAPClient:
        """A logged-in connection, or a typed error with one sentence."""
        srv = self.account.incoming
        ctx = make_context(srv.ca_file) if srv.security != "none" else None
        client: imapclient.IMAPClient | None = None
        try:
            client = _Client(srv.host, port=srv.port, ssl=srv.security == "tls", ssl_context=ctx, timeout=srv.timeout)
            limit_imap(client._imap)
            quiet_imaplib(client._imap)
            preauth = client._imap.state == "AUTH"  # greeted with PREAUTH: the server says we are logged in
            if srv.security == "starttls":
                if preauth:
                    # RFC 3501 allows no STARTTLS after PREAUTH: going on would mean working unencrypted.
                    raise ConnectError(
                        f"{self._where} skipped the login with a PREAUTH greeting before encryption; "
                        "refusing to work over an unencrypted connection."
                    )
                if not client.has_capability("STARTTLS"):
                    raise ConnectError(f"{self._where} does not offer STARTTLS; refusing to log in without encryption.")
                client.starttls(ctx)
                # Nothing the server said before the handshake counts (STARTTLS response injection): imaplib
                # drops its read buffer and asks for CAPABILITY again; forget the untagged answers too.
                client._imap.untagged_responses.clear()
                client._cached_capabilities = None
            if not preauth:
                client.login(srv.username, self._password)
        except MailError:
            _quietly_close(client)
            raise
        except LoginError:
            _quietly_close(client)
            raise AuthError(f"{srv.host} rejected the username or password for account {self.account.name}.") from None
        except ssl.SSLError as e:  # includes an unverifiable certificate
            _quietly_close(client)
            raise tls_error(srv.host, e) from None
        except (OSError, IMAPClientAbortError) as e:
            _quietly_close(client)
            raise ConnectError(f"cannot reach {self._where}: {describe(e)}.") from None
        except IMAPClientError as e:
            _quietly_close(client)
            raise ProtocolError(
                f"{srv.host} refused the login for account {self.account.name} ({describe(e)})."
            ) from None
        return client

    def connect(self) -> None:
        """Open and log in the sync connection (done lazily by every operation that needs it)."""
        if self._client is not None:
            return
        client = self._open()
        caps: set[str] = set()
        self._enable_tag = None
        try:
            caps = {_text(c).upper() for c in client.capabilities()}
            wanted = [c for c in ("QRESYNC", "CONDSTORE") if c in caps]
            if wanted and "ENABLE" in caps:
                # Sent now, answered whenever: the reply is read with the next command's (the folder listing), and
                # looked at only when CONDSTORE/QRESYNC matter (_enabled). One round trip less.
                self._enable_tag = client._imap._command("ENABLE", *wanted)
        except (OSError, IMAPClientAbortError) as e:
            _quietly_close(client)
            raise ConnectError(f"lost the connection to {self._where} ({describe(e)}).") from None
        except IMAPClientError:
            pass  # no ENABLE: plain sync without CONDSTORE/QRESYNC
        self._client = client
        self._caps = caps
        self._enabled_now = set()
        self._namespace = None
        self.capabilities = Capabilities(
            server_folders=True,
            move=True,
            server_flags=True,
            idle=self.account.idle and "IDLE" in caps,
            server_search=True,
        )

    @property
    def _c(self) -> imapclient.IMAPClient:
        self.connect()
        assert self._client is not None
        return self._client

    def _has(self, cap: str) -> bool:
        return cap in self._caps

    @property
    def _enabled(self) -> set[str]:
        """What ENABLE turned on for this connection (its reply is read here if no later command read it yet)."""
        tag, self._enable_tag = self._enable_tag, None
        if tag is not None and self._client is not None:
            imap = self._client._imap
            try:
                typ, _ = imap._command_complete("ENABLE", tag)
                data = imap.untagged_responses.pop("ENABLED", None) if typ == "OK" else None
            except (OSError, IMAPClientAbortError) as e:
                self._drop()
                raise ConnectError(f"lost the connection to {self._where} ({describe(e)}).") from None
            except IMAPClientError:
                data = None  # no ENABLE: plain sync without CONDSTORE/QRESYNC
            enabled = {w.upper() for d in data or [] for w in _text(d).split()}
            if "QRESYNC" in enabled:
                enabled.add("CONDSTORE")
            self._enabled_now = enabled
        return self._enabled_now

    @property
    def _condstore(self) -> bool:
        return self.use_condstore and "CONDSTORE" in self._enabled

    @property
    def _qresync(self) -> bool:
        return self.use_qresync and self._condstore and "QRESYNC" in self._enabled

    def _guard(self, what: Callable[[], Any]) -> Any:
        """Run an operation on the sync connection; a dropped connection becomes ConnectError (and is reset)."""
        try:
            return what()
        except MailError:
            raise
        except (OSError, IMAPClientAbortError) as e:
            self._drop()
            raise ConnectError(f"lost the connection to {self._where} ({describe(e)}).") from None

    def _drop(self) -> None:
        _quietly_close(self._client)
        self._client = None
        self._selected = None
        self._enable_tag = None

    def close(self) -> None:
        """Log out both connections; errors ignored; safe to call twice."""
        self._drop()
        idle, self._idle_client = self._idle_client, None
        _quietly_close(idle)

    # -- sync -----------------------------------------------------------------------------------------------------

    def sync(self, progress: ProgressCallback | None = None) -> SyncResult:
        """Replay pending local changes, then bring every folder of the cache up to date with the server: the
        folder list, then each folder's flags and new envelopes (newest first; the preferred folder, then INBOX,
        then the rest), then, with download = "full", the bodies, newest first."""
        with self.cache.background_checkpoints():  # bodies hit the disk while the next chunk downloads
            return self._guard(lambda: self._sync(progress))  # type: ignore[no-any-return]

    def prefer(self, folder: str | None) -> None:
        """Sync this folder next (the one the user is looking at); safe to call from another thread while a sync
        runs, it is read between folders. None: the usual order."""
        self.priority = folder

    def _report(self, progress: ProgressCallback | None, **kw: Any) -> None:
        if progress is not None:
            progress(SyncProgress(account=self.account.name, **kw))

    def fetch_first_page(self) -> int:
        """Store the newest page of a never-synced INBOX before anything else (no LIST, no SEARCH of the whole
        folder): the first screen of a new account. Returns the rows stored (0 when INBOX was synced before)."""
        from .imap_first_page import fetch_first_page

        try:
            return self._guard(lambda: fetch_first_page(self))  # type: ignore[no-any-return]
        except IMAPClientAbortError:
            raise
        except (_FolderGone, IMAPClientError) as e:  # the folder sync that follows says what is wrong
            log.info("no early first page of INBOX: %s", e)
            return 0

    def _sync(self, progress: ProgressCallback | None) -> SyncResult:
        result = SyncResult()
        self.mailbox_unchanged = False
        self._unchanged_folders = 0
        known = self.cache.synced_folder_names()
        self.connect()
        if self.priority in (None, "INBOX"):
            stored = self.fetch_first_page()
            if stored:
                result.new_messages += stored
                self._report(progress, stage="headers", folder="INBOX", done=stored, total=stored,
                             new_messages=result.new_messages)  # fmt: skip
        self._report(progress, stage="send")
        self._create_local_role_folders(result)
        self._replay(result)
        self._report(progress, stage="folders")
        folders = self._sync_folder_list(result)
        result.folders = len(folders)
        self._report(progress, stage="folders", done=len(folders), total=len(folders))  # the list is stored
        from .imap_folder_sync import status_ahead

        self._status_ahead = status_ahead(self, folders)  # one round trip for every folder's "anything new?"
        try:
            self._each_folder(folders, result, progress, "headers", lambda f: self._sync_folder(f, result, progress))
        finally:
            self._status_ahead = {}
        self.mailbox_unchanged = (
            self._unchanged_folders == len(folders)
            and {f.name for f in folders} == known
            and not result.actions_replayed
            and not result.new_messages
            and not result.removed
        )
        if self.account.download == "full":
            self._each_folder(folders, result, progress, "bodies", lambda f: self._sync_bodies(f, result, progress))
        self._report(progress, stage="done", done=len(folders), total=len(folders), new_messages=result.new_messages)
        return result

    def _each_folder(
        self,
        folders: list[Folder],
        result: SyncResult,
        progress: ProgressCallback | None,
        stage: str,
        work: Callable[[Folder], None],
    ) -> None:
        """Run work on every folder, the preferred one (self.priority, re-read after each folder) first, then
        INBOX, then the rest in list order; one folder's failure is a warning, a lost connection ends the sync."""
        pending = list(folders)
        failed: set[int] = set()
        while pending:
            folder = next((f for f in pending if f.name == self.priority), None)
            folder = folder or next((f for f in pending if f.role is Role.INBOX), pending[0])
            pending.remove(folder)
            if folder.id in failed:
                continue
            self._report(progress, stage=stage, folder=folder.name, done=len(folders) - len(pending) - 1,
                         total=len(folders), new_messages=result.new_messages)  # fmt: skip
            try:
                work(folder)
            except _FolderGone:
                failed.add(folder.id)
                result.warnings.append(f"The folder {folder.name} could not be opened on the server; skipped.")
            except IMAPClientAbortError:
                raise  # the connection is gone (an IMAPClientError subclass): not one folder's problem
            except IMAPClientError as e:
                failed.add(folder.id)
                log.warning("sync of %s failed: %s", folder.name, e)
                result.warnings.append(f"The folder {folder.name} could not be synced ({describe(e)}).")

    # folders

    # one folder

    def _fetch_flags(
        self, uids: Sequence[int], modifiers: list[str] | None = None, items: str = "(FLAGS)"
    ) -> dict[int, dict[bytes, Any]]:
        """UID FETCH of small items (FLAGS by default) for many UIDs in few round trips: the UIDs go as compressed
        sequence sets, which imapclient 4.1's fetch() cannot take (it raises on "1:500"), so this issues the
        command itself."""
        c = self._c
        wanted = set(uids)
        out: dict[int, dict[bytes, Any]] = {}
        for spec in uid_sets(uids):
            args = ["FETCH", spec, items]
            if modifiers:
                args.append(seq_to_parenstr_upper(modifiers))
            typ, data = c._imap.uid(*args)
            if typ != "OK":
                raise IMAPClientError(f"FETCH failed: {_text(data[0]) if data else typ}")
            for uid, d in parse_fetch_response([x for x in data if x is not None], c.normalise_times, True).items():
                if uid in wanted:
                    out[uid] = d
        return out

    def _select(self, name: str, readonly: bool) -> dict[bytes, Any]:
        # imaplib's SELECT drops the untagged answers read so far: ENABLE's, when already read, is taken first; if
        # not, it arrives with SELECT's answer (it was sent before) and is taken right after. No wait either way.
        if self._enable_tag is not None and self._c._imap.tagged_commands.get(self._enable_tag) is not None:
            self._enabled  # noqa: B018
        try:
            info = self._c.select_folder(name, readonly=readonly)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as e:
            self._selected = None
            self._enabled  # noqa: B018
            raise _FolderGone(str(e)) from None
        self._enabled  # noqa: B018
        self._selected = name
        self._selected_info = info
        return info  # type: ignore[no-any-return]

    def _leave(self) -> None:
        """Leave the selected folder: Dovecot answers STATUS for the selected folder from the session's (stale)
        view, so the cheap STATUS check needs nothing selected. UNSELECT never expunges (CLOSE would)."""
        if self._selected is None:
            return
        if self._has("UNSELECT"):
            self._c.unselect_folder()
        else:
            self._c.noop()
        self._selected = None

    def _sync_folder(self, folder: Folder, result: SyncResult, progress: ProgressCallback | None) -> None:
        from .imap_folder_sync import FolderSync  # imported here: that module builds on this one's helpers

        FolderSync(self, folder, result, progress).run()

    def _sync_bodies(self, folder: Folder, result: SyncResult, progress: ProgressCallback | None) -> None:
        from .imap_folder_sync import FolderSync

        FolderSync(self, self.cache.folder(folder.id), result, progress).fetch_bodies()

    # -- replaying local changes ------------------------------------------------------------------------------------

    def _replay(self, result: SyncResult) -> None:
        from .imap_replay import replay  # its own module: replaying local changes is one job

        replay(self, result)

    def fetch_body(self, message_id: int) -> bytes:
        """Download the full message with BODY.PEEK[] (never marks it read), cache it and return it."""
        cached = self.cache.body(message_id)
        if cached is not None:
            return cached
        folder_id, uid, uidvalidity = self.cache.message_location(message_id)
        if uid is None:
            raise ProtocolError("This message has not reached the server yet; sync first.")
        folder = self.cache.folder(folder_id)

        def run() -> bytes:
            try:
                info = self._select(folder.name, readonly=True)
            except _FolderGone:
                raise ProtocolError(f"The folder {folder.name} no longer exists on the server.") from None
            if uidvalidity is not None and info.get(b"UIDVALIDITY") != uidvalidity:
                raise ProtocolError(f"The folder {folder.name} changed on the server; sync before opening.")
            data = self._c.fetch([uid], ["BODY.PEEK[]"]).get(uid)
            if not data or data.get(b"BODY[]") is None:
                raise ProtocolError("This message is no longer on the server.")
            return bytes(data[b"BODY[]"])

        raw: bytes = self._guard(run)
        self.cache.store_bodies([(message_id, raw, safe_envelope(raw, len(raw)))])
        return raw

    # -- Sent and Drafts ----------------------------------------------------------------------------------------------

    def _append(self, role: Role, default: str, raw: bytes, flags: Sequence[str]) -> int | None:
        """APPEND raw to the role's folder; with UIDPLUS the copy is cached at once (it shows before the next
        sync, which then finds it cached). Returns the cached row's id, or None when the server gave no UID."""

        def run() -> tuple[str, Any]:
            folder = self._role_folder(role, default)
            try:
                return folder, self._c.append(folder, raw, flags=list(flags))
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                raise ProtocolError(f"The server refused to store the message in {folder} ({describe(e)}).") from None

        name, response = self._guard(run)
        fault_point("imap.after_append")
        got = appenduid(response)
        folder = self.cache.folder_by_name(name)
        if got is None or folder is None:
            return None
        uidvalidity, uid = got
        if folder.uidvalidity not in (None, uidvalidity):
            return None  # the folder changed on the server; its next sync brings the copy
        message = NewMessage(safe_envelope(raw, len(raw)), uid=uid, flags=frozenset(flags), raw=raw)
        return self.cache.store_messages(folder.id, [message], uidvalidity=uidvalidity)[0]

    def create_folder(self, name: str) -> int:
        """Create a personal folder on the server ("Projects/2026": "/" separates levels), inside the personal
        namespace ("INBOX.Projects.2026" on Courier-like servers), subscribe to it, and return its cache row id.
        An existing folder of that name is simply returned. Refusals are one sentence with the server's reason."""

        def run() -> int:
            self.connect()
            entries = self._list()
            prefix, sep = self._personal_namespace()
            sep = sep or next((d for n, d, _r, _s in entries if n == "INBOX" and d), "/")
            parts = [p.strip() for p in name.split("/") if p.strip()]
            if not parts:
                raise ProtocolError("A folder needs a name.")
            if sep != "/" and any(sep in p for p in parts):
                raise ProtocolError(f"A folder name cannot contain “{sep}” on this server.")
            full = prefix + sep.join(parts)
            existing = {n.lower(): n for n, _d, _r, _s in entries}
            if full.lower() in existing:
                full = existing[full.lower()]
            else:
                try:
                    self._c.create_folder(full)
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as e:
                    raise ProtocolError(f"The server refused to create the folder {full} ({describe(e)}).") from None
                try:
                    self._c.subscribe_folder(full)
                except IMAPClientAbortError:
                    raise
                except IMAPClientError:
                    log.info("subscribing to %s failed", full)
            return self.cache.ensure_folder(full, sep)

        folder_id: int = self._guard(run)
        return folder_id

    def save_sent(self, raw: bytes) -> int | None:
        """APPEND a just-sent message to the Sent folder (created if missing) with \\Seen; cached at once."""
        return self._append(Role.SENT, "Sent", raw, [SEEN])

    def save_draft(self, raw: bytes) -> int | None:
        """APPEND a draft to the Drafts folder (created if missing) with \\Draft \\Seen; cached at once."""
        return self._append(Role.DRAFTS, "Drafts", raw, [DRAFT, SEEN])

    def has_message_id(self, role: Role, message_id: str) -> bool:
        """Whether the role's folder (Sent, say) on the server holds a message with this Message-ID header."""
        if not message_id:
            return False

        def run() -> bool:
            names = [name for name, _d, r, selectable in self._list() if r is role and selectable]
            known = self.cache.folder_by_role(role)
            if known is not None and known.name not in names:
                names.append(known.name)
            for name in names:
                try:
                    self._select(name, readonly=True)
                except _FolderGone:
                    continue
                if self._c.search(["HEADER", "Message-ID", message_id]):
                    return True
            return False

        return bool(self._guard(run))

    # -- push ---------------------------------------------------------------------------------------------------------

    def idle_wait(self, timeout: float, stop: threading.Event) -> bool:
        """IDLE on INBOX (own connection) for up to timeout seconds; True if the server reported a change.

        Returns early (False) when stop is set; checks it at least once a second. Without IDLE support it just
        waits and returns False, so callers can poll with sync() instead.
        """
        try:
            if self._idle_client is None:
                client = self._open()
                try:
                    client.select_folder("INBOX", readonly=True)
                except Exception:
                    _quietly_close(client)
                    raise
                self._idle_client = client
            client = self._idle_client
            if not client.has_capability("IDLE"):
                stop.wait(timeout)
                return False
            deadline = time.monotonic() + timeout
            changed = False
            quick_empty = 0  # idle_check swallows EOF and returns at once: empty returns in a row mean it closed
            client.idle()
            try:
                while not stop.is_set() and not changed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    asked, started = min(1.0, left), time.monotonic()
                    responses = client.idle_check(timeout=asked)
                    for resp in responses:
                        if resp and _text(resp[0]).upper() == "BYE":
                            raise IMAPClientAbortError("the server closed the connection")
                        if len(resp) >= 2 and _text(resp[1]).upper() in ("EXISTS", "EXPUNGE", "FETCH", "VANISHED"):
                            changed = True
                    quick = not responses and time.monotonic() - started < asked / 2
                    quick_empty = quick_empty + 1 if quick else 0
                    if quick_empty >= 3:
                        raise IMAPClientAbortError("the server closed the connection")
            finally:
                client.idle_done()
            return changed
        except MailError:
            raise
        except (OSError, IMAPClientError) as e:
            idle, self._idle_client = self._idle_client, None
            _quietly_close(idle)
            raise ConnectError(f"lost the connection to {self._where} ({describe(e)}).") from None


def quiet_imaplib(imap: Any) -> None:
    """Switch off imaplib's debug messages, which imapclient turns on (level 5) and routes to the "imapclient.imaplib"
    logger: imaplib formats them before the logger can drop them, including the repr of every response's data - a
    full sync spent a third of its time writing out the mail it downloaded for a log nobody reads. Kept when that
    logger is switched on for debugging."""
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        imap.debug = 0


def _quietly_close(client: imapclient.IMAPClient | None) -> None:
    """Say LOGOUT and close, without waiting for the server's goodbye (a round trip nothing depends on); errors
    ignored."""
    if client is None:
        return
    try:
        client._imap._command("LOGOUT")
    except Exception:
        pass
    try:
        client.shutdown()
    except Exception:
        pass
