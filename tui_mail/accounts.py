"""AccountManager: owns each account's cache, backend connections and locks; a blocking API for workers and the CLI.

Local changes (read, flag, move, delete, send) are written to the cache first and replayed to the server later,
so they work offline. Two connections per account: one for sync, one for interactive work (opening a message,
pushing a change), so opening a message never waits behind a long sync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import paths
from .backends.base import Backend, Capabilities, ProgressCallback, SyncResult
from .config import AccountConfig, Config, ServerConfig
from .credentials import get_password
from .errors import AuthError, ConfigError, ConnectError, CredentialError, MailError
from .models import SEEN, Role
from .sending import Sending
from .store.cache import Cache
from .store.local_changes import PendingItem
from .store.lock import AccountBusy, AccountLock

if TYPE_CHECKING:
    from .backends.imap_search import ServerHits
    from .search.query import Node

log = logging.getLogger(__name__)

T = TypeVar("T")
PasswordSource = Callable[[AccountConfig, ServerConfig], str]

IMAP_CAPS = Capabilities(server_folders=True, move=True, server_flags=True, idle=True, server_search=True)
POP3_CAPS = Capabilities(server_folders=False, move=True, server_flags=False)


def walk_top_and(node: Node) -> list[Node]:
    """The terms ANDed at the top of a query (in: there chooses folders)."""
    from .search.query import And

    return list(node.items) if isinstance(node, And) else [node]


def _default_password(account: AccountConfig, server: ServerConfig) -> str:
    return get_password(account, server)


def _new_role_folder(cache: Cache, role: Role) -> int:
    """A cache folder for a role the IMAP server has no folder for yet, named inside its personal namespace
    ("INBOX.Trash" on Courier-like servers); the next sync creates it on the server before replaying."""
    from .backends.imap_folders import NAMESPACE_META, ROLE_FOLDER_NAMES

    prefix, _, sep = (cache.get_meta(NAMESPACE_META) or "").partition("\n")
    return cache.ensure_folder(prefix + ROLE_FOLDER_NAMES[role], sep or "/", role)


@dataclass
class _Account:
    config: AccountConfig
    cache: Cache
    lock: AccountLock  # one writer per account across processes (beside the cache file)
    sync_lock: threading.Lock = field(default_factory=threading.Lock)
    io_lock: threading.Lock = field(default_factory=threading.Lock)
    sync_backend: Backend | None = None
    io_backend: Backend | None = None
    idle_lock: threading.Lock = field(default_factory=threading.Lock)
    idle_backend: Backend | None = None
    last_sync: float | None = None
    preferred: str | None = None  # the folder on screen: a sync brings it up to date first
    sending_guard: threading.Lock = field(default_factory=threading.Lock)
    sending: set[int] = field(default_factory=set)  # outbox items this process is sending right now
    password: str | None = None  # looked up once per account (keyring, password_command), forgotten on a refusal
    password_lock: threading.Lock = field(default_factory=threading.Lock)
    warm_error: MailError | None = None  # why connecting while the UI loaded failed: the first sync reports it


class AccountManager(Sending):
    """All configured accounts. Every method may block on the network: call it from a worker thread."""

    def __init__(
        self,
        config: Config,
        *,
        data_dir: Path | None = None,
        offline: bool = False,
        password_source: PasswordSource | None = None,
        lock_timeout: float = 5.0,
    ) -> None:
        self.config = config
        self.lock_timeout = lock_timeout  # how long to wait for another tui-mail busy with the same account
        self.offline = offline
        self._password_source = password_source or _default_password
        self._data_dir = data_dir
        self._accounts: dict[str, _Account] = {}
        self._guard = threading.Lock()

    # -- accounts and caches -------------------------------------------------------------------------------------

    @property
    def accounts(self) -> list[AccountConfig]:
        return list(self.config.accounts)

    def _get(self, name: str) -> _Account:
        with self._guard:
            acc = self._accounts.get(name)
            if acc is None:
                cfg = self.config.account(name)
                path = (
                    self._data_dir / paths.cache_path(name).name
                    if self._data_dir is not None
                    else paths.cache_path(name)
                )
                cache = Cache(path)
                if cfg.protocol == "pop3":
                    for folder, role in (("INBOX", Role.INBOX), ("Sent", Role.SENT), ("Drafts", Role.DRAFTS)):
                        if cache.folder_by_name(folder) is None:
                            cache.ensure_folder(folder, "/", role, local_only=True)
                    if cache.folder_by_name("Trash") is None:
                        cache.ensure_folder("Trash", "/", Role.TRASH, local_only=True)
                cache.account = cfg.name
                acc = _Account(cfg, cache, lock=AccountLock(path.with_name(path.name + ".lock"), name))
                self._accounts[name] = acc
            return acc

    def cache(self, name: str) -> Cache:
        """The account's cache (thread-safe: each thread gets its own SQLite connection)."""
        return self._get(name).cache

    def capabilities(self, name: str) -> Capabilities:
        return IMAP_CAPS if self.config.account(name).protocol == "imap" else POP3_CAPS

    def last_sync(self, name: str) -> float | None:
        """Unix time of the last successful sync (persisted in the cache)."""
        value = self.cache(name).get_meta("last_sync")
        return float(value) if value else None

    def _new_backend(self, acc: _Account) -> Backend:
        broken = self.config.broken.get(acc.config.name)
        if broken is not None:
            raise ConfigError(broken)  # its settings are wrong: it shows its cache but never connects
        if self.offline:
            raise ConnectError(f"Account {acc.config.name} is offline (no network in this mode).")
        with acc.password_lock:  # the sync, interactive and IDLE connections start together: ask once
            if acc.password is None:
                acc.password = self._password_source(acc.config, acc.config.incoming)
            password = acc.password
        if acc.config.protocol == "imap":
            from .backends.imap import ImapBackend

            return ImapBackend(acc.config, password, acc.cache)
        from .backends.pop3 import Pop3Backend

        return Pop3Backend(acc.config, password, acc.cache)

    def warm_up(self) -> list[threading.Thread]:
        """For each never-synced IMAP account, log in and store the newest page of its INBOX in the background
        (password lookup, TCP, TLS, login, EXAMINE, FETCH), so that the UI's first screen finds it in the cache and
        the first sync finds the connection ready; the UI calls this before it loads its own modules (an account
        synced before shows its cache at once and connects after the first paint). A failure is kept for that
        first sync to report: a refused login is never tried twice in a row. Returns the threads."""
        if self.offline:
            return []
        threads = []
        for cfg in self.config.accounts:
            if cfg.protocol == "imap" and cfg.name not in self.config.broken:
                t = threading.Thread(target=self._warm_up, args=(cfg.name,), name=f"connect {cfg.name}", daemon=True)
                t.start()
                threads.append(t)
        return threads

    def _warm_up(self, name: str) -> None:
        acc = self._get(name)
        inbox = acc.cache.folder_by_role(Role.INBOX)
        if inbox is not None and inbox.uidvalidity is not None:
            return  # synced before: the first screen comes from the cache
        with acc.sync_lock:
            if acc.sync_backend is not None:
                return
            try:
                backend = self._new_backend(acc)
                connect = getattr(backend, "connect", None)
                if connect is not None:
                    connect()
            except MailError as e:
                self._forget_refused(acc, e)
                acc.warm_error = e
                return
            except Exception:
                log.exception("connecting %s in the background failed", name)
                return
            acc.sync_backend = backend
            first_page = getattr(backend, "fetch_first_page", None)
            if first_page is None or acc.preferred not in (None, "INBOX"):
                return
            try:
                with acc.lock.hold(0):  # one writer per account: when another tui-mail syncs it, its rows will do
                    first_page()  # a never-synced INBOX's newest page: the UI's first screen, read from the cache
            except AccountBusy:
                pass
            except Exception as e:  # the sync that follows reconnects and reports what is wrong
                log.info("the first page of %s was not fetched early: %s", name, e)
                self._drop(backend)
                acc.sync_backend = None

    @staticmethod
    def _forget_refused(acc: _Account, error: BaseException) -> None:
        """A refused login (or no password at all) means the stored password is wrong or missing: ask again."""
        if isinstance(error, (AuthError, CredentialError)):
            acc.password = None

    @staticmethod
    def _drop(backend: Backend | None) -> None:
        if backend is not None:
            try:
                backend.close()
            except Exception:  # closing a dead connection must never mask the real error
                log.debug("close failed", exc_info=True)

    # -- sync ------------------------------------------------------------------------------------------------------

    def sync(self, name: str, progress: ProgressCallback | None = None, first_folder: str | None = None) -> SyncResult:
        """Replay local changes, fetch what is new (first_folder, e.g. the one on screen, before the others),
        then send what waits in the outbox.

        One sync per account at a time across processes: AccountBusy (naming the other pid) when another
        tui-mail holds the account longer than lock_timeout.
        """
        acc = self._get(name)
        if first_folder is not None:
            acc.preferred = first_folder
        with acc.lock.hold(self.lock_timeout):
            with acc.sync_lock:
                if acc.warm_error is not None:  # connecting while the UI loaded failed: that is this sync's answer
                    error, acc.warm_error = acc.warm_error, None
                    raise error
                while True:
                    kept = acc.sync_backend is not None  # a connection kept from an earlier sync may have died since
                    if acc.sync_backend is None:
                        acc.sync_backend = self._new_backend(acc)
                    _prefer(acc.sync_backend, acc.preferred)
                    try:
                        result = acc.sync_backend.sync(progress)
                        break
                    except (ConnectError, AuthError, OSError) as e:
                        self._drop(acc.sync_backend)
                        acc.sync_backend = None
                        self._forget_refused(acc, e)
                        if not (kept and isinstance(e, ConnectError)):
                            raise
                        log.info("the kept connection of %s was gone (%s); reconnecting", name, e)
                acc.last_sync = time.time()
                acc.cache.set_meta("last_sync", str(int(acc.last_sync)))
                if acc.config.protocol == "imap":
                    self._record_quota(acc)
            if acc.cache.outbox():
                try:
                    self.flush_outbox(name)
                except MailError as e:
                    result.warnings.append(str(e))
        return result

    def create_folder(self, name: str, folder: str) -> int:
        """A new folder to move mail into: on the IMAP server (needs the network), or a local folder of a POP3
        account. Returns the cache row id; an existing folder of that name is returned as it is."""
        acc = self._get(name)
        folder = folder.strip()
        if not folder:
            raise MailError("A folder needs a name.")
        if acc.config.protocol != "imap":
            existing = acc.cache.folder_by_name(folder)
            return existing.id if existing is not None else acc.cache.ensure_folder(folder, "/", local_only=True)
        if self.offline:
            raise ConnectError("Creating a folder needs the server, and tui-mail is offline.")
        made: list[int] = []

        def run(backend: Backend) -> None:
            made.append(backend.create_folder(folder))  # type: ignore[attr-defined]

        self._with_io_backend(acc, run)
        return made[0]

    def prefer_folder(self, name: str, folder: str | None) -> None:
        """The user is looking at this folder: a sync running now does it next, a later one first. Never blocks."""
        acc = self._get(name)
        acc.preferred = folder
        backend = acc.sync_backend
        if backend is not None:
            _prefer(backend, folder)

    @staticmethod
    def _record_quota(acc: _Account) -> None:
        """Storage used/limit (IMAP QUOTA) for `folders` and the status line; a failure only costs the figure."""
        from .backends.imap import ImapBackend
        from .backends.imap_quota import record_quota

        if isinstance(acc.sync_backend, ImapBackend):
            try:
                record_quota(acc.sync_backend, acc.cache)
            except Exception as e:  # a quota figure must never fail a sync
                log.info("quota not recorded: %s", e)

    def push_changes(self, name: str) -> int:
        """Replay pending local changes now (a sync does this too); returns how many remain."""
        acc = self._get(name)
        if self.capabilities(name).server_flags and acc.cache.pending_actions():
            # The sync backend replays pending actions first thing; a short sync is the simplest correct push.
            self.sync(name)
        return len(acc.cache.pending_actions())

    def fetch_body(self, name: str, message_id: int) -> bytes:
        """The full message, from the cache when there, else downloaded (without marking it read) and cached."""
        acc = self._get(name)
        raw = acc.cache.body(message_id)
        if raw is not None:
            return raw
        with acc.io_lock:
            if acc.io_backend is None:
                acc.io_backend = self._new_backend(acc)
            try:
                return acc.io_backend.fetch_body(message_id)
            except (ConnectError, AuthError, OSError) as e:
                self._drop(acc.io_backend)
                acc.io_backend = None
                self._forget_refused(acc, e)
                raise

    def wait_for_new_mail(self, name: str, timeout: float, stop: threading.Event) -> bool:
        """Block up to timeout seconds on IMAP IDLE (its own connection); True when the server reported a change.

        Accounts without push (POP3, offline, no IDLE, or `idle = false`) just wait and return False, so the
        caller's loop falls back to polling every poll_interval.
        """
        acc = self._get(name)
        if self.offline or acc.config.protocol != "imap" or not acc.config.idle:
            stop.wait(timeout)
            return False
        with acc.idle_lock:
            if acc.idle_backend is None:
                acc.idle_backend = self._new_backend(acc)
            idle_wait = getattr(acc.idle_backend, "idle_wait", None)
            if idle_wait is None:
                stop.wait(timeout)
                return False
            try:
                return bool(idle_wait(timeout, stop))
            except (ConnectError, AuthError, OSError) as e:
                self._drop(acc.idle_backend)
                acc.idle_backend = None
                self._forget_refused(acc, e)
                raise

    # -- local changes ---------------------------------------------------------------------------------------------

    def mark_read(self, name: str, ids: Iterable[int], read: bool = True) -> None:
        cache = self.cache(name)
        if read:
            cache.set_flags(ids, add=[SEEN])
        else:
            cache.set_flags(ids, remove=[SEEN])

    def flag(self, name: str, ids: Iterable[int], flagged: bool = True) -> None:
        from .models import FLAGGED

        cache = self.cache(name)
        if flagged:
            cache.set_flags(ids, add=[FLAGGED])
        else:
            cache.set_flags(ids, remove=[FLAGGED])

    def move(self, name: str, ids: Iterable[int], folder_id: int) -> None:
        self.cache(name).move(ids, folder_id)

    def delete(self, name: str, ids: Iterable[int]) -> None:
        """Move to Trash; messages already in Trash (or with no Trash folder) are deleted for good."""
        cache = self.cache(name)
        trash = cache.folder_by_role(Role.TRASH)
        if trash is None and self.config.account(name).protocol == "imap":
            trash = cache.folder(_new_role_folder(cache, Role.TRASH))  # made on the server at the next sync
        to_trash: list[int] = []
        for_good: list[int] = []
        for mid in ids:
            row = cache.message(mid)
            if row is None:
                continue
            (for_good if trash is None or row.folder_id == trash.id else to_trash).append(mid)
        if to_trash and trash is not None:
            cache.move(to_trash, trash.id)
        if for_good:
            cache.delete(for_good)

    def pending(self, name: str) -> list[PendingItem]:
        """Waiting and failed actions of the account, one sentence each (cache only, no network)."""
        return self.cache(name).pending_list()

    def cancel_action(self, name: str, action_id: int) -> str:
        """Undo a waiting action locally, or dismiss a failed one; one sentence saying what happened."""
        try:
            return self.cache(name).cancel_action(action_id)
        except KeyError:
            raise MailError(f"There is no pending action {action_id} in account {name}.") from None
        except ValueError as e:
            raise MailError(str(e)) from None

    def undo_last(self, name: str) -> str:
        """Undo the newest move or delete while it has not reached the server; one sentence either way."""
        done = self.cache(name).undo_last()
        return done or "Nothing to undo: every move and delete has reached the server."

    def _with_io_backend(self, acc: _Account, fn: Callable[[Backend], T]) -> T:
        with acc.io_lock:
            if acc.io_backend is None:
                acc.io_backend = self._new_backend(acc)
            try:
                return fn(acc.io_backend)
            except (ConnectError, AuthError, OSError) as e:
                self._drop(acc.io_backend)
                acc.io_backend = None
                self._forget_refused(acc, e)
                raise

    def with_server(self, name: str, fn: Callable[[Backend], T]) -> T:
        """Run fn with the account's interactive connection (export, import and migrate upload through it)."""
        return self._with_io_backend(self._get(name), fn)

    # -- search --------------------------------------------------------------------------------------------------

    def index(
        self,
        name: str,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Fill the account's full-text index with what waits for it (new mail, bodies that arrived); returns how
        many messages were indexed. Runs without the network; safe beside a sync (own short transactions)."""
        from .store.search_index import index_pending

        return index_pending(self.cache(name), progress=progress, should_stop=should_stop)

    def server_search(self, name: str, query: str, folder_id: int | None = None) -> ServerHits:
        """Run the query on the IMAP server too (what is not downloaded yet, or headers-only mail): per folder of
        the query's scope, UID SEARCH; hits not yet cached get their envelopes stored. Returns their row ids and
        notes for the user (what could only be searched locally). Raises QueryError for a malformed query."""
        from .backends.imap_search import ServerHits, server_search
        from .search.imap_criteria import Untranslatable, to_criteria
        from .search.query import InFolder, parse
        from .search.sql import folder_ids, scopes_itself

        node = parse(query)
        if self.config.account(name).protocol != "imap":
            return ServerHits(notes=["POP3 has no server search: only the downloaded mail was searched."])
        try:
            criteria = to_criteria(node)
        except Untranslatable:
            return ServerHits(notes=["This query can only be searched in the downloaded mail."])
        acc = self._get(name)
        folders = acc.cache.folders()
        if scopes_itself(node):
            wanted = {i for n in walk_top_and(node) if isinstance(n, InFolder) for i in folder_ids(n.name, folders)}
            chosen = [f for f in folders if f.id in wanted] if wanted else folders
        elif folder_id is not None:
            chosen = [f for f in folders if f.id == folder_id]
        else:
            chosen = folders
        hits = ServerHits()

        def run(backend: Backend) -> None:
            nonlocal hits
            hits = server_search(backend, criteria, chosen)  # type: ignore[arg-type]

        self._with_io_backend(acc, run)
        if criteria.local_only:
            terms = ", ".join(dict.fromkeys(criteria.local_only))
            hits.notes.append(f"{terms} cannot be searched on the server; those terms were matched locally only.")
        return hits

    def close(self) -> None:
        """Close every connection."""
        for acc in list(self._accounts.values()):
            self._drop(acc.sync_backend)
            self._drop(acc.io_backend)
            self._drop(acc.idle_backend)
            acc.sync_backend = acc.io_backend = acc.idle_backend = None


def _prefer(backend: Backend, folder: str | None) -> None:
    """Tell a backend that orders its folders (IMAP) which one to do first; others have one folder anyway."""
    prefer = getattr(backend, "prefer", None)
    if prefer is not None:
        prefer(folder)
