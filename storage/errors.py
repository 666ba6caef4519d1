"""Errors raised by the storage layer. Each message says what was expected, what was found, and the fix."""
from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage error."""


class DatabaseUnreachable(StorageError):
    """The database URL is well formed but nothing answers there."""


class BadDatabaseURL(StorageError):
    """The database URL cannot be parsed or names an unsupported backend."""


class BlobKeyError(StorageError, ValueError):
    """A blob key is not a sha256 hex digest, or a path would leave the blob root."""


class DowngradeRefused(StorageError):
    """A downgrade would lose data: it drops every table (below the first revision) and was not confirmed,
    or the older schema cannot hold rows the store has now."""


class BlobNotFound(StorageError, FileNotFoundError):
    """A blob key that the blob store does not hold (or holds corrupt)."""


class BlobStoreError(StorageError):
    """The blob store cannot be reached or is misconfigured (bucket, credentials, endpoint)."""
