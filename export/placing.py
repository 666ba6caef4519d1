"""Putting an original image into an export without sharing writable storage with the blob store.

Default: a reflink (copy-on-write clone) where the file system supports it, otherwise a plain copy;
``link=True`` hard-links instead (fast, but an edit to the exported file edits the stored blob).
Either way the bytes are read and hashed here and compared with the blob's key, so an export never
lists a hash for bytes it did not read, and a corrupt blob stops the export with a clear message.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from pathlib import Path

from export.errors import FormatError

CHUNK = 1 << 20
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_NO_SHARE = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EINVAL,
             errno.ENOTTY, errno.EBADF)


def place_file(source: Path, dest: str, expected: str | None, link: bool = False) -> str:
    """Put ``source`` at ``dest`` (reflink, else copy; hard link when ``link``); returns the sha256 of its bytes.

    Raises ``FormatError`` (and removes ``dest``) when the bytes do not hash to ``expected``.
    """
    if link and _hard_link(source, dest):
        digest = _hash_path(dest)
    else:
        digest = _clone_or_copy(source, dest)
    if expected is not None and digest != expected:
        os.unlink(dest)
        raise FormatError(f"blob {expected} at {source} no longer hashes to its key (found {digest}): the blob store "
                          "is corrupt (an edit through a hard-linked export?). Nothing was exported; run "
                          "`harvest store verify` to find and quarantine every damaged blob, then re-crawl it.")
    return digest


def _hard_link(source: Path, dest: str) -> bool:
    try:
        os.link(source, dest)
        return True
    except OSError as exc:
        if exc.errno not in _NO_SHARE:
            raise
        return False


_NO_CLONE: set[tuple[int, int]] = set()  # (source device, destination device) pairs where FICLONE failed


def _clone_or_copy(source: Path, dest: str) -> str:
    """Reflink when the file system can (then hash the shared bytes), else copy while hashing: each
    byte is read once, hashed, and written from that same buffer."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            info = os.fstat(src)
            size, devices = info.st_size, (info.st_dev, os.fstat(dst).st_dev)
            if devices not in _NO_CLONE:
                try:
                    fcntl.ioctl(dst, FICLONE, src)
                except OSError as exc:
                    if exc.errno not in _NO_SHARE + (errno.EXDEV,):
                        raise
                    _NO_CLONE.add(devices)  # not on this file system: plain copies from now on
                else:
                    return _hash_fd(dst, size)
            digest = hashlib.sha256()
            while True:
                chunk = os.read(src, max(CHUNK, size + 1))  # a whole image in one read
                if not chunk:
                    break
                digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst, view):]
            return digest.hexdigest()
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _hash_fd(fd: int, size: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while True:
        chunk = os.pread(fd, max(CHUNK, size + 1), offset)
        if not chunk:
            return digest.hexdigest()
        digest.update(chunk)
        offset += len(chunk)


def _hash_path(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _hash_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
