"""POP3 download into the local cache: UIDL diff, RETR, commit before DELE, keep/delete modes.

RETR responses are read in blocks (not line by line, as poplib's retr does) and, when the server offers PIPELINING
(RFC 2449), several RETR commands are kept in flight, and a commit's DELE commands go out together; DELE is only
ever sent with no RETR outstanding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import poplib
import ssl
import time
from collections.abc import Iterator

from ..config import AccountConfig
from ..errors import AuthError, ConnectError, MailError, ProtocolError, describe, server_text, tls_error
from ..faults import fault_point
from ..mime import parse_envelope
from ..models import DRAFT, SEEN, Envelope, Role, SyncProgress
from ..store.cache import Cache, NewMessage
from ..tls import make_context
from .base import Capabilities, ProgressCallback, SyncResult
from .limits import check_pop3_listing

log = logging.getLogger(__name__)

INBOX = "INBOX"
LOCAL_FOLDERS: tuple[tuple[str, Role], ...] = (
    (INBOX, Role.INBOX),
    ("Drafts", Role.DRAFTS),
    ("Sent", Role.SENT),
    ("Trash", Role.TRASH),
)

# RFC 1939 limits lines to 512 octets, but real mail has far longer lines; poplib's own limit is 2048.
_MAX_LINE = 1 << 20
# Downloaded messages are committed in small batches; DELE follows each commit.
BATCH_MESSAGES = 25
BATCH_BYTES = 4 << 20
# Keep mode deletes nothing, so nothing waits for a commit: the batches grow from KEEP_FIRST_BATCH (the first mail
# shows at once) to KEEP_BATCH_MESSAGES, doubling; what a crash can cost is downloading one batch again, and the
# memory a batch holds stays bounded by KEEP_BATCH_BYTES.
KEEP_FIRST_BATCH = 10
KEEP_BATCH_MESSAGES = 500
KEEP_BATCH_BYTES = 16 << 20
# RETR commands kept in flight when the server offers PIPELINING: up to this many, and enough that about
# PIPELINE_BYTES of mail (by LIST sizes) is on its way, so a long round trip does not idle the link.
PIPELINE_WINDOW = 256
PIPELINE_BYTES = 4 << 20
_READ_BLOCK = 1 << 16


def _dated_envelope(raw: bytes) -> Envelope:
    """The envelope of a downloaded message; without a usable Date header it is dated by its download time."""
    env = parse_envelope(raw, len(raw))
    return env if env.date else dataclasses.replace(env, date=int(time.time()))


class _LongLines:
    """Mixin: poplib's line reader with a limit real-world mail does not hit."""

    def _getline(self) -> tuple[bytes, int]:
        line: bytes = self.file.readline(_MAX_LINE + 1)  # type: ignore[attr-defined]
        if len(line) > _MAX_LINE:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets

    def _getlongresp(self) -> tuple[bytes, list[bytes], int]:
        """poplib's multi-line reader (dot-unstuffing), stopped by the caps in limits.py: an endless UIDL or LIST
        from a broken or hostile server cannot fill the memory."""
        resp: bytes = self._getresp()  # type: ignore[attr-defined]
        lines: list[bytes] = []
        octets = 0
        while True:
            line, n = self._getline()
            if line == b".":
                return resp, lines, octets
            if line.startswith(b".."):
                line, n = line[1:], n - 1
            lines.append(line)
            octets += n
            check_pop3_listing(f"{self.host}:{self.port}", len(lines), octets)  # type: ignore[attr-defined]


class _POP3(_LongLines, poplib.POP3):
    pass


class _POP3_SSL(_LongLines, poplib.POP3_SSL):
    pass


