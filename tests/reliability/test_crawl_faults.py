"""Faults a crawl meets on the web: bad images, malformed HTML, 404, 500 and timeouts — rejected or recorded,
never fatal, and nothing valid lost. One real crawl of the demo site (plus one injected corrupt image and a
per-source DOWNLOAD_TIMEOUT below the slow page's delay) is shared by the tests of this module."""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import harvest.demo.site.server as demo_server
from harvest.demo.site import DemoSite, serve
from storage.blobs import BlobStore
from tests.reliability.helpers import assert_consistent, crawl_config, inject_corrupt_image, store_snapshot
from tests.scrapers.helpers import check, harvest, harvest_env, runs

SLOW_SECONDS = 10.0  # the slow page's delay in this module's server
TIMEOUT = 4.0  # the source's DOWNLOAD_TIMEOUT: below SLOW_SECONDS, far above any other answer


@dataclass
class Crawled:
    expected: dict[str, Any]
    site: DemoSite
    corrupt: str
    run: Any
    snapshot: dict[str, Any]
    statuses: dict[str, list[int]]
    blobs: BlobStore
    database_url: str
    blob_dir: Path


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, sqlite_template) -> Crawled:
    root = tmp_path_factory.mktemp("faulty-crawl")
    shutil.copyfile(sqlite_template, root / "harvest.db")
    from tests.conftest import make_settings

    settings = make_settings(root, f"sqlite:///{root / 'harvest.db'}")
    site = DemoSite(0, fresh=True)
    corrupt = inject_corrupt_image(site)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_server, "SLOW_SECONDS", SLOW_SECONDS)
        with serve(site) as srv:
            config = crawl_config(root, srv.base_url, sources={
                "faulty": {"settings": {"DOWNLOAD_TIMEOUT": TIMEOUT, "RETRY_TIMES": 1}}})
            check(harvest(["crawl", "faulty"], harvest_env(settings, config), root))
            statuses = {p: srv.requests.statuses(p) for p in set(srv.requests.paths())}
    (run,) = runs(settings.database_url)
    return Crawled(site.expected(), site, corrupt, run, store_snapshot(settings.database_url), statuses,
                   BlobStore(settings.blob_dir), settings.database_url, settings.blob_dir)


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


BAD_IMAGES = ["truncated", "corrupt", "decompression_bomb", "not_an_image", "too_small", "http_404"]


@pytest.mark.parametrize("reason", BAD_IMAGES)
def test_bad_image_is_rejected_with_its_reason_and_nothing_stored(crawled, reason):
    paths = [crawled.corrupt] if reason == "corrupt" else crawled.expected["rejections"][reason]
    assert paths and crawled.snapshot["rejections"][reason] == paths
    assert crawled.run.stats["dropped"][reason] == len(paths)
    for path in paths:
        assert path not in crawled.snapshot["links"], f"{path} ({reason}) was linked to an item"
        res = crawled.site.resource(path)
        if res is None:
            assert reason == "http_404" and crawled.statuses[path] == [404]
            continue
        assert crawled.statuses[path] == [200]  # fetched once and refused: not retried, not fatal
        if reason == "not_an_image":  # the wrong-type case: an HTML page sent as a JPEG
            assert res.content_type == "image/jpeg" and res.body.lstrip().startswith(b"<!DOCTYPE html>")
        assert _sha(res.body) not in crawled.snapshot["assets"]
        assert not crawled.blobs.exists(_sha(res.body)), f"the bytes of {path} reached the blob store"


def test_every_valid_image_is_still_stored(crawled):
    valid = sorted(set(crawled.expected["valid_image_urls"]) - {crawled.corrupt})
    on_stored_pages = [u for u in valid if crawled.snapshot["links"].get(u)]
    slow_images = {i.url for lst in crawled.site.listings if lst.path == crawled.expected["slow_page"]
                   for i in lst.gallery}
    assert sorted(set(on_stored_pages) | (slow_images & set(valid))) == valid
    assert on_stored_pages == sorted(set(valid) - slow_images)  # only the timed-out page's images are missing
    for url in on_stored_pages:
        [sha] = set(crawled.snapshot["links"][url])  # an image shown on two listings: one asset
        assert sha == _sha(crawled.site.resource(url).body) or url in crawled.expected["exif_rotated"]
    assert_consistent(crawled.database_url, crawled.blob_dir)


def test_malformed_html_listing_still_yields_its_item_and_image(crawled):
    page = crawled.expected["malformed_page"]
    assert page in crawled.snapshot["items"]
    [listing] = [lst for lst in crawled.site.listings if lst.path == page]
    images = [i.url for i in listing.gallery if i.url in crawled.expected["valid_image_urls"]]
    assert images and all(crawled.snapshot["links"].get(u) for u in images)


def test_page_answering_500_once_is_retried_and_stored(crawled):
    page = crawled.expected["flaky_page"]
    assert crawled.statuses[page] == [500, 200]
    assert page in crawled.snapshot["items"]


def test_broken_link_404_is_not_fatal(crawled):
    for page in crawled.expected["broken_pages"]:
        assert crawled.statuses[page] == [404]  # requested once, not retried
        assert page not in crawled.snapshot["items"]
    assert crawled.run.status == "succeeded" and crawled.run.stats["finish_reason"] == "finished"


def test_broken_link_404_is_recorded_in_the_run(crawled):
    assert crawled.run.stats["pages_failed"].get("404") == len(crawled.expected["broken_pages"])


def test_timeout_is_recorded_as_an_error_and_the_rest_is_stored(crawled):
    slow = crawled.expected["slow_page"]
    assert slow not in crawled.snapshot["items"]
    assert crawled.run.status == "succeeded" and crawled.run.stats["errors"] >= 1
    assert crawled.snapshot["items"] == sorted(set(crawled.expected["detail_pages"]) - {slow})
    assert crawled.run.stats["items"] == crawled.expected["n_detail_pages"] - 1
