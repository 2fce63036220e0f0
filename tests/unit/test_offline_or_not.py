"""'Offline' means the network is unreachable; a certificate, port, TLS or password problem keeps its own sentence."""

from __future__ import annotations

import socket
import ssl

from tui_mail.errors import AuthError, ConnectError, DiskFullError, is_offline, tls_error
from tui_mail.ui.connection import reconnect_delay, record_failure, record_success
from tui_mail.ui.widgets.status_bar import SyncState


def _untrusted() -> ssl.SSLCertVerificationError:
    e = ssl.SSLCertVerificationError(1, "certificate verify failed")
    e.verify_message = "self-signed certificate"
    return e


def _raised_from(cause: BaseException) -> ConnectError:
    try:
        try:
            raise cause
        except BaseException:
            raise ConnectError("Cannot reach mail.example.org:993.") from None
    except ConnectError as e:
        return e


def test_only_an_unreachable_network_counts_as_offline() -> None:
    assert is_offline(_raised_from(socket.gaierror(-3, "Temporary failure in name resolution")))
    assert is_offline(_raised_from(TimeoutError("timed out")))
    assert is_offline(_raised_from(OSError(101, "Network is unreachable")))
    assert is_offline(ConnectError("Account work is offline (no network in this mode)."))
    assert not is_offline(_raised_from(ConnectionRefusedError(111, "Connection refused")))  # a wrong port
    assert not is_offline(_raised_from(ssl.SSLError(1, "wrong version number")))  # TLS on a plaintext port
    assert not is_offline(tls_error("localhost", _untrusted()))
    assert not is_offline(AuthError("imap.example.org rejected the username or password for account work."))
    assert not is_offline(DiskFullError("The disk holding ~/.local/share/tui-mail is full: 0 bytes free."))


def test_an_untrusted_certificate_says_what_to_set() -> None:
    text = str(tls_error("localhost", _untrusted()))
    assert text.startswith("The certificate of localhost could not be verified") and "set ca_file" in text


def test_a_failure_is_told_once_until_it_changes_or_is_asked_for() -> None:
    state = SyncState()
    assert record_failure(state, "Bad password.", False)
    assert not record_failure(state, "Bad password.", False)  # the poll timer: not again
    assert record_failure(state, "Bad password.", False, explicit=True)  # $ : again
    assert not record_failure(state, "Network down.", True)  # offline: the status line says it
    assert state.offline and state.offline_since is not None
    since = state.offline_since
    record_failure(state, "Network still down.", True)
    assert state.offline_since == since  # offline since the first failure
    record_success(state)
    assert (state.offline, state.offline_since, state.error) == (False, None, "")


def test_reconnect_backoff_then_the_poll_interval() -> None:
    assert [reconnect_delay(n, 300) for n in range(1, 6)] == [5.0, 15.0, 60.0, 300, 300]
