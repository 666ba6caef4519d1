"""Test sites that look like the web (tests/scrapers/sites/shapes.py), crawled configuration-only over HTTP
on 127.0.0.1: the stored items, fields, images and their alt/title/caption equal the hand-written
expectations exactly, and a second crawl downloads no image again."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select

from storage.collect_models import Item, ItemAsset
from storage.engine import make_engine, session_factory
from tests.scrapers.helpers import check, harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import html, png, serve
from tests.scrapers.sites.shapes import SITES


def _path(url: str | None) -> str | None:
    return urlsplit(url).path if url else None


def _stored(database_url: str) -> dict:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            out = {}
            for item in s.scalars(select(Item)):
                key = item.canonical_url.partition("#record=")[2] or None
                key = unquote(key) if key else None
                links = s.scalars(select(ItemAsset).where(ItemAsset.item_id == item.id).order_by(ItemAsset.position))
                out[(_path(item.page_url), _path(key) if key and key.startswith("http") else key)] = (
                    item.fields, [(_path(link.url), link.alt, link.title, link.caption) for link in links])
            return out
    finally:
        engine.dispose()


def _hosts(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            return {urlsplit(u).hostname for u in s.scalars(select(Item.page_url))} | {
                urlsplit(u).hostname for u in s.scalars(select(ItemAsset.url))}
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", sorted(SITES))
def test_site_crawled_config_only(name, settings, tmp_path):
    shape = SITES[name]
    routes = shape["routes"]()
    with serve(routes, shape.get("fallback")) as site:
        for path, render in shape.get("dynamic", {}).items():
            routes[path] = html(render(site.base_url))
            if path.endswith(".xml"):
                routes[path].content_type = "application/xml"
        config = write_toml(tmp_path / "harvest.toml", {f"sources.{name}": shape["source"](site.base_url)})
        env = harvest_env(settings, config)
        check(harvest(["crawl", name], env, tmp_path))
        first_requests = site.paths()
        mark = site.mark()
        check(harvest(["crawl", name], env, tmp_path))
        second_requests = site.since(mark)

    first, second = runs(settings.database_url)
    assert first.status == "succeeded", (first.error, first.stats)
    assert _stored(settings.database_url) == shape["expected"]
    for path in shape.get("never_requested", []):
        assert path not in first_requests, path
    assert not [p for p in first_requests if p.endswith(".png") and first_requests.count(p) > 1]  # each image once
    assert [f.replace(site.base_url, "") for f in first.stats["failed_urls"]] == shape.get("failed", [])
    images = {p for _key, (_f, links) in shape["expected"].items() for p, *_ in links}
    assert first.stats["images_downloaded"] == len(images)
    assert second.status == "succeeded" and second.stats["images_downloaded"] == 0
    assert second.stats["items_gone"] == 0
    # item pages whose links harvest does not follow are asked "changed since?" and answer 304
    not_modified = [p for _m, p, status in second_requests if status == 304]
    assert len(not_modified) == second.stats["pages_unchanged"] == shape["not_modified"], not_modified
    assert _stored(settings.database_url) == shape["expected"]  # a 304 loses nothing
    pages = [p for p in first_requests if p.endswith(".html") or p.endswith("/")]
    assert len(pages) == len(set(pages))  # each page fetched once, whatever name a link used
    if "hosts" in shape:
        assert _hosts(settings.database_url) == shape["hosts"]
    if "limit" in shape:  # a trap: ended by its limit, and the run says which and how many links lay beyond
        reason, beyond = shape["limit"]
        assert (first.stats["limit_reached"], first.stats["links_beyond_max_depth"]) == (reason, beyond)
        assert harvest(["runs", name], env, tmp_path).stdout.count(f"stopped at its limit `{reason}`") == 2


def test_required_licence_is_reported(settings, tmp_path):
    """`require_licence = true`: the page without a licence is stored (marked), and `harvest runs` says so."""
    page = '<!doctype html><html><head>{}</head><body><h1>{}</h1><img src="/i/{}.png"></body></html>'
    routes = {"/": html('<a class="p" href="/a.html">a</a> <a class="p" href="/b.html">b</a>'),
              "/a.html": html(page.format('<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">',
                                          "A", 1)),
              "/b.html": html(page.format("", "B", 2))}
    routes.update({"/i/1.png": png(701), "/i/2.png": png(702)})
    with serve(routes) as site:
        config = write_toml(tmp_path / "harvest.toml", {"sources.strict": {
            "start_urls": [site.base_url + "/"], "allowed_domains": ["127.0.0.1"], "item_links": ["a.p"],
            "fields": {"title": "h1"}, "images": ["img"], "require_licence": True}})
        env = harvest_env(settings, config)
        check(harvest(["crawl", "strict"], env, tmp_path))
        shown = " ".join(harvest(["runs", "strict"], env, tmp_path).stdout.split())
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            licences = {_path(i.page_url): i.licence for i in s.scalars(select(Item))}
    finally:
        engine.dispose()
    assert licences == {"/a.html": "https://creativecommons.org/licenses/by/4.0/", "/b.html": None}
    assert "1 item(s) without a licence" in shown and "the source requires one" in shown, shown
