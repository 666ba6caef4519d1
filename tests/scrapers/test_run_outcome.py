"""No silent empty crawl: real crawls that reach nothing end `failed`, crawls that parse pages but produce
no item end `empty`, each with the reason and the failing URLs; a bad selector or regex fails at load,
naming its key. Servers on 127.0.0.1 (free ports)."""
from __future__ import annotations

import socket

from tests.scrapers.helpers import harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import html, serve


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _crawl(settings, tmp_path, source: dict):
    config = write_toml(tmp_path / "harvest.toml", {"sources.s": {"allowed_domains": ["127.0.0.1"], **source}})
    return harvest(["crawl", "s"], harvest_env(settings, config), tmp_path, timeout=120)


def test_nothing_listening_ends_failed_with_the_url(settings, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/"
    _crawl(settings, tmp_path, {"start_urls": [url], "item_pattern": "/p/", "settings": {"RETRY_TIMES": 0}})
    (run,) = runs(settings.database_url)
    assert run.status == "failed", (run.status, run.error)
    assert "reached nothing" in run.error and url in run.error and "ConnectionRefused" in run.error
    assert run.stats["failed_urls"] == [f"{url}: {run.stats['failed_urls'][0].split(': ', 1)[1]}"]


def test_pages_without_items_end_empty_and_http_errors_are_listed(settings, tmp_path):
    routes = {"/": html('<a class="n" href="/list/2">2</a><a class="n" href="/broken">x</a>'),
              "/list/2": html("<p>nothing here</p>"), "/broken": html("oops", status=500)}
    with serve(routes) as site:
        _crawl(settings, tmp_path, {"start_urls": [site.url("/")], "follow": ["a.n"], "item_pattern": r"/item/\d+",
                                    "settings": {"RETRY_TIMES": 0}})
    (run,) = runs(settings.database_url)
    assert run.status == "empty", (run.status, run.error)
    assert "parsed 2 page(s) but produced 0 items" in run.error and "item_pattern" in run.error
    assert run.stats["failed_urls"] == [f"{site.url('/broken')}: HTTP 500"]
    listing = harvest(["runs", "s", "--run", str(run.id)], harvest_env(settings, tmp_path / "harvest.toml"),
                      tmp_path)
    assert "/broken: HTTP 500" in listing.stdout.replace("\n", ""), listing.stdout


def test_a_bad_selector_or_regex_fails_at_load_naming_its_key(settings, tmp_path):
    for source, key in (({"item_pattern": "photo(["}, "item_pattern"), ({"images": ["div.g img[["]}, "images[0]"),
                        ({"fields": {"title": "xpath://h1[["}}, "fields.title")):
        proc = _crawl(settings, tmp_path, {"start_urls": ["http://127.0.0.1:9/"], **source})
        assert proc.returncode != 0
        assert f"`{key}`" in proc.stdout + proc.stderr, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert runs(settings.database_url) == []  # refused before any run was recorded