class _ResponseReader:
    """Reads multi-line POP3 responses in blocks from a connection's buffered socket file, undoing dot-stuffing
    on the whole message at once. Bytes read past one response belong to the next (pipelined) one."""

    def __init__(self, conn: poplib.POP3) -> None:
        self.file = conn.file
        self.buf = bytearray()
        self.where = f"{conn.host}:{conn.port}"

    def _fill(self) -> None:
        data = self.file.read1(_READ_BLOCK)  # type: ignore[attr-defined]  # a BufferedReader over the socket
        if not data:
            raise ConnectionAbortedError("the server closed the connection")
        self.buf += data

    def message(self) -> bytes:
        """The next response's message, exactly as the server stores it (CRLF line ends)."""
        buf = self.buf
        while (eol := buf.find(b"\r\n")) < 0:
            if len(buf) > _MAX_LINE:
                raise poplib.error_proto("-ERR response line too long")
            self._fill()
        if not buf.startswith(b"+OK"):
            status = bytes(buf[:eol])
            del buf[: eol + 2]
            raise poplib.error_proto(status)
        pos = eol  # an empty message ends right after the status line: "+OK\r\n.\r\n"
        while (end := buf.find(b"\r\n.\r\n", pos)) < 0:
            pos = max(eol, len(buf) - 4)
            check_pop3_listing(self.where, 0, len(buf))  # a message without end cannot fill the memory
            self._fill()
        raw = bytes(buf[eol + 2 : end + 2])
        del buf[: end + 5]
        if raw.startswith(b".."):
            raw = raw[1:]
        return raw.replace(b"\r\n..", b"\r\n.")


def _retrieve(
    conn: poplib.POP3, numbers: list[int], window: int, sizes: dict[int, int] | None = None
) -> Iterator[tuple[int, bytes]]:
    """RETR each message number, in order, with up to window commands (and about PIPELINE_BYTES of mail, by the
    LIST sizes) in flight; yields (number, raw). Commands go out in batches when half the window is free."""
    reader = _ResponseReader(conn)
    sizes = sizes or {}
    sent = 0
    flying = 0  # bytes asked for and not yet read

    def top_up(done: int) -> None:
        nonlocal sent, flying
        if sent - done > window // 2 and flying > PIPELINE_BYTES // 2:
            return  # enough on its way; wait until half has arrived
        batch: list[int] = []
        while sent + len(batch) < len(numbers) and sent + len(batch) - done < window:
            if batch and flying >= PIPELINE_BYTES:
                break
            n = numbers[sent + len(batch)]
            batch.append(n)
            flying += sizes.get(n, 0)
        if batch:
            conn.sock.sendall(b"".join(b"RETR %d\r\n" % n for n in batch))
            sent += len(batch)

    top_up(0)
    for i, n in enumerate(numbers):
        raw = reader.message()
        flying -= sizes.get(n, 0)
        top_up(i + 1)
        yield n, raw
    if reader.buf:
        raise poplib.error_proto("-ERR unexpected data after the last RETR response")


def _dele_many(conn: poplib.POP3, numbers: list[int], window: int) -> Iterator[int]:
    """DELE each message number, with up to window commands in flight (one write, then the replies); yields each
    number once the server has accepted its DELE. A -ERR raises (the session is then abandoned without QUIT)."""
    for i in range(0, len(numbers), window):
        part = numbers[i : i + window]
        if len(part) == 1:
            conn.dele(part[0])
            yield part[0]
            continue
        conn.sock.sendall(b"".join(b"DELE %d\r\n" % n for n in part))
        for n in part:
            conn._getresp()  # type: ignore[attr-defined]  # raises poplib.error_proto on -ERR
            yield n


def _groups(todo: list[tuple[int, str]], sizes: dict[int, int]) -> list[list[tuple[int, str]]]:
    """todo cut into commit batches by LIST sizes: at most BATCH_MESSAGES messages or about BATCH_BYTES each."""
    out: list[list[tuple[int, str]]] = []
    cur: list[tuple[int, str]] = []
    nbytes = 0
    for item in todo:
        size = sizes.get(item[0], 0)
        if cur and (len(cur) >= BATCH_MESSAGES or nbytes + size > BATCH_BYTES):
            out.append(cur)
            cur, nbytes = [], 0
        cur.append(item)
        nbytes += size
    if cur:
        out.append(cur)
    return out


