"""Label Studio media from an S3 blob store: the signed media endpoint and local-files publishing."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from annotation.media import files_dir, image_urls, signed_url
from annotation.media_server import create_app
from harvest.store import open_store
from tests.annotation.conftest import add_images
from tests.annotation.test_media import asset_rows
from tests.conftest import make_settings
from tests.s3server import raw_client, s3_endpoint, s3_url  # noqa: F401  (fixtures)

SECRET = "media-secret-for-tests-0123456789"


@pytest.fixture
def s3_store(tmp_path, sqlite_url, s3_url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store(make_settings(tmp_path, sqlite_url, blob_url=s3_url,
                                     labelstudio={"document_root": str(tmp_path / "data")}))
    yield store
    store.close()


def bucket_bytes(store, endpoint: str, key: str) -> bytes:
    return raw_client(endpoint).get_object(Bucket=store.blobs.bucket, Key=store.blobs.object_key(key))["Body"].read()


def test_signed_media_streams_the_object_from_s3(s3_store, s3_endpoint):
    [(sha, mime)] = asset_rows(s3_store, add_images(s3_store, [(40, 30)]))
    exp = int(time.time()) + 3600
    url = signed_url("http://testserver", SECRET, sha, mime, exp)
    with TestClient(create_app(s3_store, SECRET)) as client:
        response = client.get(url)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert response.content == bucket_bytes(s3_store, s3_endpoint, sha)
        assert response.headers["etag"] == f'"{sha}"'
        assert client.get(url, headers={"If-None-Match": f'"{sha}"'}).status_code == 304
        head = client.head(url)
        assert head.status_code == 200 and head.content == b""
        raw_client(s3_endpoint).delete_object(Bucket=s3_store.blobs.bucket, Key=s3_store.blobs.object_key(sha))
        gone = client.get(url)
        assert gone.status_code == 404 and "missing from the blob store" in gone.json()["error"]


def test_local_files_publishing_copies_from_s3(s3_store, s3_endpoint):
    ids = add_images(s3_store, [(20, 10), (30, 12)])
    rows = asset_rows(s3_store, ids)
    urls = image_urls(s3_store, rows_as_assets(rows))
    folder = files_dir(Path(s3_store.settings.data_dir))
    for (sha, _), url in zip(rows, urls):
        assert url.endswith(f"{sha}.png")
        assert (folder / f"{sha}.png").read_bytes() == bucket_bytes(s3_store, s3_endpoint, sha)
    assert image_urls(s3_store, rows_as_assets(rows)) == urls  # idempotent
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def rows_as_assets(rows):
    from types import SimpleNamespace

    return [SimpleNamespace(sha256=sha, mime=mime) for sha, mime in rows]
