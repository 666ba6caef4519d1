"""The Scrapy project as every Scrapy user expects it, and the crawl CLI around it."""
from __future__ import annotations

import os
import socket
import sys

import pytest
from sqlalchemy import select

from harvest.demo.site import DemoSite, serve
from storage import collect as q
from storage.collect_models import Item
from storage.engine import make_engine, session_factory, session_scope
from tests.scrapers.helpers import REPO, check, harvest, harvest_env, run, runs, write_toml


@pytest.fixture(scope="module")
def demo():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


@pytest.fixture
def env(sqlite_settings, demo, tmp_path):
    config = write_toml(tmp_path / "harvest.toml", {
        "crawl": {"demo_url": demo.base_url + "/", "contact_url": "https://example.org/contact"},
        "sources.pyshop": {"spider": "tests.scrapers.example_spider:ExampleSpider",
                           "start_urls": [demo.base_url + "/listings/page-2.html"], "licence": "CC0-1.0",
                           "settings": {"CONCURRENT_REQUESTS_PER_DOMAIN": 2}},
    })
    return harvest_env(sqlite_settings, config)


def test_scrapy_list_and_crawl_from_the_repository_root(env, demo, sqlite_settings):
    listed = check(run([sys.executable, "-m", "scrapy", "list"], env, REPO)).stdout.split()
    assert "demo" in listed and "pyshop" in listed and "config" not in listed
    mark = demo.requests.mark()
    check(run([sys.executable, "-m", "scrapy", "crawl", "demo", "-s", "LOG_LEVEL=WARNING"], env, REPO))
    (done,) = runs(sqlite_settings.database_url)
    assert (done.status, done.trigger) == ("succeeded", "scrapy")
    assert done.stats["items"] == demo.site.expected()["n_detail_pages"]
    agents = {r.user_agent for r in demo.requests.since(mark)}
    assert agents == {"harvest/0.1 (+https://example.org/contact)"}


def test_python_spider_source_with_setting_overrides(env, demo, sqlite_settings, tmp_path):
    proc = check(harvest(["crawl", "pyshop"], env, tmp_path))
    (done,) = runs(sqlite_settings.database_url)
    log = (sqlite_settings.data_dir / "runs" / str(done.id) / "scrapy.log").read_text()
    assert "'CONCURRENT_REQUESTS_PER_DOMAIN': 2" in log  # the source's Scrapy setting override
    assert "'CONCURRENT_REQUESTS_PER_DOMAIN': 2" not in proc.stderr  # the log is in the run's file, not on screen
    assert done.status == "succeeded" and done.stats["items"] > 0
    engine = make_engine(sqlite_settings.database_url)
    with session_factory(engine)() as s:
        items = s.scalars(select(Item)).all()
    engine.dispose()
    lic = demo.site.expected()["licences"]
    for item in items:
        from urllib.parse import urlsplit

        found = lic[urlsplit(item.page_url).path]
        assert item.licence == (found["url"] if found else "site-default")  # page licence, else the default
    out = check(harvest(["runs", "pyshop"], env, tmp_path)).stdout
    assert "succeeded" in out and "pyshop" in out


def test_sources_and_clear_errors(env, sqlite_settings, tmp_path):
    out = check(harvest(["sources"], {**env, "COLUMNS": "200"}, tmp_path)).stdout
    assert "demo" in out and "pyshop" in out and "ExampleSpider" in out
    bad = harvest(["crawl", "nope"], {**env, "COLUMNS": "300"}, tmp_path)
    assert bad.returncode == 2 and "no source named 'nope'" in bad.stderr and "pyshop" in bad.stderr
    assert "Add a sources.nope table" in bad.stderr
    # a run of the source is alive on this host: the lock refuses a second one, the store is left as it was
    engine = make_engine(sqlite_settings.database_url)
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "demo", "config", {}, None)
    q.start_run(sessions, source, trigger="manual", host=socket.gethostname(), pid=os.getpid())
    engine.dispose()
    busy = harvest(["crawl", "demo"], {**env, "COLUMNS": "300"}, tmp_path)
    assert busy.returncode == 2 and "already has a running crawl" in busy.stderr
    assert [r.status for r in runs(sqlite_settings.database_url)] == ["running"]


def test_bad_source_config_names_the_key(tmp_path, sqlite_settings):
    config = write_toml(tmp_path / "harvest.toml", {"sources.x": {"start_urls": ["http://a/"], "schedule": "nope"}})
    bad = harvest(["sources"], harvest_env(sqlite_settings, config), tmp_path)
    assert bad.returncode == 2 and "sources.x.schedule" in bad.stderr and "cron" in bad.stderr
    write_toml(config, {"sources.x": {"follow": ["a.next"]}})
    bad = harvest(["sources"], harvest_env(sqlite_settings, config), tmp_path)
    assert bad.returncode == 2 and "sources.x" in bad.stderr and "start_urls" in bad.stderr


def test_a_broken_spider_path_fails_only_its_own_crawl(tmp_path, sqlite_settings):
    config = write_toml(tmp_path / "harvest.toml", {"sources.broken": {"spider": "nowhere.module:Nope"}})
    env = harvest_env(sqlite_settings, config)
    assert "demo" in check(run([sys.executable, "-m", "scrapy", "list"], env, REPO)).stdout.split()
    bad = harvest(["crawl", "broken"], {**env, "COLUMNS": "300"}, tmp_path)
    assert bad.returncode == 2 and "'nowhere.module:Nope'" in bad.stderr and "sources.broken table" in bad.stderr
    assert [r.status for r in runs(sqlite_settings.database_url)] == ["failed"]


def test_an_uninitialised_store_asks_for_harvest_init(env, tmp_path):
    empty = {**env, "HARVEST_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "COLUMNS": "300"}
    bad = harvest(["crawl", "demo"], empty, tmp_path)
    assert bad.returncode == 2 and "Run `harvest init`" in bad.stderr
