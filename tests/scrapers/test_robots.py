"""robots.txt holds for every request of a burst to a new host (scrapers.robots), not only the first.

A real crawl over HTTP on 127.0.0.1: five start URLs on one host, two of them disallowed; the host answers
robots.txt after a delay, so every start request waits for it (as the requests a shared-run worker takes
over from a dead one do, or a page's images on a new host). Scrapy 2.19's own middleware let all but the
first waiting request through unchecked.
"""
from __future__ import annotations

import time

from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import html, serve

PAGES = ["/a.html", "/private/b.html", "/c.html", "/private/d.html", "/e.html"]


def _robots(path: str):
    time.sleep(1.0)  # every start request reaches the middleware while robots.txt is on its way
    return html("User-agent: *\nDisallow: /private/\n")


def test_every_request_waiting_for_robots_txt_is_checked(settings, tmp_path):
    routes = {p: html(f"<html><body><h1>{p}</h1></body></html>") for p in PAGES}
    routes["/robots.txt"] = _robots
    with serve(routes) as site:
        config = write_toml(tmp_path / "harvest.toml", {"sources.burst": {
            "start_urls": [site.url(p) for p in PAGES], "allowed_domains": ["127.0.0.1"],
            "item_pattern": r"\.html$", "fields": {"title": "h1"}, "licence": "CC0-1.0"}})
        check(harvest(["crawl", "burst"], harvest_env(settings, config), tmp_path))
        fetched = site.paths()
    assert sorted(p for p in fetched if p != "/robots.txt") == ["/a.html", "/c.html", "/e.html"]
    (run,) = runs(settings.database_url)
    assert run.stats["robots_forbidden"] == 2 and run.stats["items"] == 3
