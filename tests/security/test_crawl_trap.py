"""Crawl limits end a trap: an endless calendar stops at the default depth limit, and a source's own
`max_pages` / `max_seconds` end a crawl early; a run cut short by a limit marks no item gone.

Real crawls over HTTP on 127.0.0.1 of a calendar whose every month links to the next one (forever).
"""
from __future__ import annotations

import re

from sqlalchemy import func, select

from scrapers.config import DEFAULT_MAX_DEPTH
from storage.collect_models import Item
from storage.engine import make_engine, session_factory
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import html, serve

MONTH = re.compile(r"^/cal/(\d+)$")


def _month(path: str, skip: int = 0):
    match = MONTH.match(path.split("?")[0])
    if not match:
        return None
    n = int(match.group(1))
    # wide: each month links to the next three (after `skip` more), so a crawl without limits grows without end
    nxt = "".join(f'<a class="next" href="/cal/{n + skip + k}">+{k}</a>' for k in (1, 2, 3))
    return html(f'<html><body><h1>Month {n}</h1>{nxt}</body></html>')


def _crawl(settings, tmp_path, site, **limits):
    config = write_toml(tmp_path / "harvest.toml", {"sources.cal": {
        "start_urls": [site.url("/cal/0")], "allowed_domains": ["127.0.0.1"], "follow": ["a.next"],
        "item_pattern": r"/cal/\d+$", "fields": {"title": "h1"}, "licence": "CC0-1.0", **limits}})
    return check(harvest(["crawl", "cal"], harvest_env(settings, config), tmp_path, timeout=120))


def _items(settings) -> tuple[int, int]:
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            return (s.scalar(select(func.count(Item.id))),
                    s.scalar(select(func.count(Item.id)).where(Item.gone_at.is_not(None))))
    finally:
        engine.dispose()


def test_the_default_depth_limit_ends_an_endless_calendar(settings, tmp_path):
    with serve({}, fallback=_month) as site:
        _crawl(settings, tmp_path, site, max_pages=0, max_seconds=0)  # only the default depth limit left
        months = {int(p.rsplit("/", 1)[1]) for p in site.paths(200) if p.startswith("/cal/")}
    (run,) = runs(settings.database_url)
    # Month m is at least ceil(m/3) and at most m links from month 0. Scrapy keeps the depth of the first
    # request it saw for a URL, and with requests in flight that need not be the shortest path, so what is
    # certain is: none beyond 3*DEFAULT_MAX_DEPTH, and every month up to DEFAULT_MAX_DEPTH.
    assert max(months) <= 3 * DEFAULT_MAX_DEPTH
    assert set(range(DEFAULT_MAX_DEPTH + 1)) <= months
    assert run.status == "succeeded" and run.stats["items"] == len(months)


def test_a_source_max_pages_stops_the_trap_and_marks_nothing_gone(settings, tmp_path):
    skip = {"months": 0}
    with serve({}, fallback=lambda path: _month(path, skip["months"])) as site:
        _crawl(settings, tmp_path, site, max_depth=3)  # months up to 9: the full crawl
        full = _items(settings)
        first_pages = [p for p in site.paths() if p.startswith("/cal/")]
        skip["months"] = 10  # now month 0 leads to 11, 12, 13 and on: the second run meets none of 1..9
        _crawl(settings, tmp_path, site, max_depth=0, max_pages=4)
        second_pages = [p for p in site.paths() if p.startswith("/cal/")][len(first_pages):]
    first, second = runs(settings.database_url)
    first_months = {int(p.rsplit("/", 1)[1]) for p in first_pages}
    # depth 3 reaches every month up to 3 and none beyond 9 (which ones in between depends on the order)
    assert set(range(4)) <= first_months and max(first_months) <= 9
    assert full == (len(first_months), 0) and first.status == "succeeded"
    assert second.stats["limit_reached"] == "max_pages" and second.status == "succeeded"
    # CLOSESPIDER_PAGECOUNT stops scheduling at 4 responses; requests already in flight may still land
    assert 4 <= len(second_pages) <= 4 + 8 + 1, second_pages
    assert not {f"/cal/{m}" for m in first_months - {0}} & set(second_pages)
    assert _items(settings)[1] == 0  # the cut-short run marked none of the months it did not reach gone


def test_a_source_max_seconds_stops_the_trap(settings, tmp_path):
    def slow(path: str):
        import time

        time.sleep(0.2)
        return _month(path)

    with serve({}, fallback=slow) as site:
        _crawl(settings, tmp_path, site, max_depth=0, max_pages=0, max_seconds=2)
    (run,) = runs(settings.database_url)
    assert run.stats["limit_reached"] == "max_seconds" and run.status == "succeeded"
    assert run.finished_at and (run.finished_at - run.started_at).total_seconds() < 30


def test_max_depth_counts_the_shortest_path_to_a_page(settings, tmp_path):
    """/target is 2 links from the start through /b, 3 through /a1 -> /a2; its link /child is then 3 away.
    Fetched one request at a time, Scrapy's default LIFO order follows /a1 (the last link) first, reaches /target
    at depth 3 and drops /child as past max_depth=3; breadth-first order reaches /target through /b first."""
    link = '<a class="next" href="{}">x</a>'.format
    pages = {"/": html(link("/b") + link("/a1")), "/b": html(link("/target")), "/a1": html(link("/a2")),
             "/a2": html(link("/target")), "/target": html(link("/child")), "/child": html("<h1>child</h1>")}
    with serve(pages) as site:
        config = write_toml(tmp_path / "harvest.toml", {"sources.tree": {
            "start_urls": [site.url("/")], "allowed_domains": ["127.0.0.1"], "follow": ["a.next"],
            "item_pattern": r"/(target|child)$", "fields": {"title": "h1"}, "licence": "CC0-1.0", "max_depth": 3,
            "settings": {"CONCURRENT_REQUESTS": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}}})
        check(harvest(["crawl", "tree"], harvest_env(settings, config), tmp_path, timeout=120))
        fetched = [p for p in site.paths(200) if p != "/robots.txt"]
    assert fetched[:3] == ["/", "/b", "/a1"], fetched  # level by level
    assert "/child" in fetched and _items(settings) == (2, 0)
