"""A real crawl of the demo site with `blob_url = s3://...`: every image lands in the bucket, none on disk."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from harvest.demo.site import DemoSite, serve
from scrapers.neardup import NearDupIndex
from scrapers.neardup_shared import FILE
from storage.collect_models import Asset
from storage.engine import make_engine, session_factory
from tests.s3server import raw_client, s3_endpoint, s3_url  # noqa: F401  (fixtures)
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml


@pytest.fixture(scope="module")
def demo():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


def test_crawl_writes_blobs_to_s3(sqlite_settings, demo, tmp_path, s3_url, s3_endpoint):
    """Images are ingested in forked worker processes (the default), each with its own S3 client."""
    config = write_toml(tmp_path / "harvest.toml", {"crawl": {"demo_url": demo.base_url + "/"}})
    env = harvest_env(sqlite_settings, config)
    env["HARVEST_BLOB_URL"] = s3_url
    check(harvest(["crawl", "demo"], env, tmp_path))
    (run,) = runs(sqlite_settings.database_url)
    assert run.status == "succeeded", run.error
    engine = make_engine(sqlite_settings.database_url)
    with session_factory(engine)() as s:
        assets = s.scalars(select(Asset)).all()
    engine.dispose()
    assert len(assets) == demo.site.expected()["n_distinct_images"]
    client, bucket = raw_client(s3_endpoint), s3_url.split("/")[2]
    for asset in assets:
        body = client.get_object(Bucket=bucket, Key=f"blobs/{asset.blob_path}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == asset.sha256 and len(body) == asset.bytes
    listed = client.list_objects_v2(Bucket=bucket)["KeyCount"]
    assert listed == len(assets)
    index, meta = NearDupIndex.load(sqlite_settings.data_dir / FILE)  # saved by the crawl for the next one
    assert sorted(index.ids.tolist()) == sorted(a.id for a in assets) and meta["watermark"] <= max(index.ids)
    local = sqlite_settings.data_dir / "blobs"
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()]
