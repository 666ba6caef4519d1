"""A crawl killed with SIGKILL midway, and two crawls at once on PostgreSQL storing the same images:
the store stays consistent, the dead run is marked failed, the rerun stores everything exactly once."""
from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import select

from harvest.demo.site import DemoSite, serve
from storage.collect_models import Asset, CrawlRun, Item, Source
from storage.engine import make_engine, session_factory
from tests.reliability.helpers import (
    alive, assert_consistent, children, crawl_config, db_count, expected_pairs, link_pairs, poll, slow_down_pages, start_crawl,
    store_snapshot, url_path, wait_process,
)
from tests.scrapers.helpers import check, harvest, harvest_env, runs


def _expect_complete(snapshot: dict, expected: dict) -> None:
    assert snapshot["items"] == expected["detail_pages"]
    assert sorted(snapshot["links"]) == expected["valid_image_urls"]
    assert len(snapshot["assets"]) == expected["n_distinct_images"]
    assert snapshot["rejections"] == expected["rejections"]


def _recover_with_scheduler(settings, config) -> None:
    """One scheduler tick (no source is due): it only marks dead runs failed."""
    from harvest.settings import load_settings
    from scrapers.schedule import Scheduler

    hs = load_settings(config, data_dir=settings.data_dir, database_url=settings.database_url)
    scheduler = Scheduler(hs, command=lambda name: pytest.fail(f"nothing is due, yet {name} was started"))
    try:
        assert scheduler.tick() == []
    finally:
        scheduler.engine.dispose()


def test_crawl_killed_with_sigkill_midway_then_rerun_stores_everything_once(settings, tmp_path):
    """On SQLite the next crawl finds the dead run; on PostgreSQL the scheduler's tick does."""
    site = DemoSite(0, fresh=True)
    expected = site.expected()
    before = {p: site._data.resources[p] for p in expected["detail_pages"]}  # noqa: SLF001
    slow_down_pages(site, expected["detail_pages"])  # 1.5 s per detail page: the crawl takes a while
    with serve(site) as srv:
        config = crawl_config(tmp_path, srv.base_url, crawl={"batch_size": 2, "concurrency_per_domain": 2})
        proc = start_crawl(settings, config, "demo", tmp_path / "killed.log")
        try:
            poll(lambda: db_count(settings.database_url, Item) >= 2, 90, "first items stored", proc)
            workers = children(proc.pid)  # the image worker pool
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        assert workers, "the crawl had no image workers to orphan"
        poll(lambda: not any(alive(w) for w in workers), 10, "image workers gone after the crawl's SIGKILL")
        stored = db_count(settings.database_url, Item)
        assert 2 <= stored < expected["n_detail_pages"], "the kill came too late to test anything"
        assert_consistent(settings.database_url, settings.blob_dir)
        [dead] = runs(settings.database_url)
        assert dead.status == "running" and dead.pid == proc.pid

        if settings.database_url.startswith("postgresql"):
            _recover_with_scheduler(settings, config)
            [dead] = runs(settings.database_url)
            assert dead.status == "failed" and str(proc.pid) in (dead.error or "")
        site._data.resources.update(before)  # noqa: SLF001 - the rerun need not wait
        check(harvest(["crawl", "demo"], harvest_env(settings, config), tmp_path))
    dead, rerun = runs(settings.database_url)
    assert dead.status == "failed" and str(proc.pid) in (dead.error or "") and dead.finished_at is not None
    assert rerun.status == "succeeded", rerun.error
    assert rerun.stats["items"] == expected["n_detail_pages"]
    assert_consistent(settings.database_url, settings.blob_dir)
    _expect_complete(store_snapshot(settings.database_url), expected)
    assert link_pairs(settings.database_url) == expected_pairs(site)  # each (item, image URL) exactly once


def test_two_crawls_at_once_on_postgres_store_shared_images_once(postgres_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, postgres_url)
    site = DemoSite(0)
    expected = site.expected()
    # two servers of the same site: distinct pages (host:port differs), the very same image bytes
    with serve(site) as one, serve(site) as two:
        config = crawl_config(tmp_path, one.base_url, crawl={"batch_size": 5}, sources={
            "alpha": {"start_urls": [one.base_url + "/"]}, "beta": {"start_urls": [two.base_url + "/"]}})
        procs = {name: start_crawl(settings, config, name, tmp_path / f"{name}.log") for name in ("alpha", "beta")}
        for name, proc in procs.items():
            code = wait_process(proc, 180, f"crawl {name}")
            assert code == 0, (tmp_path / f"{name}.log").read_text()[-4000:]
    engine = make_engine(postgres_url)
    try:
        with session_factory(engine)() as s:
            statuses = dict(s.execute(select(Source.name, CrawlRun.status).join(CrawlRun)).all())
            assert statuses == {"alpha": "succeeded", "beta": "succeeded"}
            counted = sum(r.stats["images_stored"] for r in s.scalars(select(CrawlRun)))
            assert counted == expected["n_distinct_images"]  # each stored image counted by one run only
            shas = list(s.scalars(select(Asset.sha256)))
            assert len(shas) == len(set(shas)) == expected["n_distinct_images"]  # one asset per sha256
            for srv in (one, two):
                pages = s.scalars(select(Item.page_url).where(Item.page_url.startswith(srv.base_url + "/")))
                assert sorted(url_path(p) for p in pages) == expected["detail_pages"]
    finally:
        engine.dispose()
    for srv in (one, two):  # every item of both sources linked to each of its images, once
        assert link_pairs(postgres_url, srv.base_url + "/") == expected_pairs(site)
    assert_consistent(postgres_url, settings.blob_dir)
