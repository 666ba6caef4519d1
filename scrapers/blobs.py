"""A blob store for crawls: the same content-addressed layout, made durable per batch, not per file.

`BlobStore.put` fsyncs every file; during a crawl that is one disk flush per image. Here writes stay
atomic (temp file + rename) and `sync()` flushes the file system once (syncfs) before the database
batch that references the new blobs commits, so a committed asset row never points at lost bytes.
With an `s3://` blob_url the crawl writes objects instead: an S3 put is durable when it returns.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
import threading
from pathlib import Path

from storage.blobs import BlobStore, check_key
from storage.blobs_s3 import S3BlobStore

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


class CrawlBlobStore(BlobStore):
    def __init__(self, root: Path | str) -> None:
        super().__init__(root)
        self.pending = 0
        self._lock = threading.Lock()
        self._tmp_dir = str(self._tmp)

    def written(self, count: int = 1) -> None:
        """Note blobs written (here, or by a worker process) that the next `sync()` must cover."""
        with self._lock:
            self.pending += count

    def _write_atomic(self, target: Path, chunks: list[bytes], fsync: bool = False) -> None:
        super()._write_atomic(target, chunks, fsync=fsync)  # durable at the next `sync()`
        self.written()

    def put_hashed(self, data: bytes, key: str) -> str:
        """`put` for bytes whose sha256 the caller already computed (ingest hashes once, not twice).

        The same steps as `_write_atomic` in plain os calls (a crawl writes one per image, and pathlib's
        resolve and mkstemp's chmod were most of a write's CPU): a temp file created with the ordinary
        file mode (0666 less the umask, as `open` gives), written, renamed into `ab/cd/`."""
        folder = os.path.join(self.location, key[:2], key[2:4])
        target = os.path.join(folder, check_key(key))
        if os.path.isfile(target):
            return key
        tmp = os.path.join(self._tmp_dir, f"put-{os.getpid()}-{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            try:
                os.replace(tmp, target)
            except FileNotFoundError:  # the first blob in this ab/cd folder
                os.makedirs(folder, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.written()
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
