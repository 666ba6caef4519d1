"""Content-addressed blob store: sha256 keys under `ab/cd/<sha256>`, atomic idempotent writes.

`Blobs` is the one interface every reader and writer uses; `BlobStore` keeps blobs on local disk (the
default) and `storage.blobs_s3.S3BlobStore` in an S3 bucket. `open_blobs(location)` picks one from a
folder or an `s3://bucket/prefix` URL. Keys, and the relative paths stored in `assets.blob_path`, are
the same in every backend.
"""
from __future__ import annotations

import abc
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from storage.errors import BlobKeyError, BlobNotFound

_KEY = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def _file_mode() -> int:
    """Blobs get the mode of an ordinary new file (0644 under the usual umask), not mkstemp's 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def hash_file(path: Path | str) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_key(key: str) -> str:
    """Return `key` if it is a lowercase sha256 hex digest, else raise BlobKeyError."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise BlobKeyError(
            f"blob key {key!r} is not a sha256 hex digest (64 lowercase hex characters); "
            "blob keys come from BlobStore.put, never from user input."
        )
    return key


def relpath(key: str) -> str:
    """`ab/cd/<sha256>`: where a blob lives under any backend's root."""
    check_key(key)
    return f"{key[:2]}/{key[2:4]}/{key}"


class Blobs(abc.ABC):
    """What every blob backend offers. Keys are sha256 hex digests of the stored bytes."""

    location: str  # a folder or an s3:// URL; `open_blobs(location)` opens the same store again

    def relpath(self, key: str) -> str:
        return relpath(key)

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether the blob is stored."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The blob's bytes; BlobNotFound if it is not stored."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the blob (close it); BlobNotFound if it is not stored."""

    @abc.abstractmethod
    def put(self, data: bytes) -> str:
        """Store `data`, return its key; storing the same bytes again writes nothing."""

    @abc.abstractmethod
    def put_stream(self, stream: BinaryIO) -> str:
        """Store a stream without holding it all in memory; return its key."""

    @abc.abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored key, in no particular order."""

    def local_path(self, key: str) -> Path | None:
        """The blob's file when the backend keeps one on this machine's disk, else None."""
        return None


def open_blobs(location: str | Path) -> Blobs:
    """The blob store at a folder path or an `s3://bucket/prefix` URL (credentials from the environment)."""
    text = str(location)
    if text.startswith("s3://"):
        from storage.blobs_s3 import S3BlobStore

        return S3BlobStore.from_url(text)
    if "://" in text:
        raise BlobKeyError(f"blob store location {text!r} has an unsupported scheme; expected a folder path "
                           "or s3://bucket/prefix.")
    return BlobStore(text)


def local_copy(blobs: Blobs, key: str, cache: Path) -> Path:
    """A local file holding the blob: the backend's own file, else a verified copy under `cache`."""
    path = blobs.local_path(key)
    if path is not None:
        return path
    target = Path(cache) / relpath(key)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".get-")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, blobs.open(key) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != key:
            raise BlobNotFound(f"blob {key} in {blobs.location} does not hash to its key (got "
                               f"{digest.hexdigest()}); the stored object is corrupt, restore it from a backup.")
        os.chmod(tmp, _file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


class BlobStore(Blobs):
    """Files under `root/ab/cd/<sha256>`; a put writes a temp file, fsyncs and renames it into place."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.location = str(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(exist_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / self.relpath(key)).resolve()
        if not path.is_relative_to(self.root):  # defence in depth; check_key already forbids this
            raise BlobKeyError(f"blob path {path} would leave the store root {self.root}")
        return path

    def resolve(self, relpath: str) -> Path:
        """Turn a stored relative blob path back into a file path, refusing anything outside the root."""
        path = None
        if isinstance(relpath, str) and "\x00" not in relpath:
            path = (self.root / relpath).resolve()
        if path is None or not path.is_relative_to(self.root) or not _KEY.match(path.name):
            raise BlobKeyError(
                f"blob path {relpath!r} does not name a blob inside {self.root}; "
                "expected 'ab/cd/<sha256>' as written by BlobStore.put."
            )
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {key} is not in the blob store at {self.root}; restore it from a backup "
                               "or re-crawl its source.") from None

    def keys(self) -> Iterator[str]:
        for path in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
            if _KEY.match(path.name) and path.name.startswith(path.parent.parent.name + path.parent.name):
                yield path.name

    def put(self, data: bytes) -> str:
        """Store `data` and return its sha256 key; storing the same bytes again writes nothing."""
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if target.is_file():
            return key
        self._write_atomic(target, [data])
        return key

    def put_stream(self, stream: BinaryIO) -> str:
        """Store a stream without holding it in memory; returns its sha256 key."""
        digest = hashlib.sha256()
        with self._temp() as (out, tmp):
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
            out.close()
            key = digest.hexdigest()
            target = self.path(key)
            if target.is_file():
                tmp.unlink()
                return key
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        return key

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def _write_atomic(self, target: Path | str, chunks: list[bytes], fsync: bool = True) -> None:
        """Temp file (ordinary file mode), fsync unless `fsync=False` (the caller syncs later), rename."""
        with self._temp() as (out, tmp):
            for chunk in chunks:
                out.write(chunk)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
            out.close()
            try:
                os.replace(tmp, target)
            except FileNotFoundError:  # the first blob of its ab/cd folder
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)

    @contextmanager
    def _temp(self) -> Iterator[tuple[BinaryIO, Path]]:
        """An open temp file in the store, removed if anything fails before its rename. It is created with
        the ordinary file mode (0666 less the umask, as `open` gives): mkstemp's 0600 and a chmod after it
        cost a crawl more CPU per image than the write itself."""
        tmp = self._tmp / f"put-{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out, tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clean_temp(self) -> int:
        """Remove temp files left by a crash; returns how many were removed."""
        removed = 0
        for leftover in self._tmp.glob("put-*"):
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed
