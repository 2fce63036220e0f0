"""Typed errors whose message is one clear sentence a user can act on."""

from __future__ import annotations


class MailError(Exception):
    """Base class: str(error) is a single sentence fit to show a user (never a password)."""


class ConfigError(MailError):
    """The configuration file is missing, malformed or inconsistent."""


class CredentialError(MailError):
    """No password could be obtained (no keyring backend, failing password_command, ...)."""


class ConnectError(MailError):
    """A server could not be reached or the secure channel could not be set up."""


class AuthError(MailError):
    """The server rejected the username or password."""


class ProtocolError(MailError):
    """The server answered something we could not work with."""


class SendError(MailError):
    """A message could not be sent; it has been kept in the outbox."""
