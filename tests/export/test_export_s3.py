"""Exports read blobs through the blob interface: a store whose blobs live in S3 (a real S3 server)."""
from __future__ import annotations

import hashlib
import json

import pytest

from export import create_version, export_version
from export.errors import FormatError
from harvest.store import open_store
from storage.blobs_s3 import S3BlobStore
from tests.conftest import make_settings
from tests.export.factory import detection_project
from tests.s3server import raw_client, s3_endpoint, s3_url  # noqa: F401  (fixtures)


@pytest.fixture
def s3_store(tmp_path, sqlite_url, s3_url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store(make_settings(tmp_path, sqlite_url, blob_url=s3_url))
    yield store
    store.close()


def test_coco_export_from_s3_has_the_bucket_bytes(s3_store, s3_endpoint, tmp_path):
    assert isinstance(s3_store.blobs, S3BlobStore)
    detection_project(s3_store, n=6)
    create_version(s3_store, "v1", "proj", seed=1)
    export_version(s3_store, "v1", "coco", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    client, bucket = raw_client(s3_endpoint), s3_store.blobs.bucket
    images = [e for e in manifest["files"] if e["path"].startswith("images/")]
    assert len(images) == 6
    for entry in images:
        key = entry["sha256"]
        stored = client.get_object(Bucket=bucket, Key=f"blobs/{key[:2]}/{key[2:4]}/{key}")["Body"].read()
        data = (tmp_path / "out" / entry["path"]).read_bytes()
        assert data == stored and hashlib.sha256(data).hexdigest() == key


def test_export_names_a_blob_missing_from_the_bucket(s3_store, s3_endpoint, tmp_path):
    detection_project(s3_store, n=3)
    create_version(s3_store, "v1", "proj", seed=1)
    key = next(iter(s3_store.blobs.keys()))
    raw_client(s3_endpoint).delete_object(Bucket=s3_store.blobs.bucket, Key=s3_store.blobs.object_key(key))
    with pytest.raises(FormatError, match=f"blob {key}.*missing from the blob store at s3://"):
        export_version(s3_store, "v1", "coco", tmp_path / "out")
    assert not (tmp_path / "out").exists()
