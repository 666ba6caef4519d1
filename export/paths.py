"""The export output directory: checks against traversal and symlinks, the locked temp dir, stale cleanup.

Each export writes into `.<out>.harvest-tmp-<pid>-<rand>` next to the target and holds an exclusive
flock on a sibling `.lock` file while it runs. The kernel drops the lock when the process dies (even
by SIGKILL), so a temp dir whose lock can be taken belongs to a dead export and is removed.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from export.errors import OutputPathError

TMP_MARK = ".harvest-tmp-"


def check_out_dir(out_dir: str | Path, keep_out: tuple[Path, ...] = ()) -> Path:
    """Absolute path of a new output directory; refuses '..', existing paths, symlinked parents and any
    place inside one of `keep_out` (the blob store: an export there would mix with content-addressed files)."""
    raw = Path(out_dir)
    if ".." in raw.parts:
        raise OutputPathError(
            f"output directory {str(out_dir)!r} contains '..'; exports are written only where the path says "
            "without stepping up. Give the directory without '..' components."
        )
    full = Path(os.path.abspath(raw))
    if os.path.lexists(full):
        what = "a symlink" if full.is_symlink() else "there already"
        raise OutputPathError(
            f"output directory {full} is {what}; an export never overwrites or follows anything. "
            "Choose a new directory (or remove the old export first)."
        )
    nearest = full.parent
    while not nearest.exists():
        nearest = nearest.parent
    if os.path.realpath(nearest) != str(nearest):
        real = Path(os.path.realpath(nearest)) / full.relative_to(nearest)
        raise OutputPathError(
            f"output directory {full} goes through a symlink ({nearest} -> {os.path.realpath(nearest)}); "
            f"refusing to follow it. Give the real path instead: {real}"
        )
    if not nearest.is_dir():
        raise OutputPathError(f"{nearest} is a file, so {full} cannot be created there; choose another directory.")
    for guarded in keep_out:
        root = Path(os.path.realpath(guarded))
        if Path(os.path.realpath(nearest)).joinpath(full.relative_to(nearest)).is_relative_to(root):
            raise OutputPathError(
                f"output directory {full} is inside the blob store {root}, which holds only content-addressed "
                "files harvest manages. Choose a directory outside it (e.g. under the data dir's exports/)."
            )
    return full


def _lock_of(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + ".lock")


@contextmanager
def locked_temp_dir(out: Path) -> Iterator[Path]:
    """A fresh temp dir next to `out`, locked for as long as the context runs; removed lock on exit."""
    tmp = out.parent / f".{out.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    lock = _lock_of(tmp)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        tmp.mkdir()
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when it was renamed into place
        lock.unlink(missing_ok=True)
        os.close(fd)


def clean_stale(out: Path) -> list[Path]:
    """Remove temp dirs of earlier exports to `out` whose process is gone (killed mid-export)."""
    removed: list[Path] = []
    for path in sorted(out.parent.glob(f".{out.name}{TMP_MARK}*")):
        if path.name.endswith(".lock") or path.is_symlink() or not path.is_dir():
            continue
        lock = _lock_of(path)
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            fd = None  # lock already gone: its export ended without cleaning up
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live export holds it
        shutil.rmtree(path, ignore_errors=True)
        lock.unlink(missing_ok=True)
        if fd is not None:
            os.close(fd)
        removed.append(path)
    for lock in out.parent.glob(f".{out.name}{TMP_MARK}*.lock"):  # locks whose dir is gone
        if not lock.with_name(lock.name[: -len(".lock")]).exists():
            try:
                fd = os.open(lock, os.O_RDWR)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (BlockingIOError, FileNotFoundError):
                continue
            lock.unlink(missing_ok=True)
            os.close(fd)
    return removed
