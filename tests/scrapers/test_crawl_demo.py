"""Real crawls of the bundled demo site over HTTP on 127.0.0.1, checked against `site.expected()`."""
from __future__ import annotations

import io
import stat
from urllib.parse import urlsplit

import pytest
from parsel import Selector
from PIL import Image
from sqlalchemy import func, select

import harvest.demo.site.server as demo_server
from scrapers.config import demo_source
from harvest.demo.site import DemoSite, serve
from storage.collect_models import Asset, ImageRejection, Item, ItemAsset
from storage.blobs import BlobStore
from storage.engine import make_engine, session_factory
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml


@pytest.fixture(scope="module")
def demo():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


def _path(url: str) -> str:
    return urlsplit(url).path


def crawl_demo(settings, srv, tmp_path, **source_overrides):
    tables = {"crawl": {"demo_url": srv.base_url + "/"}}
    if source_overrides:
        cfg = demo_source(srv.base_url).model_dump(exclude_none=True)
        cfg.update(source_overrides)
        tables["sources.demo"] = {k: v for k, v in cfg.items() if v not in ({}, None)}
    config = write_toml(tmp_path / "harvest.toml", tables)
    env = harvest_env(settings, config)
    return check(harvest(["crawl", "demo"], env, tmp_path))


def _db(settings):
    engine = make_engine(settings.database_url)
    return engine, session_factory(engine)


def test_first_crawl_stores_what_the_site_expects(settings, demo, tmp_path):
    expected = demo.site.expected()
    mark = demo.requests.mark()
    crawl_demo(settings, demo, tmp_path)
    requested = [r.path for r in demo.requests.since(mark)]

    # robots.txt honoured: no disallowed path was ever requested; thumbnails/placeholders never fetched
    assert not set(requested) & set(expected["disallowed_paths"])
    assert not [p for p in requested if p.startswith(tuple(expected["robots_disallow"]))]
    assert not set(requested) & set(expected["ignored_image_urls"])
    assert all("harvest/" in r.user_agent for r in demo.requests.since(mark))

    (run,) = runs(settings.database_url)
    assert run.status == "succeeded", run.error
    engine, sessions = _db(settings)
    with sessions() as s:
        items = s.scalars(select(Item)).all()
        assert sorted(_path(i.page_url) for i in items) == expected["detail_pages"]
        for item in items:
            assert item.http_status == 200 and item.etag and item.last_modified
            assert item.robots_decision == "allowed" and item.crawl_run_id == run.id and item.gone_at is None
            assert item.fetched_at is not None and _path(item.referrer) in ["/", *expected["index_pages"]]
            assert item.title
            lic = expected["licences"][_path(item.page_url)]
            assert item.licence == (lic["url"] if lic else None), item.page_url
            if lic and lic["attribution"]:
                assert item.attribution == lic["attribution"]

        by_url = {_path(url): asset for url, asset in s.execute(select(ItemAsset.url, Asset).join(Asset))}
        assert sorted(by_url) == expected["valid_image_urls"]
        assert s.scalar(select(func.count(Asset.id))) == expected["n_distinct_images"]
        for group in expected["duplicate_groups"]:  # exact duplicates: one asset, every URL linked to it
            assert len({by_url[u].id for u in group}) == 1
        clusters = set()
        for group in expected["near_duplicate_groups"]:
            ids = {by_url[u].cluster_id for u in group}
            assert len(ids) == 1 and None not in ids, group
            clusters |= ids
        assert len(clusters) == len(expected["near_duplicate_groups"])
        in_groups = {by_url[u].id for g in expected["near_duplicate_groups"] for u in g}
        assert s.scalar(select(func.count(Asset.id)).where(Asset.cluster_id.is_not(None))) == len(in_groups)
        for url, (w, h) in expected["image_sizes"].items():
            assert (by_url[url].width, by_url[url].height) == (w, h), url
        blobs = BlobStore(settings.blob_dir)
        for url in expected["exif_rotated"]:
            stored = Image.open(io.BytesIO(blobs.get(by_url[url].sha256)))
            assert stored.size == tuple(expected["image_sizes"][url])
            assert stored.getexif().get(0x0112, 1) == 1
        for asset in by_url.values():
            assert blobs.resolve(asset.blob_path) == blobs.path(asset.sha256) and blobs.exists(asset.sha256)
        reference = BlobStore(tmp_path / "reference")  # crawled blobs get the mode BlobStore.put gives
        modes = {stat.S_IMODE(blobs.path(a.sha256).stat().st_mode) for a in by_url.values()}
        assert modes == {stat.S_IMODE(reference.path(reference.put(b"x")).stat().st_mode)}, modes
        rejected = {}
        for row in s.scalars(select(ImageRejection)):
            rejected.setdefault(row.reason, []).append(_path(row.url))
        assert {k: sorted(v) for k, v in rejected.items()} == expected["rejections"]
    engine.dispose()

    stats = run.stats
    assert stats["dropped"] == expected["rejection_counts"]
    assert stats["items"] == stats["items_new"] == expected["n_detail_pages"]
    assert stats["images_stored"] == expected["n_distinct_images"]
    assert stats["duplicates"] == expected["n_duplicate_urls"]
    assert stats["near_duplicates"] == sum(len(g) - 1 for g in expected["near_duplicate_groups"])
    assert stats["errors"] == 0 and stats["robots_forbidden"] >= 1


