"""The local SQLite cache: the UI's only source of truth and the sync engine's destination."""

from .cache import Cache

__all__ = ["Cache"]
