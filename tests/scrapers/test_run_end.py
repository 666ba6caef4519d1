"""The end of a crawl run: items are marked gone only by a complete run that still holds the run lock.

A run taken over (marked failed as dead by another process while it still ran) must neither overwrite
its status nor mark the other run's items gone; a run that lost pages (HTTP 500 after retries, a
timeout) must not mark their items gone. Runs on SQLite and PostgreSQL (`sessions` is parametrized).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import select, update

from scrapers import context
from scrapers.blobs import CrawlBlobStore
from scrapers.config import CrawlConfig, SourceConfig
from scrapers.extensions import CrawlRunExtension, missed_pages
from scrapers.imaging import Limits
from scrapers.runs import recover_stale_runs
from storage import collect as q
from storage.collect_models import CrawlRun, Item
from storage.engine import session_scope

UTC = timezone.utc
TIMEOUT = "twisted.internet.error.TimeoutError"


def _items(sessions, source: int, run_id: int, urls: list[str]) -> None:
    now = datetime.now(UTC)
    with session_scope(sessions) as s:
        q.upsert_items(s, [{"source_id": source, "canonical_url": u, "page_url": u, "fetched_at": now,
                            "first_seen_at": now, "last_seen_at": now, "gone_at": None, "fields": {},
                            "crawl_run_id": run_id, "last_crawl_run_id": run_id} for u in urls])


def _gone(sessions) -> set[str]:
    with sessions() as s:
        return set(s.scalars(select(Item.canonical_url).where(Item.gone_at.is_not(None))))


def _run(sessions, run_id: int) -> CrawlRun:
    with sessions() as s:
        return s.get(CrawlRun, run_id)


def _make_stale(sessions, run_id: int) -> None:
    with session_scope(sessions) as s:
        s.execute(update(CrawlRun).where(CrawlRun.id == run_id)
                  .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10)))


def test_a_taken_over_run_neither_overwrites_its_status_nor_marks_gone(sessions):
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "s", "config", {}, None)
    first = q.start_run(sessions, source, trigger="schedule", host="a", pid=1)
    _items(sessions, source, first, ["http://s/1", "http://s/2"])
    _make_stale(sessions, first)  # its heartbeats did not get through: another host recovers it
    assert recover_stale_runs(sessions, stale_after=300, host="b") == [first]
    second = q.start_run(sessions, source, trigger="schedule", host="b", pid=2)
    assert second is not None
    _items(sessions, source, second, ["http://s/2", "http://s/3"])

    assert q.heartbeat(sessions, first) is False and q.heartbeat(sessions, second) is True
    assert q.finish_run(sessions, first, status="succeeded", stats={"items": 2}, gone_source_id=source) is None
    run = _run(sessions, first)
    assert run.status == "failed" and "heartbeat" in run.error and run.stats == {}
    assert _gone(sessions) == set()  # the first run's end marked none of the second run's items gone

    assert q.finish_run(sessions, second, status="succeeded", stats={"items": 2}, gone_source_id=source) == 1
    run = _run(sessions, second)
    assert (run.status, run.stats) == ("succeeded", {"items": 2, "items_gone": 1})
    assert _gone(sessions) == {"http://s/1"}
    assert q.finish_run(sessions, second, status="failed", stats={}) is None  # closed once, never again
    assert _run(sessions, second).status == "succeeded"


def _extension(engine, sessions, tmp_path, run_id: int, source: int, stats: dict) -> CrawlRunExtension:
    crawler = get_crawler()
    for key, value in stats.items():
        crawler.stats.set_value(key, value)
    context._CONTEXTS[crawler] = ctx = context.CrawlContext(
        source_name="s", source=SourceConfig(start_urls=["http://s/"]), crawl=CrawlConfig(),
        engine=engine, sessions=sessions, blobs=CrawlBlobStore(tmp_path / "blobs"), source_id=source,
        run_id=run_id, started_at=datetime.now(UTC), limits=Limits(), extra={"flushed": True})
    ext = CrawlRunExtension(crawler)
    ext.ctx = ctx
    return ext


REACHED = {"response_received_count": 3, "harvest/pages": 3, "harvest/items_stored": 1}  # pages got, an item stored


def _close(engine, sessions, tmp_path, run_id: int, source: int, stats: dict) -> CrawlRun:
    _extension(engine, sessions, tmp_path, run_id, source, {**REACHED, **stats}).spider_closed(None, "finished")
    return _run(sessions, run_id)


@pytest.mark.parametrize(("stats", "marks_gone"), [
    ({}, True),
    ({"httperror/response_ignored_status_count/404": 2, "httperror/response_ignored_status_count/410": 1}, True),
    ({"downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 3}, True),  # robots.txt
    ({f"downloader/exception_type_count/{TIMEOUT}": 1, f"retry/reason_count/{TIMEOUT}": 1}, True),  # retried fine
    ({"httperror/response_ignored_status_count/500": 1}, False),  # a listing answered 500 after retries
    ({f"downloader/exception_type_count/{TIMEOUT}": 3, f"retry/reason_count/{TIMEOUT}": 2}, False),  # timed out
    ({"spider_exceptions/count": 1}, False),
])
def test_only_a_run_that_missed_no_page_marks_items_gone(sessions, engine, tmp_path, stats, marks_gone):
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "s", "config", {}, None)
    old = q.start_run(sessions, source, trigger="manual", host="h", pid=1)
    _items(sessions, source, old, ["http://s/listed-last-time"])
    q.finish_run(sessions, old, status="succeeded", stats={})
    run_id = q.start_run(sessions, source, trigger="manual", host="h", pid=1)
    _items(sessions, source, run_id, ["http://s/seen"])
    run = _close(engine, sessions, tmp_path, run_id, source, stats)
    assert run.status == "succeeded"  # what it stored is stored; only the gone-marking waits for a full run
    assert _gone(sessions) == ({"http://s/listed-last-time"} if marks_gone else set())
    assert run.stats["items_gone"] == int(marks_gone) and bool(run.stats["missed_pages"]) != marks_gone


def test_the_run_extension_logs_a_takeover_and_records_nothing(sessions, engine, tmp_path, caplog):
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "s", "config", {}, None)
    first = q.start_run(sessions, source, trigger="manual", host="a", pid=1)
    _items(sessions, source, first, ["http://s/1"])
    _make_stale(sessions, first)
    recover_stale_runs(sessions, stale_after=300, host="b")
    second = q.start_run(sessions, source, trigger="manual", host="b", pid=2)
    ext = _extension(engine, sessions, tmp_path, first, source, {})
    with caplog.at_level(logging.ERROR, logger="scrapers.extensions"):
        ext._heartbeat()  # the next beat finds out
        ext._heartbeat()
    assert ext.ctx.extra["taken_over"] and len(caplog.records) == 1  # said once, clearly
    assert "no longer `running`" in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="scrapers.extensions"):
        ext.spider_closed(None, "finished")
    run = _run(sessions, first)
    assert run.status == "failed" and run.stats == {} and _gone(sessions) == set()
    assert any("taken over" in r.getMessage() and f"run {first} " in r.getMessage() for r in caplog.records)
    assert _run(sessions, second).status == "running"


def test_missed_pages_names_what_was_lost():
    assert missed_pages({"httperror/response_ignored_status_count/404": 1, "log_count/INFO": 9}) == []
    assert missed_pages({"httperror/response_ignored_status_count/503": 2}) == ["2 page(s) answered HTTP 503"]
    assert missed_pages({f"downloader/exception_type_count/{TIMEOUT}": 4, f"retry/reason_count/{TIMEOUT}": 2}) \
        == [f"2 download(s) failed with {TIMEOUT}"]


def test_a_heartbeat_arriving_during_recovery_keeps_the_run(sessions, monkeypatch):
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "s", "config", {}, None)
    run_id = q.start_run(sessions, source, trigger="manual", host="a", pid=1)
    _make_stale(sessions, run_id)
    with sessions() as s:
        snapshot = q.running_runs(s)  # what recovery reads: a stale heartbeat ...
    assert q.heartbeat(sessions, run_id)  # ... and then the run's next beat lands
    monkeypatch.setattr(q, "running_runs", lambda session, source_id=None: snapshot)
    assert recover_stale_runs(sessions, stale_after=300, host="b") == []
    assert _run(sessions, run_id).status == "running"
