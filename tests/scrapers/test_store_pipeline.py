"""StorePipeline on a real database: exact duplicates merged, near-duplicates clustered against
assets stored by an earlier run (the index is loaded from the database when a crawl opens)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from scrapers import context
from scrapers.blobs import CrawlBlobStore
from scrapers.config import CrawlConfig, SourceConfig
from scrapers.imaging import Limits
from scrapers.pipelines import StorePipeline
from storage import collect as q
from storage.collect_models import Asset, Item, ItemAsset, NearDupCluster
from storage.engine import session_scope

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def image(url: str, sha: str, phash: int) -> dict:
    return {"url": url, "path": f"{sha[:2]}/{sha[2:4]}/{sha}", "status": "downloaded", "sha256": sha,
            "mime": "image/jpeg", "width": 64, "height": 48, "bytes": 100, "phash": phash,
            "http_status": 200, "etag": None, "last_modified": None, "fetched_at": NOW}


def open_pipeline(engine, sessions, tmp_path, source_id: int) -> tuple[StorePipeline, int]:
    """A StorePipeline opened for a new run of `source_id` (and that run's id)."""
    run_id = q.start_run(sessions, source_id, trigger="manual", host="h", pid=1)
    crawler = get_crawler()
    context._CONTEXTS[crawler] = context.CrawlContext(
        source_name="s", source=SourceConfig(start_urls=["http://a/"]), crawl=CrawlConfig(near_dup_threshold=4),
        engine=engine, sessions=sessions, blobs=CrawlBlobStore(tmp_path / "blobs"), source_id=source_id,
        run_id=run_id, started_at=NOW, limits=Limits())
    pipe = StorePipeline(crawler)
    pipe.open_spider()
    return pipe, run_id


def run_pipeline(engine, sessions, tmp_path, source_id: int, items: list[dict]) -> dict:
    pipe, run_id = open_pipeline(engine, sessions, tmp_path, source_id)
    crawler = pipe.crawler
    pipe.flush([{"url": f"http://a/{i}", "page_url": f"http://a/{i}", "fields": {}, **item}
                for i, item in enumerate(items)])
    q.finish_run(sessions, run_id, status="succeeded", stats={})
    return crawler.stats.get_stats()


def test_duplicates_and_near_duplicates_across_runs(sessions, engine, tmp_path):
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "s", "config", {}, None)
    first = run_pipeline(engine, sessions, tmp_path, source, [
        {"images": [image("http://a/x.jpg", a, 0x0F0F)]},
    ])
    assert first["harvest/images_stored"] == 1
    second = run_pipeline(engine, sessions, tmp_path, source, [
        {"images": [image("http://a/copy.jpg", a, 0x0F0F)]},  # same bytes, another URL
        {"images": [image("http://a/near.jpg", b, 0x0F0F ^ 0b111)]},  # 3 bits from the stored asset
        {"images": [image("http://a/far.jpg", c, ~0x0F0F)]},
    ])
    assert second["harvest/duplicates"] == 1 and second["harvest/images_stored"] == 2
    assert second["harvest/near_duplicates"] == 1 and second["harvest/items_new"] == 2
    with sessions() as s:
        assets = {row.sha256: row for row in s.scalars(select(Asset))}
        links = dict(s.execute(select(ItemAsset.url, ItemAsset.asset_id)).all())
    assert links["http://a/copy.jpg"] == links["http://a/x.jpg"] == assets[a].id
    assert assets[a].cluster_id is not None and assets[a].cluster_id == assets[b].cluster_id
    assert assets[c].cluster_id is None


def test_a_failed_batch_leaves_no_trace_for_the_next(sessions, engine, tmp_path, monkeypatch):
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "s", "config", {}, None)
    run_pipeline(engine, sessions, tmp_path, source, [{"images": [image("http://a/x.jpg", a, 0x0F0F)]}])

    pipe, _ = open_pipeline(engine, sessions, tmp_path, source)
    crawler = pipe.crawler
    batch = [{"url": "http://a/page", "page_url": "http://a/page", "fields": {},
              "images": [image("http://a/near.jpg", b, 0x0F0F ^ 0b1), image("http://a/other.jpg", c, ~0x0F0F)]}]
    real = q.upsert_links
    calls = []

    def fail_once(*args, **kwargs):  # assets, a new cluster and the item are written, then the batch fails
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(q, "upsert_links", fail_once)
    with pytest.raises(RuntimeError):
        pipe.flush(batch)
    with sessions() as s:
        assert set(s.scalars(select(Asset.sha256))) == {a}  # rolled back
    assert crawler.stats.get_value("harvest/images_stored") is None

    pipe.flush(batch)  # the same batch again (or any later one) is stored completely
    pipe.flush([{"url": "http://a/page2", "page_url": "http://a/page2", "fields": {},
                 "images": [image("http://a/near2.jpg", b, 0x0F0F ^ 0b1)]}])  # b under another URL
    with sessions() as s:
        assets = {row.sha256: row for row in s.scalars(select(Asset))}
        links = dict(s.execute(select(ItemAsset.url, ItemAsset.asset_id)).all())
        items = dict(s.execute(select(Item.canonical_url, Item.id)).all())
        clusters = set(s.scalars(select(NearDupCluster.id)))
    assert set(assets) == {a, b, c}
    assert links == {"http://a/x.jpg": assets[a].id, "http://a/near.jpg": assets[b].id,
                     "http://a/other.jpg": assets[c].id, "http://a/near2.jpg": assets[b].id}
    assert assets[a].cluster_id == assets[b].cluster_id and assets[a].cluster_id in clusters
    ids = {row.id for row in assets.values()}  # the pipeline's memory names only committed rows
    assert set(pipe.assets.values()) <= ids and set(pipe.clusters) <= ids and set(pipe.clusters.values()) <= clusters
    assert set(pipe.items.values()) <= set(items.values()) and set(pipe.url_items.values()) <= set(items.values())
    assert {i for i, _ in pipe.index.query(0x0F0F, 64)} == ids
    stats = crawler.stats.get_stats()
    assert (stats["harvest/images_stored"], stats["harvest/near_duplicates"], stats["harvest/items_new"]) == (2, 1, 2)
