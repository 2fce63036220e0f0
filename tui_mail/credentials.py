"""The one module that touches the OS keyring: find an account's password, or say clearly why not."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from .config import AccountConfig, ServerConfig
from .errors import CredentialError

Prompt = Callable[[str], str]

_NO_KEYRING = (
    "No OS keyring is available on this system; set password_command for account {name} "
    '(for example password_command = "pass show mail/{name}").'
)


def _keyring_user(server: ServerConfig, account: AccountConfig) -> str:
    return server.username or account.email


def run_password_command(command: str, account_name: str, timeout: float = 60.0) -> str:
    """Run a password_command and return the first line it prints (its output never appears in errors)."""
    try:
        proc = subprocess.run(command, shell=True, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CredentialError(f"The password_command of account {account_name} did not finish in time.") from None
    except OSError as e:
        raise CredentialError(f"The password_command of account {account_name} could not run ({e.strerror}).") from None
    if proc.returncode != 0:
        raise CredentialError(f"The password_command of account {account_name} failed (exit code {proc.returncode}).")
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0]:
        raise CredentialError(f"The password_command of account {account_name} printed no password.")
    return lines[0]


def get_password(account: AccountConfig, server: ServerConfig | None = None, *, prompt: Prompt | None = None) -> str:
    """The password for one of the account's servers.

    Order: the server's password_command if configured (an explicit choice wins), then the OS keyring (service
    ``tui-mail:<account>``, user = the server's username), then ``prompt`` if given. For SMTP without its own
    entry, the incoming server's password is used.
    """
    server = server or account.incoming
    if server.password_command:
        return run_password_command(server.password_command, account.name)
    if server is not account.incoming and account.incoming.password_command:
        if _keyring_user(server, account) == _keyring_user(account.incoming, account):
            return run_password_command(account.incoming.password_command, account.name)
    import keyring  # imported on first use: it costs ~70 ms at start-up
    import keyring.errors

    no_backend = False
    for user in dict.fromkeys((_keyring_user(server, account), _keyring_user(account.incoming, account))):
        try:
            secret = keyring.get_password(account.keyring_service, user)
        except keyring.errors.NoKeyringError:
            no_backend = True
            break
        except keyring.errors.KeyringError as e:
            raise CredentialError(f"The OS keyring could not be read for account {account.name} ({e}).") from None
        if secret:
            return secret
    if prompt is not None:
        return prompt(f"Password for {_keyring_user(server, account)} at {server.host} (account {account.name}): ")
    if no_backend:
        raise CredentialError(_NO_KEYRING.format(name=account.name))
    raise CredentialError(
        f"No password is stored for account {account.name}; run 'tui-mail password set {account.name}' "
        "or set password_command."
    )


def set_password(
    account: AccountConfig | str, password: str, server: ServerConfig | None = None, *, username: str | None = None
) -> None:
    """Store the password in the OS keyring.

    ``account`` is an AccountConfig, or just an account name together with ``username`` (the first-run setup
    screen, before a config exists); the keyring user is the server's username, else the account's email.
    """
    import keyring
    import keyring.errors

    if isinstance(account, AccountConfig):
        name, service = account.name, account.keyring_service
        user = username or _keyring_user(server or account.incoming, account)
    else:
        name, service = account, f"tui-mail:{account}"
        if not username:
            raise ValueError("set_password(name, ...) needs the username")
        user = username
    try:
        keyring.set_password(service, user, password)
    except keyring.errors.NoKeyringError:
        raise CredentialError(_NO_KEYRING.format(name=name)) from None
    except keyring.errors.KeyringError as e:
        raise CredentialError(f"The OS keyring refused to store the password for {name} ({e}).") from None
