"""A bad image URL (`http://[::1`, port 99999, `JAVASCRIPT:`) costs that image alone, never its page.

Real crawls over HTTP on 127.0.0.1 (`harvest crawl` in a subprocess). First crawl: the page is clean.
Second crawl: the same live page gains the bad URLs; its item must be seen again (not marked gone),
keep its good image, and each bad URL that reaches the image pipeline gets a rejection with its reason.
"""
from __future__ import annotations

from sqlalchemy import select

from storage.collect_models import ImageRejection, Item, ItemAsset
from storage.engine import make_engine, session_factory
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import html, png, serve

BAD = ["http://[::1", "http://127.0.0.1:99999/x.png", "JAVASCRIPT:alert(1)"]


def _page(bad: bool) -> str:
    extra = "".join(f'<img src="{url}">' for url in BAD) if bad else ""
    return (f'<html><body><h1 class="t">Photo one</h1><div class="g"><img src="/img/1.png">{extra}</div>'
            f'<p><a href="/">home</a></p></body></html>')


def test_a_bad_image_url_costs_that_image_alone(settings, tmp_path):
    state = {"bad": False}
    routes = {
        "/": html('<html><body><a class="item" href="/photo/1.html">one</a></body></html>'),
        "/photo/1.html": lambda _path: html(_page(state["bad"])),
        "/img/1.png": png(1),
    }
    with serve(routes) as site:
        config = write_toml(tmp_path / "harvest.toml", {"sources.bad": {
            "start_urls": [site.url("/")], "allowed_domains": ["127.0.0.1"], "item_links": ["a.item"],
            "fields": {"title": "h1.t"}, "images": ["div.g"], "licence": "CC0-1.0"}})
        env = harvest_env(settings, config)
        check(harvest(["crawl", "bad"], env, tmp_path))
        state["bad"] = True
        mark = site.mark()
        check(harvest(["crawl", "bad"], env, tmp_path))
        requested = [path for _, path, _ in site.since(mark)]

    first, second = runs(settings.database_url)
    assert (first.status, second.status) == ("succeeded", "succeeded"), (second.error, second.stats)
    assert "/photo/1.html" in requested and not any("99999" in p or "alert" in p.lower() for p in requested)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            (item,) = s.scalars(select(Item)).all()
            assert item.gone_at is None and item.last_crawl_run_id == second.id
            assert item.fields["title"] == "Photo one"
            links = s.scalars(select(ItemAsset).where(ItemAsset.item_id == item.id)).all()
            assert [link.url for link in links] == [site.url("/img/1.png")]
            assert links[0].last_seen_at >= second.started_at
            rejected = {r.url: r for r in s.scalars(select(ImageRejection))}
    finally:
        engine.dispose()
    # `JAVASCRIPT:` is no image location at all: not extracted, so nothing to reject; the other two are
    assert set(rejected) == {"http://[::1", "http://127.0.0.1:99999/x.png"}
    assert {r.reason for r in rejected.values()} == {"bad_url"}
    assert "Invalid IPv6" in rejected["http://[::1"].detail and "Port" in rejected["http://127.0.0.1:99999/x.png"].detail
    assert second.stats["dropped"].get("bad_url") == 2
