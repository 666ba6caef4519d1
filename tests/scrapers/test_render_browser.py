"""`render = "browser"`: a page whose images exist only after JavaScript, crawled through Debian's chromium.

Without the browser the page holds no image and the run is `empty`; with it (one bounded scroll) exactly
the first two batches are stored, the third never requested, and the page's request to a host the URL
policy refuses never leaves the browser."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import serve
from tests.scrapers.sites.scripted import (EXPECTED, LISTING_EXPECTED, listing_routes, listing_source, routes,
                                           source)
from tests.scrapers.test_sites import _stored
from tests.services import missing

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.is_file():
        missing("chromium", f"{CHROMIUM} does not exist (make browser, or apt-get install chromium)")
    try:
        import scrapy_playwright  # noqa: F401
    except ImportError as exc:
        missing("scrapy-playwright", str(exc))
    return CHROMIUM


def test_js_page_needs_the_browser(chromium, settings, tmp_path):
    with serve({}) as elsewhere:  # the beacon's host: 127.0.0.1 on a port the source never wrote
        pages = routes(elsewhere.url("/beacon"))
        with serve(pages) as site:
            config = tmp_path / "harvest.toml"
            write_toml(config, {"sources.plain": source(site.base_url, "http", 0),
                                "sources.wild": source(site.base_url, "browser", 1)})
            env = harvest_env(settings, config)
            plain = harvest(["crawl", "plain"], env, tmp_path)
            check(harvest(["crawl", "wild"], env, tmp_path, timeout=300))
            requested = site.paths()
            check(harvest(["crawl", "wild"], env, tmp_path, timeout=300))  # a re-crawl renders, downloads nothing
        assert elsewhere.paths() == []  # refused by the URL policy inside the browser

    plain_run, wild_run, again = runs(settings.database_url)
    assert again.status == "succeeded" and again.stats["images_downloaded"] == 0 and again.stats["items_gone"] == 0
    assert plain.returncode != 0 and plain_run.status == "empty", plain_run.error  # no JavaScript, no image
    assert wild_run.status == "succeeded", (wild_run.error, wild_run.stats)
    assert _stored(settings.database_url) == EXPECTED
    assert wild_run.stats["images_downloaded"] == 4
    assert wild_run.stats["browser_aborted"] >= 1 and wild_run.stats["url_policy"]["refused"].get("private_port", 0) >= 1
    assert "/photos/2.json" in requested and "/photos/3.json" not in requested  # scrolls are bounded
    assert "/img/5.png" not in requested
    assert [p for p in requested if p.endswith(".png") and requested.count(p) > 1] == []  # the browser loads none


def test_render_urls_renders_only_the_matching_pages(chromium, settings, tmp_path):
    """The listing goes over plain HTTP (its script is never fetched); only the
    gallery page matching `render_urls` is rendered, and its JavaScript-only images are stored."""
    with serve({}) as elsewhere:
        with serve(listing_routes(elsewhere.url("/beacon"))) as site:
            config = write_toml(tmp_path / "harvest.toml", {"sources.wild": listing_source(site.base_url)})
            check(harvest(["crawl", "wild"], harvest_env(settings, config), tmp_path, timeout=300))
            requested = site.paths()

    (run,) = runs(settings.database_url)
    assert run.status == "succeeded", (run.error, run.stats)
    assert _stored(settings.database_url) == LISTING_EXPECTED  # the gallery's records; nothing from the listing
    assert run.stats["pages"] == 2 and run.stats["pages_rendered"] == 1
    assert requested.count("/") == 1 and requested.count("/gallery.html") == 1
    assert "/listing.js" not in requested  # the listing was not rendered
    assert "/app.js" in requested and "/photos/2.json" in requested and "/photos/3.json" not in requested
    assert run.stats["images_downloaded"] == 4


def test_render_urls_are_checked_at_load(settings, tmp_path):
    bad = write_toml(tmp_path / "bad.toml", {"sources.wild": {**listing_source("http://127.0.0.1:9"),
                                                              "render_urls": ["/gallery(.html"]}})
    proc = harvest(["crawl", "wild"], harvest_env(settings, bad), tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert proc.returncode != 0 and "render_urls[0]" in out and "not a valid regular expression" in out
    both = write_toml(tmp_path / "both.toml", {"sources.wild": {**listing_source("http://127.0.0.1:9"),
                                                               "render": "browser"}})
    proc = harvest(["crawl", "wild"], harvest_env(settings, both), tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and 'drop render = "browser" to render only the render_urls pages' in out


def test_browser_source_without_chromium_is_a_clear_error(settings, tmp_path):
    config = write_toml(tmp_path / "harvest.toml", {
        "crawl": {"chromium": str(tmp_path / "no-chromium")},
        "sources.wild": source("http://127.0.0.1:9", "browser", 0)})
    proc = harvest(["crawl", "wild"], harvest_env(settings, config), tmp_path)
    assert proc.returncode != 0
    assert "needs chromium at" in (proc.stdout + proc.stderr).replace("\n", " ")
