"""A blob store for crawls: the same content-addressed layout, made durable per batch, not per file.

`BlobStore.put` fsyncs every file; during a crawl that is one disk flush per image. Here writes stay
atomic (temp file + rename) and `sync()` flushes the file system once (syncfs) before the database
batch that references the new blobs commits, so a committed asset row never points at lost bytes.
With an `s3://` blob_url the crawl writes objects instead: an S3 put is durable when it returns.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

from storage.blobs import BlobStore, relpath
from storage.blobs_s3 import S3BlobStore

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


class CrawlBlobStore(BlobStore):
    def __init__(self, root: Path | str) -> None:
        super().__init__(root)
        self.pending = 0
        self._lock = threading.Lock()

    def written(self, count: int = 1) -> None:
        """Note blobs written (here, or by a worker process) that the next `sync()` must cover."""
        with self._lock:
            self.pending += count

    def _write_atomic(self, target: Path | str, chunks: list[bytes], fsync: bool = False) -> None:
        super()._write_atomic(target, chunks, fsync=fsync)  # durable at the next `sync()`
        self.written()

    def put_hashed(self, data: bytes, key: str) -> str:
        """`put` for bytes whose sha256 the caller already computed (ingest hashes once, not twice). The
        target is joined as a string from the checked key: `path()`'s resolve cost more than the write."""
        target = os.path.join(self.location, relpath(key))
        if not os.path.isfile(target):
            self._write_atomic(target, [data])
        return key

    def sync(self) -> None:
        """Make every blob written so far durable: one syncfs of the store's file system."""
        with self._lock:
            pending, self.pending = self.pending, 0
        if not pending:
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _syncfs is None or _syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)


class CrawlS3BlobStore(S3BlobStore):
    """The crawl's view of an S3 blob store: every put is durable on return, so there is nothing to sync."""

    def written(self, count: int = 1) -> None:
        pass

    def sync(self) -> None:
        pass


def crawl_blobs(location: str | Path) -> CrawlBlobStore | CrawlS3BlobStore:
    """The crawl's blob store at a folder or an s3:// URL (the `location` of any blob store)."""
    text = str(location)
    if text.startswith("s3://"):
        store = S3BlobStore.from_url(text)
        return CrawlS3BlobStore(store.bucket, store.prefix)
    return CrawlBlobStore(text)
