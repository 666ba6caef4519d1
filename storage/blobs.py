"""Content-addressed blob store: sha256 keys, sharded folders, atomic idempotent writes."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from storage.errors import BlobKeyError

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


class BlobStore:
    """Files under `root/ab/cd/<sha256>`; a put writes a temp file, fsyncs and renames it into place."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(exist_ok=True)

    def relpath(self, key: str) -> str:
        check_key(key)
        return f"{key[:2]}/{key[2:4]}/{key}"

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
        return self.path(key).read_bytes()

    def _write_atomic(self, target: Path, chunks: list[bytes], fsync: bool = True) -> None:
        """Temp file (ordinary file mode), fsync unless `fsync=False` (the caller syncs later), rename."""
        with self._temp() as (out, tmp):
            for chunk in chunks:
                out.write(chunk)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
            out.close()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)

    @contextmanager
    def _temp(self) -> Iterator[tuple[BinaryIO, Path]]:
        """An open temp file in the store (ordinary file mode), removed if anything fails before its rename."""
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        tmp = Path(tmp_name)
        try:
            os.fchmod(fd, _file_mode())
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
