"""CrawlBlobStore: the same files as BlobStore (layout, content, mode), made durable by `sync()`."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from scrapers.blobs import CrawlBlobStore
from storage.blobs import BlobStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_crawl_blobs_are_written_like_blobstore_put(tmp_path):
    plain, crawl = BlobStore(tmp_path / "plain"), CrawlBlobStore(tmp_path / "crawl")
    umask = os.umask(0o022)
    try:
        first, second = plain.put(b"first image"), plain.put(b"second image")
        assert crawl.put_hashed(b"first image", first) == first
        assert crawl.put(b"second image") == second
    finally:
        os.umask(umask)
    for key in (first, second):
        assert crawl.get(key) == plain.get(key)
        assert _mode(crawl.path(key)) == _mode(plain.path(key)) == 0o644, oct(_mode(crawl.path(key)))
    assert not list(crawl._tmp.iterdir())
    assert crawl.pending == 2
    crawl.sync()
    assert crawl.pending == 0


def test_put_hashed_twice_writes_once_and_refuses_a_key_that_is_not_a_digest(tmp_path):
    import hashlib

    import pytest

    from storage.errors import BlobKeyError

    crawl = CrawlBlobStore(tmp_path / "crawl")
    key = hashlib.sha256(b"bytes").hexdigest()
    crawl.put_hashed(b"bytes", key)
    before = crawl.path(key).stat().st_mtime_ns
    crawl.put_hashed(b"bytes", key)
    assert crawl.pending == 1 and crawl.path(key).stat().st_mtime_ns == before
    for bad in ("../" + key[3:], key.upper(), key[:-1]):
        with pytest.raises(BlobKeyError):
            crawl.put_hashed(b"bytes", bad)
    assert sorted(p.name for p in (tmp_path / "crawl").rglob("*") if p.is_file()) == [key]
