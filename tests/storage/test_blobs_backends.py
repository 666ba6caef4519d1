"""One contract for every blob backend (local disk and S3 on a real S3-compatible server)."""
from __future__ import annotations

import hashlib
import io
import os

import pytest

from storage.blobs import BlobStore, local_copy, open_blobs
from storage.blobs_s3 import S3BlobStore
from storage.errors import BlobKeyError, BlobNotFound, BlobStoreError
from tests.s3server import raw_client, s3_endpoint, s3_url  # noqa: F401  (fixtures)


@pytest.fixture(params=["local", "s3"])
def any_blobs(request, tmp_path):
    if request.param == "local":
        return open_blobs(tmp_path / "blobs")
    return open_blobs(request.getfixturevalue("s3_url"))


def test_put_get_stream_exists_and_keys(any_blobs, tmp_path):
    small = b"harvest blob \x00\xff" * 10
    big = os.urandom(9 << 20)  # above the 8 MiB spool: a multipart upload on S3
    k1 = any_blobs.put(small)
    assert k1 == hashlib.sha256(small).hexdigest() and any_blobs.put(small) == k1
    k2 = any_blobs.put_stream(io.BytesIO(big))
    assert k2 == hashlib.sha256(big).hexdigest()
    assert any_blobs.get(k1) == small and any_blobs.exists(k2)
    with any_blobs.open(k2) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == k2
    assert sorted(any_blobs.keys()) == sorted([k1, k2])
    assert any_blobs.relpath(k1) == f"{k1[:2]}/{k1[2:4]}/{k1}"
    copy = local_copy(any_blobs, k2, tmp_path / "cache")
    assert copy.read_bytes() == big
    absent = "0" * 64
    assert not any_blobs.exists(absent)
    for call in (any_blobs.get, any_blobs.open):
        with pytest.raises(BlobNotFound, match="not in"):
            call(absent)
    for call in (any_blobs.get, any_blobs.exists, any_blobs.open):
        with pytest.raises(BlobKeyError):
            call("../../etc/passwd")


def test_local_backend_has_files_s3_has_none(tmp_path, s3_url):
    local = open_blobs(tmp_path / "b")
    key = local.put(b"x")
    assert isinstance(local, BlobStore) and local.local_path(key).read_bytes() == b"x"
    s3 = open_blobs(s3_url)
    assert isinstance(s3, S3BlobStore) and s3.local_path(s3.put(b"x")) is None


def test_s3_objects_sit_at_the_same_relative_paths(s3_url, s3_endpoint):
    blobs = open_blobs(s3_url)
    data = b"content-addressed"
    key = blobs.put(data)
    bucket = s3_url.split("/")[2]
    got = raw_client(s3_endpoint).get_object(Bucket=bucket, Key=f"blobs/{key[:2]}/{key[2:4]}/{key}")
    assert got["Body"].read() == data


def test_s3_errors_name_the_fix(s3_url):
    with pytest.raises(BlobStoreError, match="does not exist; create it"):
        open_blobs("s3://no-such-bucket-harvest/p").put(b"x")
    for bad in ("s3://", "s3://bucket/p?x=1"):
        with pytest.raises(BlobStoreError, match="expected s3://bucket/prefix"):
            open_blobs(bad)
    with pytest.raises(BlobKeyError, match="unsupported scheme"):
        open_blobs("gs://bucket/p")
