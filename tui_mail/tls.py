"""The one place TLS contexts are made: verified by default, with an optional private CA file."""

from __future__ import annotations

import ssl

from .errors import ConfigError


def make_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A client context that verifies the certificate and host name; ca_file replaces the system CAs."""
    try:
        if ca_file:
            return ssl.create_default_context(cafile=ca_file)
        return ssl.create_default_context()
    except FileNotFoundError:
        raise ConfigError(f"The CA file {ca_file} does not exist.") from None
    except ssl.SSLError as e:
        raise ConfigError(f"The CA file {ca_file} could not be read as PEM certificates ({e.reason}).") from None
