"""The blob store: content addressing, idempotent and atomic puts, refusal of keys that leave the root."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import textwrap

import pytest

from storage.blobs import BlobStore
from storage.errors import BlobKeyError


def _files(store: BlobStore) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def test_same_bytes_twice_make_one_file(blobs):
    data = b"\x89PNG some image bytes"
    k1 = blobs.put(data)
    k2 = blobs.put(data)
    assert k1 == k2 == hashlib.sha256(data).hexdigest()
    assert _files(blobs) == [f"{k1[:2]}/{k1[2:4]}/{k1}"]
    assert blobs.get(k1) == data


def test_put_stream_matches_put(blobs):
    data = os.urandom(3 << 20)
    key = blobs.put_stream(io.BytesIO(data))
    assert key == blobs.put(data)
    assert blobs.path(key).read_bytes() == data
    assert len(_files(blobs)) == 1


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "/etc/passwd", "ab/../../x", "A" * 64, "g" * 64, "", "0" * 63, "0" * 64 + "/.."],
)
def test_keys_that_are_not_sha256_are_refused(blobs, key):
    with pytest.raises(BlobKeyError, match="sha256"):
        blobs.path(key)
    with pytest.raises(BlobKeyError):
        blobs.get(key)


@pytest.mark.parametrize("rel", ["../../etc/passwd", "../outside/" + "a" * 64, "ab/cd/notakey"])
def test_stored_paths_outside_the_root_are_refused(blobs, rel):
    with pytest.raises(BlobKeyError):
        blobs.resolve(rel)


def test_resolve_round_trips_a_stored_relpath(blobs):
    key = blobs.put(b"hello")
    assert blobs.resolve(blobs.relpath(key)) == blobs.path(key)


def test_interrupted_put_leaves_no_partial_blob(tmp_path):
    """A process killed in the middle of a put leaves only a temp file, never a blob under its key."""
    root = tmp_path / "blobs"
    script = textwrap.dedent(
        f"""
        import os, signal, io
        from storage.blobs import BlobStore
        store = BlobStore({str(root)!r})
        class Dying(io.RawIOBase):
            sent = 0
            def readable(self): return True
            def readinto(self, b):
                if self.sent > 2_000_000:
                    os.kill(os.getpid(), signal.SIGKILL)
                n = len(b); b[:n] = b"x" * n; self.sent += n; return n
        store.put_stream(Dying())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    store = BlobStore(root)
    blobs_written = [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts]
    assert blobs_written == []
    assert store.clean_temp() == 1
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_failed_write_removes_its_temp_file(blobs, monkeypatch):
    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        blobs.put(b"data")
    assert [p for p in blobs.root.rglob("*") if p.is_file()] == []


def test_blobs_are_readable_like_ordinary_files(blobs):
    key = blobs.put(b"readable")
    umask = os.umask(0)
    os.umask(umask)
    assert blobs.path(key).stat().st_mode & 0o777 == 0o666 & ~umask
