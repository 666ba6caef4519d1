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
from storage.blobs import hash_file

CHUNK = 1 << 20
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_NO_SHARE = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EINVAL,
             errno.ENOTTY, errno.EBADF)


def place_file(source: Path, dest: str, expected: str | None, link: bool = False) -> str:
    """Put ``source`` at ``dest`` (reflink, else copy; hard link when ``link``); returns the sha256 of its bytes.

    Raises ``FormatError`` (and removes ``dest``) when the bytes do not hash to ``expected``.
    """
    if link and _hard_link(source, dest):
        digest = hash_file(dest)
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


def _clone_or_copy(source: Path, dest: str) -> str:
    """Reflink when possible (then hash the shared bytes), else copy while hashing what is written."""
    with open(source, "rb") as src, open(dest, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        except OSError as exc:
            if exc.errno not in _NO_SHARE + (errno.EXDEV,):
                raise
        else:
            return hash_file(Path(dest))
        digest = hashlib.sha256()
        while chunk := src.read(CHUNK):  # images are small: one read, one hash, one write each
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()
