"""Per-run limits of a shared run, and `workers = N` in a source's table.

`max_pages` and `max_seconds` hold for the whole run of N workers (one response counter and one deadline in
Redis), not per worker. Real Redis, real crawls over HTTP on 127.0.0.1 of an endless calendar (every month
links the month before and after, and its event page with a poster), on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

from harvest.demo.site import DemoSite
from harvest.demo.site import serve as serve_demo
from scrapers.frontier import Frontier, connect
from scrapers.schedule import Scheduler, crawl_command
from tests.labelstudio import wait_for
from tests.reliability.helpers import crawl_config, db_count, poll, wait_process
from tests.scrapers.helpers import REDIS, harvest, harvest_env, runs, write_toml
from tests.scrapers.sites import serve
from tests.scrapers.sites.shapes import CALENDAR, _month
from tests.scrapers.test_shared_frontier import _expect_complete
from storage.collect_models import Item

CONCURRENCY = 2  # CONCURRENT_REQUESTS of each worker: what one worker can have in flight when a limit is hit
PACE = 0.1  # seconds per answer: one worker alone needs k * PACE / CONCURRENCY = 3 s, six of the others' 0.5 s polls


def test_the_run_counts_pages_and_keeps_one_deadline_for_every_worker(redis_prefix):
    server = connect(REDIS)
    a, b = (Frontier(server, f"{redis_prefix}:run:1", w, buckets=10) for w in ("a", "b"))
    a.open(1)
    a.register(), b.register()
    server.zadd(a.key("queue"), {b"one": 0, b"two": 1})
    assert [a.page(3, "closespider_pagecount"), b.page(3, "closespider_pagecount")] == [1, 2]
    assert a.limit() is None and a.pop() is not None  # below the limit: requests are handed out
    assert b.page(3, "closespider_pagecount") == 3 and a.limit() == "closespider_pagecount"
    assert a.pop() is None and b.pop() is None and a.queued() == 1  # no worker takes another request
    a.reach("closespider_timeout")
    assert b.limit() == "closespider_pagecount"  # the first limit reached stays the run's
    first = a.seconds_left(60)
    later = b.seconds_left(600)  # a later worker gets what is left of the run's deadline, not its own
    assert 59 < first <= 60 and later <= first


def _calendar(base: str, **overrides) -> dict:
    cfg = CALENDAR["source"](base)
    cfg.update({"max_depth": 0, "workers": 2, "settings": {"CONCURRENT_REQUESTS": CONCURRENCY}, **overrides})
    return cfg


def _config(tmp_path, base: str, redis_prefix: str, **overrides):
    return write_toml(tmp_path / "harvest.toml", {
        "crawl": {"redis_url": REDIS, "redis_prefix": redis_prefix, "batch_size": 5},
        "sources.cal": _calendar(base, **overrides)})


def _after_both_open(redis_prefix: str, route):
    """`route`, answering only once both workers' spiders are open (each has beaten once): so that one
    worker cannot crawl the whole run while the other is still starting."""
    server, opened = connect(REDIS), threading.Event()

    def both_open() -> bool:
        snaps = list(server.scan_iter(match=f"{redis_prefix}:run:*:snap"))
        return bool(snaps) and server.hlen(snaps[0]) >= 2

    def gated(path: str):
        if not opened.is_set():
            wait_for(both_open, 120, "both workers' spiders open")
            opened.set()
        return route(path)
    return gated


def _dequeued(settings, run_id: int) -> list[int]:
    import re

    logs = sorted((settings.data_dir / "runs" / str(run_id)).glob("worker-*.log"))
    return [int(m.group(1)) if (m := re.search(r"'scheduler/dequeued/redis': (\d+)", log.read_text())) else 0
            for log in logs]


def test_max_pages_holds_for_the_run_of_two_workers(settings, redis_prefix, tmp_path):
    """`workers = 2` in the source's table, `max_pages = K`: at most K + 2 * CONCURRENCY pages for the run
    (per worker it would be about 2K responses), and the run ends succeeded at its limit."""
    k = 60

    def paced(path: str):  # a fast machine would let one worker crawl all k pages before the other's first poll
        time.sleep(PACE)
        return _month(path)

    with serve({}, fallback=_after_both_open(redis_prefix, paced)) as site:
        config = _config(tmp_path, site.base_url, redis_prefix, max_pages=k, max_seconds=0)
        env = harvest_env(settings, config)
        proc = harvest(["crawl", "cal"], env, tmp_path, timeout=300)  # no --workers: the source's 2
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        fetched = site.paths()
        shown = " ".join(harvest(["runs", "cal"], env, tmp_path).stdout.split())
    pages = [p for p in fetched if p.endswith(".html")]
    assert len(pages) == len(set(pages))  # the seen-set is shared: each page once
    # the bound of scrapers.run_limits: what each worker had in flight (CONCURRENT_REQUESTS) comes on top
    assert k <= len(fetched) and len(pages) <= k + 2 * CONCURRENCY, (len(fetched), len(pages))
    # every response counts (posters, robots.txt), as in Scrapy; with a limit per worker each would get k
    assert len(fetched) < 2 * k, len(fetched)
    (run,) = runs(settings.database_url)
    assert run.status == "succeeded", run.error
    assert (run.stats["limit_reached"], run.stats["finish_reason"]) == ("max_pages", "closespider_pagecount")
    assert run.stats["workers"] == 2 and run.stats["workers_died"] == 0
    events = [p for p in pages if p.startswith("/event/")]
    assert db_count(settings.database_url, Item) == len(events) == run.stats["items"]  # none lost
    assert all(n > 0 for n in _dequeued(settings, run.id))  # both workers crawled
    assert "stopped at its limit `max_pages`" in shown and "2 workers on one shared frontier" in shown


def test_max_seconds_is_one_deadline_for_the_run(settings, redis_prefix, tmp_path):
    """A worker that joins the run late stops at the run's deadline, not max_seconds after its own start."""
    limit = 20.0

    def slow(path: str):
        time.sleep(0.2)
        return _month(path)

    with serve({}, fallback=slow) as site:
        config = _config(tmp_path, site.base_url, redis_prefix, max_pages=0, max_seconds=limit, workers=1)
        env = harvest_env(settings, config)
        with open(tmp_path / "first.log", "wb") as out:
            first = subprocess.Popen([sys.executable, "-m", "harvest", "crawl", "cal", "--shared"], env=env,
                                     cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            server = connect(REDIS)
            key = poll(lambda: next(iter(server.scan_iter(match=f"{redis_prefix}:run:*:deadline")), None), 120,
                       "the run's deadline set", first)
            deadline = float(server.get(key))
            poll(lambda: _redis_now(server) >= deadline - limit * 0.6, 60, "40% of max_seconds gone", first)
            started = time.monotonic()
            second = subprocess.run([sys.executable, "-m", "harvest", "crawl", "cal", "--join", "--workers", "1"],
                                    env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
            took = time.monotonic() - started
            assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
            assert wait_process(first, 120, "the shared crawl") == 0, (tmp_path / "first.log").read_text()[-4000:]
        finally:
            if first.poll() is None:
                first.kill()
    # with a deadline per worker the joined one would have run max_seconds after its start, and more
    assert took < limit, took
    (run,) = runs(settings.database_url)
    assert run.status == "succeeded", run.error
    assert (run.stats["limit_reached"], run.stats["finish_reason"]) == ("max_seconds", "closespider_timeout")
    assert run.stats["workers"] == 2
    assert all(n > 0 for n in _dequeued(settings, run.id))  # the joined worker crawled too
    assert (run.finished_at - run.started_at).total_seconds() < limit + 30


def _redis_now(server) -> float:
    seconds, micros = server.time()
    return seconds + micros / 1e6


def test_workers_in_a_source_table_is_validated(sqlite_settings, tmp_path):
    config = write_toml(tmp_path / "harvest.toml", {"sources.cal": _calendar("http://127.0.0.1:9", workers=0)})
    proc = harvest(["crawl", "cal"], harvest_env(sqlite_settings, config), tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "sources.cal.workers" in out and "greater than or equal to 1" in out and "found 0" in out, out


def test_workers_2_with_redis_down_is_a_clear_error(sqlite_settings, tmp_path):
    from annotation.server import free_port

    closed = f"redis://127.0.0.1:{free_port()}/0"
    config = write_toml(tmp_path / "harvest.toml", {"crawl": {"redis_url": closed},
                                                    "sources.cal": _calendar("http://127.0.0.1:9")})
    proc = harvest(["crawl", "cal"], harvest_env(sqlite_settings, config), tmp_path)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "2 worker(s)" in err and "cannot reach Redis" in err and closed in err, err  # what, and what was found
    assert "workers = 1" in err and "Start Redis" in err, err  # what to do
    assert runs(sqlite_settings.database_url) == []  # nothing written


def test_the_scheduler_starts_a_source_with_its_workers_as_one_run(settings, redis_prefix, tmp_path,
                                                                   monkeypatch):
    """`workers = 2` and a schedule: `harvest schedule` starts one shared run of two workers."""
    site = DemoSite(0, fresh=True)
    with serve_demo(site) as srv:
        config = crawl_config(tmp_path, srv.base_url, crawl={"redis_url": REDIS, "redis_prefix": redis_prefix,
                                                             "batch_size": 3},
                              sources={"demo": {"workers": 2, "schedule": "0 3 * * *"}})
        env = harvest_env(settings, config)
        for key in ("HARVEST_CONFIG", "HARVEST_DATABASE_URL", "HARVEST_DATA_DIR", "PYTHONPATH"):
            monkeypatch.setenv(key, env[key])  # the scheduler's crawl processes inherit its environment
        assert harvest(["init"], env, tmp_path).returncode == 0
        from harvest.settings import load_settings

        now = [datetime(2026, 5, 2, 3, 0, 1, tzinfo=timezone.utc)]  # just after the fire time: due
        scheduler = Scheduler(load_settings(config), command=lambda name: crawl_command(name, str(config)),
                              clock=lambda: now[0])
        assert scheduler.tick() == ["demo"]
        now[0] += timedelta(days=1)  # due again, but its crawl still runs: no second one
        assert scheduler.tick() == []
        child = scheduler.children["demo"]
        scheduler.wait_children(300)
    assert child.returncode == 0
    _expect_complete(settings, site)
    (run,) = runs(settings.database_url)  # one run, whatever the workers
    assert (run.status, run.trigger) == ("succeeded", "schedule"), run.error
    assert run.stats["workers"] == 2 and run.stats["workers_died"] == 0
    assert run.stats["items"] == site.expected()["n_detail_pages"]
    assert len(list((settings.data_dir / "runs" / str(run.id)).glob("worker-*.log"))) == 2
