"""Scrapyd, for real: the project packaged by `scrapyd-deploy`, two Scrapyd servers on loopback ports,
`harvest schedule --once --scrapyd URL,URL` handing two due sources to them through the HTTP API, both
crawls stored in one PostgreSQL store and one blob store and recorded as runs."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from harvest.demo.site import DemoSite, serve
from storage.collect_models import Asset, Item, Source
from storage.engine import make_engine, session_factory
from tests.reliability.helpers import assert_consistent, crawl_config
from tests.scrapers.helpers import REPO, check, harvest, harvest_env, runs
from tests.scrapyd import deploy, scrapyd_server


@pytest.fixture
def pg_settings(tmp_path, postgres_url, monkeypatch):
    from tests.conftest import make_settings

    monkeypatch.chdir(tmp_path)
    return make_settings(tmp_path, postgres_url)


def _items_per_source(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return dict(s.execute(select(Source.name, func.count(Item.id)).join(Item).group_by(Source.name)).all())
    finally:
        engine.dispose()


def test_two_scrapyd_servers_crawl_two_sources_into_one_store(pg_settings, tmp_path):
    site = DemoSite(0, fresh=True)
    expected = site.expected()
    with serve(site) as srv:
        config = crawl_config(tmp_path / "conf", srv.base_url, sources={
            "alpha": {"schedule": "* * * * *"}, "beta": {"schedule": "* * * * *"}})
        env = harvest_env(pg_settings, config)  # every Scrapyd machine: the same settings, store and blobs
        with scrapyd_server(tmp_path / "one", env) as one, scrapyd_server(tmp_path / "two", env) as two:
            done = deploy(REPO, {"one": one.url, "two": two.url}, env, tmp_path / "xdg")
            assert done.returncode == 0, done.stdout + done.stderr
            for server in (one, two):
                assert server.get("listprojects.json")["projects"] == ["harvest"]
                assert {"alpha", "beta", "demo"} <= set(server.get("listspiders.json", project="harvest")["spiders"])
            check(harvest(["schedule", "--once", "--scrapyd", f"{one.url},{two.url}"], env, config.parent,
                          timeout=400))
            jobs = {name: server.get("listjobs.json", project="harvest") for name, server in
                    (("one", one), ("two", two))}
    finished = {name: [job["spider"] for job in answer["finished"]] for name, answer in jobs.items()}
    assert sorted(finished["one"] + finished["two"]) == ["alpha", "beta"], jobs
    assert finished["one"] and finished["two"], f"both crawls went to one server: {jobs}"
    recorded = runs(pg_settings.database_url)
    assert sorted((r.status, r.trigger) for r in recorded) == [("succeeded", "schedule")] * 2, \
        [(r.status, r.error) for r in recorded]
    n = expected["n_detail_pages"]
    assert _items_per_source(pg_settings.database_url) == {"alpha": n, "beta": n}
    engine = make_engine(pg_settings.database_url)
    with session_factory(engine)() as s:  # the two sources share images: each stored once
        assert s.scalar(select(func.count(Asset.id))) == expected["n_distinct_images"]
    engine.dispose()
    assert_consistent(pg_settings.database_url, pg_settings.blob_dir)
