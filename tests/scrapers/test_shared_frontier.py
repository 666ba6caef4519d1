"""One source, many workers: two `harvest crawl --workers 2` processes on one Redis frontier, one run.

Real Redis (db 0, a key prefix unique per test), real PostgreSQL, real crawls of the demo site over HTTP.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid

import pytest

from harvest.demo.site import DemoSite, serve
from scrapers.frontier import Frontier, connect, merge_stats
from storage.collect_models import Item
from tests.reliability.helpers import (
    assert_consistent, children, crawl_config, db_count, expected_pairs, link_pairs, poll, slow_down_pages,
    store_snapshot, wait_process,
)
from tests.scrapers.helpers import REDIS, harvest_env, runs



def test_pop_records_in_flight_and_requeue_gives_it_back(redis_prefix):
    server = connect(REDIS)
    a, b = (Frontier(server, f"{redis_prefix}:run:1", w, buckets=10) for w in ("a", "b"))
    assert not a.register()  # the run's frontier is not open yet
    a.open(1)
    assert a.register() and b.register()
    server.zadd(a.key("queue"), {b"one": 0, b"two": -1})
    key, data = a.pop()
    assert data == b"two" and a.queued() == 1  # the best score first, and recorded as a's
    assert not a.idle_and_done()  # b has not gone idle yet; the queue is not empty either
    assert b.requeue("a") == 1 and a.queued() == 2  # a died: its request is back
    assert "a" not in b.workers() and not a.beat({})  # and a learns it was declared dead
    b.pop(), b.pop()
    assert b.queued() == 0 and not b.is_done()  # b works on both: not idle until its engine says so
    assert b.idle_and_done() and a.is_done()


def test_seen_set_is_exact_per_fingerprint_and_the_last_out_finalises(redis_prefix):
    server = connect(REDIS)
    a, b = (Frontier(server, f"{redis_prefix}:run:2", w, buckets=7) for w in ("a", "b"))
    a.open(2)
    a.register(), b.register()
    fps = [uuid.uuid4().bytes + b"\0" * 4 for _ in range(2000)]
    assert not any(a.seen(fp) for fp in fps)
    assert all(b.seen(fp) for fp in fps)
    other = bytearray(fps[0])
    other[15] ^= 1  # one bit of the member differs: not seen
    assert not a.seen(bytes(other))
    assert server.object("encoding", a.key("seen:0")) == b"intset"
    assert not a.leave({"stats": {"x": 1}, "reason": "finished", "flushed": True, "worker": "a"}, finished=True)
    assert b.leave({"stats": {"x": 2}, "reason": "finished", "flushed": True, "worker": "b"}, finished=True)
    left, dead = b.results()
    assert merge_stats([p["stats"] for p in left]) == {"x": 3} and dead == []
    assert not Frontier(server, a.prefix, "late").register()  # the run is closed: a late worker does nothing


def _shared_crawl(settings, config, log, workers: int = 2) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "harvest", "crawl", "demo", "--workers", str(workers),
                                 "--shared"],
                                env=harvest_env(settings, config), cwd=config.parent, stdout=out,
                                stderr=subprocess.STDOUT)


def _expect_complete(settings, site: DemoSite) -> None:
    expected = site.expected()
    snapshot = store_snapshot(settings.database_url)
    assert snapshot["items"] == expected["detail_pages"]  # every item, each once
    assert sorted(snapshot["links"]) == expected["valid_image_urls"]
    assert len(snapshot["assets"]) == expected["n_distinct_images"]  # no duplicate asset
    assert sorted(link_pairs(settings.database_url)) == expected_pairs(site)
    assert_consistent(settings.database_url, settings.blob_dir)


def test_two_workers_crawl_one_run_into_one_store(pg_settings, redis_prefix, tmp_path):
    site = DemoSite(0, fresh=True)
    with serve(site) as srv:
        config = crawl_config(tmp_path, srv.base_url, crawl={"batch_size": 3, "redis_url": REDIS,
                                                             "redis_prefix": redis_prefix})
        proc = _shared_crawl(pg_settings, config, tmp_path / "crawl.log")
        code = wait_process(proc, 240, "the shared crawl")
        assert code == 0, (tmp_path / "crawl.log").read_text()[-4000:]
    _expect_complete(pg_settings, site)
    (run,) = runs(pg_settings.database_url)
    assert run.status == "succeeded", run.error
    assert run.stats["workers"] == 2 and run.stats["workers_died"] == 0
    assert run.stats["items"] == site.expected()["n_detail_pages"]
    logs = sorted(p.name for p in (pg_settings.data_dir / "runs" / str(run.id)).glob("worker-*.log"))
    assert len(logs) == 2
    assert not list(connect(REDIS).scan_iter(match=f"{redis_prefix}:*"))  # the run's keys are gone


def test_sigkill_one_of_two_workers_and_the_run_still_completes(settings, redis_prefix, tmp_path):
    """On SQLite and on PostgreSQL."""
    site = DemoSite(0, fresh=True)
    expected = site.expected()
    slow_down_pages(site, expected["detail_pages"])  # the crawl takes long enough to kill a worker midway
    with serve(site) as srv:
        config = crawl_config(tmp_path, srv.base_url, crawl={
            "batch_size": 2, "concurrency_per_domain": 2, "redis_url": REDIS, "redis_prefix": redis_prefix})
        proc = _shared_crawl(settings, config, tmp_path / "crawl.log")
        try:
            poll(lambda: db_count(settings.database_url, Item) >= 2, 120, "first items stored", proc)
            workers = poll(lambda: [p for p in children(proc.pid) if _is_worker(p)], 30, "two workers", proc)
            assert len(workers) == 2
            # the worker to kill holds requests in flight (one that has taken none yet would test nothing)
            busy = poll(lambda: _busy_worker(workers, redis_prefix), 60, "a worker with requests in flight", proc)
            os.kill(busy, signal.SIGKILL)
            stored = db_count(settings.database_url, Item)
            assert stored < expected["n_detail_pages"], "the kill came too late to test anything"
            code = wait_process(proc, 300, "the shared crawl after one worker was killed")
        finally:
            if proc.poll() is None:
                proc.kill()
        log = (tmp_path / "crawl.log").read_text()
        assert code == 0, log[-4000:]
        moved = re.search(r"died\s+\(exit\s+-9\);\s+(\d+)\s+request\(s\)\s+re-queued", log)
        assert moved and int(moved.group(1)) >= 1, log[-4000:]  # it had work in flight, given to the other
    _expect_complete(settings, site)
    (run,) = runs(settings.database_url)  # exactly one run
    assert run.status == "succeeded", run.error
    assert run.stats["workers"] == 2 and run.stats["workers_died"] == 1


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"scrapers.shared_run" in f.read()
    except OSError:
        return False


def _busy_worker(pids: list[int], redis_prefix: str) -> int | None:
    """The first of the worker processes `pids` with a request in its in-flight hash, or None."""
    server = connect(REDIS)
    for pid in pids:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode().split("\0")
        worker = args[args.index("--worker") + 1]
        if any(server.hlen(key) for key in server.scan_iter(match=f"{redis_prefix}:run:*:inflight:{worker}")):
            return pid
    return None


def test_a_second_machine_joins_the_running_shared_run(pg_settings, redis_prefix, tmp_path):
    """`harvest crawl NAME --workers 1 --join` elsewhere (here: another process, the data dir shared as on a
    shared file system) adds a worker to the running run: still one run, every item once."""
    site = DemoSite(0, fresh=True)
    slow_down_pages(site, site.expected()["detail_pages"])
    with serve(site) as srv:
        config = crawl_config(tmp_path, srv.base_url, crawl={
            "batch_size": 2, "concurrency_per_domain": 1, "redis_url": REDIS, "redis_prefix": redis_prefix})
        first = _shared_crawl(pg_settings, config, tmp_path / "first.log", workers=1)  # one slow worker here
        try:
            poll(lambda: list(connect(REDIS).scan_iter(match=f"{redis_prefix}:run:*:workers")), 60, "workers", first)
            env = harvest_env(pg_settings, config)  # the same data dir, as on a shared file system
            second = subprocess.run([sys.executable, "-m", "harvest", "crawl", "demo", "--workers", "1", "--join"],
                                    env=env, cwd=config.parent, capture_output=True, text=True, timeout=300)
            assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
            assert wait_process(first, 300, "the shared crawl") == 0, (tmp_path / "first.log").read_text()[-4000:]
        finally:
            if first.poll() is None:
                first.kill()
    _expect_complete(pg_settings, site)
    (run,) = runs(pg_settings.database_url)
    assert run.status == "succeeded", run.error
    assert run.stats["workers"] == 2 and run.stats["workers_died"] == 0
    logs = list((pg_settings.data_dir / "runs" / str(run.id)).glob("worker-*.log"))
    assert len(logs) == 2
    for log in logs:  # both, the joined worker too, took requests from the shared queue
        took = re.search(r"'scheduler/dequeued/redis': (\d+)", log.read_text())
        assert took and int(took.group(1)) > 0, f"{log.name} took no request from the shared queue"


def test_join_without_a_running_shared_run_is_a_clear_error(pg_settings, redis_prefix, tmp_path):
    config = crawl_config(tmp_path, "http://127.0.0.1:9", crawl={"redis_url": REDIS, "redis_prefix": redis_prefix})
    proc = subprocess.run([sys.executable, "-m", "harvest", "crawl", "demo", "--workers", "2", "--join"],
                          env=harvest_env(pg_settings, config), cwd=config.parent, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "no running crawl to join" in proc.stdout + proc.stderr
    assert runs(pg_settings.database_url) == []


def test_an_unreachable_redis_is_a_clear_error_before_anything_is_written(pg_settings, tmp_path):
    from annotation.server import free_port

    closed = f"redis://127.0.0.1:{free_port()}/0"
    config = crawl_config(tmp_path, "http://127.0.0.1:9", crawl={"redis_url": closed})
    proc = subprocess.run([sys.executable, "-m", "harvest", "crawl", "demo", "--workers", "2"],
                          env=harvest_env(pg_settings, config), cwd=config.parent, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot reach Redis" in proc.stderr and "redis_url" in proc.stderr
    assert runs(pg_settings.database_url) == []