def test_recrawl_downloads_nothing_new_and_marks_gone(sqlite_settings, demo, tmp_path):
    settings = sqlite_settings
    expected = demo.site.expected()
    crawl_demo(settings, demo, tmp_path)
    engine, sessions = _db(settings)
    with sessions() as s:
        first_seen = dict(s.execute(select(Item.canonical_url, Item.last_seen_at)).all())
        n_assets = s.scalar(select(func.count(Asset.id)))

    mark = demo.requests.mark()
    crawl_demo(settings, demo, tmp_path)
    again = demo.requests.since(mark)
    assert not [r.path for r in again if r.path.startswith("/images/")], "a re-crawl fetched images again"
    second = runs(settings.database_url)[-1]
    assert second.status == "succeeded"
    assert second.stats["items_new"] == 0 and second.stats["items_unchanged"] == expected["n_detail_pages"]
    assert second.stats["images_stored"] == 0 and second.stats["items_gone"] == 0
    with sessions() as s:
        assert s.scalar(select(func.count(Asset.id))) == n_assets
        for url, seen in s.execute(select(Item.canonical_url, Item.last_seen_at)):
            assert seen > first_seen[url]
        assert s.scalar(select(func.min(ItemAsset.last_seen_at))) > min(first_seen.values())

    # revalidating instead of skipping: conditional GETs with the stored validators, answered 304
    mark = demo.requests.mark()
    crawl_demo(settings, demo, tmp_path, revalidate_images=True)
    valid = set(expected["valid_image_urls"])
    checked = [r for r in demo.requests.since(mark) if r.path in valid]
    assert {r.path for r in checked} == valid and all(r.conditional and r.status == 304 for r in checked)
    revalidated = runs(settings.database_url)[-1]
    assert revalidated.stats["images_known"] == len(valid) and revalidated.stats["images_stored"] == 0

    # a complete run that only sees page 1: the other items are marked gone, never deleted
    crawl_demo(settings, demo, tmp_path, follow=[])
    page1 = Selector(text=demo.site.resource("/").body.decode())
    on_page1 = {h for h in page1.css("li.listing a.listing-link::attr(href)").getall()} & set(expected["detail_pages"])
    third = runs(settings.database_url)[-1]
    assert third.stats["items_gone"] == expected["n_detail_pages"] - len(on_page1)
    with sessions() as s:
        gone = {_path(u) for u in s.scalars(select(Item.page_url).where(Item.gone_at.is_not(None)))}
        assert gone == set(expected["detail_pages"]) - on_page1
        assert s.scalar(select(func.count(Item.id))) == expected["n_detail_pages"]
    engine.dispose()


def test_a_crawl_that_loses_a_page_marks_nothing_gone(sqlite_settings, demo, tmp_path, monkeypatch):
    settings = sqlite_settings
    expected = demo.site.expected()
    crawl_demo(settings, demo, tmp_path)
    monkeypatch.setattr(demo_server._Server, "fail_now", lambda self, path: True)  # the flaky page: 500 for good
    crawl_demo(settings, demo, tmp_path)
    assert demo.requests.statuses(expected["flaky_page"])[-3:] == [500, 500, 500]  # retried, then given up
    run = runs(settings.database_url)[-1]
    assert run.status == "succeeded" and run.stats["pages_failed"].get("500") == 1
    assert run.stats["items"] == expected["n_detail_pages"] - 1 and run.stats["missed_pages"]
    assert run.stats["items_gone"] == 0
    engine, sessions = _db(settings)
    with sessions() as s:
        assert s.scalar(select(func.count(Item.id)).where(Item.gone_at.is_not(None))) == 0
    engine.dispose()
