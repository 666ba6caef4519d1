"""Items belong to their source: two sources crawling the same pages keep two sets of items, each with
its own licence and attribution (real crawls of the demo site, SQLite and PostgreSQL); migration 0002
keeps every row up and down, and refuses a downgrade that would have to drop one source's items."""
from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from parsel import Selector
from sqlalchemy import func, select, text

from harvest.demo.site import DemoSite, serve
from storage.collect_models import Item, Source
from storage.engine import make_engine, session_factory
from storage.errors import DowngradeRefused
from storage.migrate import current_revision, downgrade, upgrade
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.storage.test_migrations import empty_url  # noqa: F401 - fixture: an empty database per backend


@pytest.fixture(scope="module")
def demo():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


def test_two_sources_over_the_same_pages_keep_their_own_items(settings, demo, tmp_path):
    start = [demo.base_url + "/listings/page-2.html"]
    spider = "tests.scrapers.example_spider:ExampleSpider"
    config = write_toml(tmp_path / "harvest.toml", {
        "crawl": {"demo_url": demo.base_url + "/", "contact_url": "https://example.org/contact"},
        "sources.first": {"spider": spider, "start_urls": start, "licence": "CC0-1.0"},
        "sources.second": {"spider": spider, "start_urls": start, "licence": "CC-BY-4.0"},
    })
    env = harvest_env(settings, config)
    check(harvest(["crawl", "first"], env, tmp_path))
    check(harvest(["crawl", "second"], env, tmp_path))
    first_run, second_run = runs(settings.database_url)
    # ground truth: the live detail pages (the demo site's own list) linked from listings page 2
    page = httpx.get(start[0], timeout=30).text
    linked = {urlsplit(h).path for h in Selector(text=page).css("li.listing a.listing-link::attr(href)").getall()}
    expected = len(linked & set(demo.site.expected()["detail_pages"]))
    assert expected > 3
    assert first_run.stats["items"] == second_run.stats["items"] == expected, first_run.stats
    assert first_run.stats["items_new"] == second_run.stats["items_new"] == expected

    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            per_source = dict(s.execute(select(Source.name, func.count(Item.id)).join(Item).group_by(Source.name)).tuples().all())
            urls = {name: set(s.scalars(select(Item.canonical_url).join(Source).where(Source.name == name)))
                    for name in ("first", "second")}
            lic = {name: set(s.scalars(select(Item.licence).join(Source).where(Source.name == name)))
                   for name in ("first", "second")}
    finally:
        engine.dispose()
    assert per_source == {"first": expected, "second": expected}
    assert urls["first"] == urls["second"] and len(urls["first"]) == expected
    assert lic["first"] == lic["second"] and None not in lic["first"]  # each keeps its own licence rows

    # a re-crawl of the first source finds its own items unchanged, and the second keeps its own
    check(harvest(["crawl", "first"], env, tmp_path))
    third = runs(settings.database_url)[-1]
    assert third.stats["items_new"] == 0 and third.stats["items"] == expected
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            again = dict(s.execute(select(Source.name, func.count(Item.id)).join(Item).group_by(Source.name)).tuples().all())
    finally:
        engine.dispose()
    assert again == {"first": expected, "second": expected}


def _insert(conn, source_id: int, url: str) -> None:
    conn.execute(text(
        "INSERT INTO items (source_id, canonical_url, page_url, fetched_at, first_seen_at, last_seen_at, fields, licence) "
        "VALUES (:s, :u, :u, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '{}', :lic)"
    ), {"s": source_id, "u": url, "lic": f"licence-of-{source_id}"})


def _rows(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT source_id, canonical_url, licence FROM items ORDER BY source_id, canonical_url"))]
    finally:
        engine.dispose()


def test_migration_0002_keeps_rows_and_refuses_a_lossy_downgrade(empty_url):  # noqa: F811
    upgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        for name in ("a", "b"):
            conn.execute(text("INSERT INTO sources (name, kind, config, created_at) "
                              "VALUES (:n, 'config', '{}', CURRENT_TIMESTAMP)"), {"n": name})
        _insert(conn, 1, "http://site/1")
        _insert(conn, 2, "http://site/2")
    before = _rows(empty_url)
    upgrade(empty_url, "0002")
    assert _rows(empty_url) == before
    with engine.begin() as conn:
        _insert(conn, 2, "http://site/1")  # the same URL, now an item of source b too
    shared = _rows(empty_url)
    assert len(shared) == 3
    with pytest.raises(DowngradeRefused, match="http://site/1"):
        downgrade(empty_url, "0001")
    assert current_revision(engine) == "0002" and _rows(empty_url) == shared  # nothing changed
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM items WHERE source_id = 2 AND canonical_url = 'http://site/1'"))
    downgrade(empty_url, "0001")
    assert current_revision(engine) == "0001" and _rows(empty_url) == before
    engine.dispose()