def _close_quietly(conn: poplib.POP3) -> None:
    """Close the socket without QUIT; a connection that is already broken may fail to shut down cleanly."""
    try:
        conn.close()
    except OSError:
        conn.sock = conn.file = None  # type: ignore[assignment]


class Pop3Backend:
    """A POP3 account: one server mailbox downloaded into INBOX, plus local-only Drafts/Sent/Trash."""

    capabilities = Capabilities(server_folders=False, move=True, server_flags=False)

    def __init__(self, account: AccountConfig, password: str, cache: Cache) -> None:
        self.account = account
        self._password = password
        self.cache = cache
        self._conn: poplib.POP3 | None = None
        self.folder_ids: dict[Role, int] = {}
        for name, role in LOCAL_FOLDERS:
            # Every POP3 folder lives only in the cache: nothing is ever queued for the server.
            self.folder_ids[role] = cache.ensure_folder(name, role=role, local_only=True)

    @property
    def _where(self) -> str:
        return f"{self.account.incoming.host}:{self.account.incoming.port}"

    def __repr__(self) -> str:  # never show the password
        return f"Pop3Backend({self.account.name!r}, {self._where})"

    # -- connection ----------------------------------------------------------------------------------------------

    def _connect(self) -> poplib.POP3:
        srv = self.account.incoming
        try:
            conn: poplib.POP3
            if srv.security == "tls":
                conn = _POP3_SSL(srv.host, srv.port, context=make_context(srv.ca_file), timeout=srv.timeout)
            else:
                conn = _POP3(srv.host, srv.port, timeout=srv.timeout)
        except ssl.SSLError as e:  # includes an unverifiable certificate
            raise tls_error(self._where, e) from None
        except (OSError, poplib.error_proto) as e:
            raise ConnectError(f"Cannot reach {self._where}: {describe(e)}.") from None
        try:
            if srv.security == "starttls":
                self._starttls(conn)
            self._login(conn)
        except BaseException:
            _close_quietly(conn)
            raise
        return conn

    def _starttls(self, conn: poplib.POP3) -> None:
        srv = self.account.incoming
        try:
            caps = conn.capa()
        except poplib.error_proto:
            caps = {}
        except OSError as e:
            raise ConnectError(f"The connection to {self._where} was lost: {describe(e)}.") from None
        if "STLS" not in caps:
            raise ConnectError(
                f"{self._where} does not offer STLS, so tui-mail will not log in over an unencrypted connection."
            )
        try:
            conn.stls(context=make_context(srv.ca_file))
        except ssl.SSLError as e:  # includes an unverifiable certificate
            raise tls_error(self._where, e) from None
        except poplib.error_proto as e:
            raise ConnectError(f"{self._where} refused STLS: {server_text(e)}.") from None
        except OSError as e:
            raise ConnectError(f"The connection to {self._where} was lost: {describe(e)}.") from None

    def _login(self, conn: poplib.POP3) -> None:
        srv = self.account.incoming
        try:
            conn.user(srv.username)
            conn.pass_(self._password)
        except poplib.error_proto as e:
            text = server_text(e)
            if "[IN-USE]" in text:
                raise ProtocolError(
                    f"{srv.host} says the mailbox of account {self.account.name} is in use by another session."
                ) from None
            if "[SYS/" in text:
                raise ProtocolError(f"{srv.host} could not open the mailbox right now: {text}.") from None
            if "plaintext" in text.lower():
                raise AuthError(f"{srv.host} refused the login for account {self.account.name}: {text}.") from None
            raise AuthError(f"{srv.host} rejected the username or password for account {self.account.name}.") from None
        except OSError as e:
            raise ConnectError(f"The connection to {self._where} was lost: {describe(e)}.") from None

    def _abandon(self) -> None:
        """Drop the connection without QUIT, so the server deletes nothing (RFC 1939: DELE takes effect at QUIT)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)

    # -- sync ----------------------------------------------------------------------------------------------------

    def sync(self, progress: ProgressCallback | None = None) -> SyncResult:
        """Download new messages into INBOX, DELE what the policy says (after commit), QUIT."""
        result = SyncResult(folders=len(LOCAL_FOLDERS))
        self._conn = self._connect()
        try:
            with self.cache.background_checkpoints():  # bodies hit the disk while the next RETR downloads
                deleted = self._session(self._conn, result, progress)
            fault_point("pop3.before_quit")
            try:
                self._conn.quit()
            except (OSError, poplib.error_proto) as e:
                why = describe(e) if isinstance(e, OSError) else server_text(e)
                raise ConnectError(
                    f"{self._where} did not confirm the end of the session ({why}), so messages may remain on the "
                    "server until the next sync."
                ) from None
            self._conn = None
            fault_point("pop3.after_quit")
            if deleted:
                self.cache.mark_uidls_deleted(deleted)
            result.removed = len(deleted)
        except MailError:
            self._abandon()
            raise
        except poplib.error_proto as e:
            self._abandon()
            raise ProtocolError(f"{self._where} answered something unexpected: {server_text(e)}.") from None
        except OSError as e:
            self._abandon()
            raise ConnectError(f"The connection to {self._where} was lost: {describe(e)}.") from None
        except BaseException:
            self._abandon()
            raise
        if progress is not None:
            progress(
                SyncProgress(
                    self.account.name, stage="done", folder=INBOX, done=1, total=1, new_messages=result.new_messages
                )
            )
        return result

    def _session(self, conn: poplib.POP3, result: SyncResult, progress: ProgressCallback | None) -> list[str]:
        """Everything between login and QUIT; returns the identities DELE'd (they vanish at QUIT)."""
        sizes = self._list(conn)
        ids = self._identities(conn, sizes, result)  # msg number -> uidl (or header hash)
        on_server = set(ids.values())
        known = self.cache.known_uidls()
        todo = [(n, uidl) for n, uidl in sorted(ids.items()) if uidl not in known]
        inbox = self.folder_ids[Role.INBOX]
        opts = self.account.pop3
        delete_mode = not opts.leave_on_server
        by_uidl = {uidl: n for n, uidl in ids.items()}
        deleted: list[str] = []
        window = PIPELINE_WINDOW if self._pipelining(conn) else 1

        def dele(uidls: list[str]) -> None:
            for n in _dele_many(conn, [by_uidl[u] for u in uidls], window):
                fault_point("pop3.after_dele")
                deleted.append(ids[n])

        # Mail committed by an earlier, interrupted run is still on the server: delete mode removes it now.
        if delete_mode:
            dele(sorted(known & on_server, key=lambda u: by_uidl[u]))

        batch: list[NewMessage] = []
        batch_bytes = 0

        def commit() -> None:
            nonlocal batch, batch_bytes
            if not batch:
                return
            self.cache.store_messages(inbox, batch)
            fault_point("pop3.after_commit")
            committed, batch, batch_bytes = batch, [], 0
            result.new_messages += len(committed)
            if delete_mode:
                dele([m.pop_uidl for m in committed if m.pop_uidl is not None])

        # Delete mode commits (and DELEs) between groups, when no RETR is in flight; keep mode streams everything.
        groups = _groups(todo, sizes) if delete_mode else [todo]
        total = len(todo)
        done = 0
        keep_batch = KEEP_FIRST_BATCH
        try:
            for group in groups:
                uidls = dict(group)
                for n, raw in _retrieve(conn, [n for n, _ in group], window, sizes):
                    fault_point("pop3.after_retr")
                    batch.append(NewMessage(envelope=_dated_envelope(raw), raw=raw, pop_uidl=uidls[n]))
                    batch_bytes += len(raw)
                    done += 1
                    if not delete_mode and (len(batch) >= keep_batch or batch_bytes >= KEEP_BATCH_BYTES):
                        commit()
                        keep_batch = min(2 * keep_batch, KEEP_BATCH_MESSAGES)
                    if progress is not None:
                        progress(
                            SyncProgress(
                                self.account.name,
                                stage="pop",
                                folder=INBOX,
                                done=done,
                                total=total,
                                new_messages=result.new_messages + len(batch),
                            )
                        )
                commit()
        except BaseException:
            # Keep what was fully downloaded (the server still has it too: no QUIT follows, no DELE takes effect).
            if batch:
                try:
                    self.cache.store_messages(inbox, batch)
                except Exception:
                    log.exception("could not keep the partly downloaded batch")
            raise

        if not delete_mode and opts.delete_after_days is not None:
            older_than = int(time.time()) - opts.delete_after_days * 86400
            dele(sorted(self.cache.uidls_to_delete(older_than) & on_server, key=lambda u: by_uidl[u]))
        self.cache.forget_uidls_not_on_server(on_server)
        return deleted

    @staticmethod
    def _pipelining(conn: poplib.POP3) -> bool:
        try:
            return "PIPELINING" in conn.capa()
        except poplib.error_proto:
            return False

    def _list(self, conn: poplib.POP3) -> dict[int, int]:
        _resp, lines, _ = conn.list()
        sizes: dict[int, int] = {}
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                sizes[int(parts[0])] = int(parts[1])
        return sizes

    def _identities(self, conn: poplib.POP3, sizes: dict[int, int], result: SyncResult) -> dict[int, str]:
        """Message number -> UIDL; without UIDL, a hash of the message's headers (TOP n 0)."""
        try:
            _resp, lines, _ = conn.uidl()
        except poplib.error_proto:
            return self._header_hashes(conn, sizes, result)
        ids: dict[int, str] = {}
        for line in lines:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0].isdigit():
                ids[int(parts[0])] = parts[1].strip().decode("ascii", "replace")
        return ids

    def _header_hashes(self, conn: poplib.POP3, sizes: dict[int, int], result: SyncResult) -> dict[int, str]:
        result.warnings.append(
            f"{self.account.incoming.host} does not support UIDL, so messages are recognised by a hash of their "
            "headers; two identical messages may be treated as one."
        )
        ids: dict[int, str] = {}
        seen: dict[str, int] = {}
        for n in sorted(sizes):
            try:
                _resp, lines, _ = conn.top(n, 0)
            except poplib.error_proto as e:
                raise ProtocolError(
                    f"{self.account.incoming.host} supports neither UIDL nor TOP, so tui-mail cannot tell which "
                    f"messages it already has ({server_text(e)})."
                ) from None
            digest = "sha256:" + hashlib.sha256(b"\r\n".join(lines)).hexdigest()
            count = seen.get(digest, 0)
            seen[digest] = count + 1
            ids[n] = digest if count == 0 else f"{digest}#{count + 1}"
        return ids

    # -- bodies and local copies ---------------------------------------------------------------------------------

    def fetch_body(self, message_id: int) -> bytes:
        """POP3 always downloads whole messages, so the body is in the cache already."""
        raw = self.cache.body(message_id)
        if raw is None:
            raise ProtocolError("This message's content is not in the local cache and POP3 cannot fetch it again.")
        return raw

    def _store_local(self, role: Role, raw: bytes, flags: frozenset[str]) -> int:
        env = _dated_envelope(raw)
        return self.cache.store_messages(self.folder_ids[role], [NewMessage(envelope=env, raw=raw, flags=flags)])[0]

    def save_sent(self, raw: bytes) -> None:
        """Keep a copy of a sent message in the local Sent folder."""
        self._store_local(Role.SENT, raw, frozenset({SEEN}))

    def save_draft(self, raw: bytes) -> int:
        """Keep a draft in the local Drafts folder; returns its row id."""
        return self._store_local(Role.DRAFTS, raw, frozenset({SEEN, DRAFT}))

    def close(self) -> None:
        """Drop any connection left open (sync normally ends its session itself); safe to call twice."""
        self._abandon()
