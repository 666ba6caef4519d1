"""The scheduler and the run lock: cron due-ness, one running run per source, crash recovery,
no overlapping children, `--once`, and a graceful stop on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from harvest.demo.site import DemoSite, serve
from scrapers.runs import recover_stale_runs
from scrapers.schedule import Scheduler, is_due
from storage import collect as q
from storage.collect_models import CrawlRun
from storage.engine import session_scope
from tests.conftest import make_settings
from tests.labelstudio import wait_for
from tests.scrapers.helpers import harvest, harvest_env, runs, write_toml

UTC = timezone.utc


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_is_due():
    day = datetime(2026, 5, 2, tzinfo=UTC)
    assert is_due("0 3 * * *", None, day + timedelta(hours=1))
    assert not is_due("0 3 * * *", day - timedelta(hours=20, minutes=59), day + timedelta(hours=2))
    assert is_due("0 3 * * *", day - timedelta(hours=21), day + timedelta(hours=3))  # exactly at the fire time
    assert is_due("* * * * * *", day, day + timedelta(seconds=1))
    assert not is_due("* * * * * *", day, day + timedelta(milliseconds=500))


def test_one_running_run_per_source(sessions):
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "a", "config", {}, None)
    first = q.start_run(sessions, source, trigger="manual", host="h", pid=1)
    assert first is not None
    assert q.start_run(sessions, source, trigger="schedule", host="other-machine", pid=2) is None
    q.finish_run(sessions, first, status="succeeded", stats={})
    assert q.start_run(sessions, source, trigger="manual", host="h", pid=3) not in (None, first)


def test_crashed_runs_are_marked_failed(sessions):
    host = socket.gethostname()
    with session_scope(sessions) as s:
        ids = [q.upsert_source(s, n, "config", {}, None) for n in ("dead", "alive", "stale", "fresh")]
    dead = q.start_run(sessions, ids[0], trigger="manual", host=host, pid=dead_pid())
    alive = q.start_run(sessions, ids[1], trigger="manual", host=host, pid=os.getpid())
    stale = q.start_run(sessions, ids[2], trigger="manual", host="elsewhere", pid=1)
    fresh = q.start_run(sessions, ids[3], trigger="manual", host="elsewhere", pid=1)
    with session_scope(sessions) as s:
        s.execute(update(CrawlRun).where(CrawlRun.id == stale)
                  .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10)))
    assert recover_stale_runs(sessions, stale_after=300, host=host) == sorted([dead, stale])
    with sessions() as s:
        status = {r.id: (r.status, r.error) for r in s.query(CrawlRun)}
    assert status[dead][0] == "failed" and "died" in status[dead][1]
    assert status[stale][0] == "failed" and "heartbeat" in status[stale][1]
    assert status[alive][0] == status[fresh][0] == "running"
    # the lock is free again for the recovered source
    assert q.start_run(sessions, ids[0], trigger="manual", host=host, pid=os.getpid()) is not None


def test_scheduler_never_overlaps_a_source(sqlite_url, tmp_path, monkeypatch):
    """A fake clock decides due-ness; each child runs until the test releases it, so nothing depends
    on how fast the machine is."""
    monkeypatch.chdir(tmp_path)
    hs = make_settings(tmp_path, sqlite_url, sources={
        "every_second": {"start_urls": ["http://127.0.0.1:9/"], "schedule": "* * * * * *"},
        "unscheduled": {"start_urls": ["http://127.0.0.1:9/"]},
    })
    log = tmp_path / "log.txt"

    def child(name: str) -> list[str]:  # logs start, waits (up to 120 s) for its release file, logs end
        release = tmp_path / f"release-{len(scheduler.launched)}"
        script = (f"import pathlib, time; log = open({str(log)!r}, 'a', buffering=1); log.write('start\\n'); "
                  f"deadline = time.monotonic() + 120\n"
                  f"while not pathlib.Path({str(release)!r}).exists() and time.monotonic() < deadline: "
                  f"time.sleep(0.02)\n"
                  f"log.write('end\\n')")
        return [sys.executable, "-c", script]

    now = [datetime(2026, 5, 2, 3, 0, 0, 500_000, tzinfo=UTC)]
    scheduler = Scheduler(hs, command=child, clock=lambda: now[0])
    assert scheduler.tick() == ["every_second"]
    for _ in range(3):  # due every second, but its child still runs: never a second one
        now[0] += timedelta(seconds=5)
        assert scheduler.tick() == []
    (tmp_path / "release-0").touch()
    scheduler.wait_children(60)
    assert scheduler.tick() == ["every_second"]  # the child ended: the missed fire times give one new run
    assert scheduler.tick() == []
    (tmp_path / "release-1").touch()
    scheduler.wait_children(60)
    assert scheduler.tick() == []  # it ended, but no fire time passed since its launch (the clock stood still)
    assert not scheduler.children
    assert scheduler.launched == ["every_second", "every_second"]
    assert log.read_text().split() == ["start", "end", "start", "end"]  # never two at once


@pytest.fixture(scope="module")
def demo():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


def _scheduled_demo(settings, demo, tmp_path):
    from scrapers.config import demo_source

    cfg = demo_source(demo.base_url).model_dump(exclude_none=True)
    cfg["schedule"] = "* * * * * *"
    config = write_toml(tmp_path / "harvest.toml", {"sources.demo": {k: v for k, v in cfg.items() if v != {}}})
    return harvest_env(settings, config)


def test_schedule_once_recovers_a_crashed_run_and_crawls(sqlite_settings, demo, tmp_path):
    settings = sqlite_settings
    env = _scheduled_demo(settings, demo, tmp_path)
    assert harvest(["init"], env, tmp_path).returncode == 0
    from storage.engine import make_engine, session_factory

    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        source = q.upsert_source(s, "demo", "config", {}, "* * * * * *")
    crashed = q.start_run(sessions, source, trigger="schedule", host=socket.gethostname(), pid=dead_pid())
    with session_scope(sessions) as s:  # it crashed a minute ago
        ago = datetime.now(UTC) - timedelta(minutes=1)
        s.execute(update(CrawlRun).where(CrawlRun.id == crashed).values(started_at=ago, heartbeat_at=ago))
    engine.dispose()
    proc = harvest(["schedule", "--once"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "demo" in proc.stdout
    by_id = {r.id: r for r in runs(settings.database_url)}
    assert by_id[crashed].status == "failed"
    (new,) = [r for r in by_id.values() if r.id != crashed]
    assert (new.status, new.trigger) == ("succeeded", "schedule") and new.stats["items"] > 0


def test_scheduler_stops_gracefully_on_sigterm(sqlite_settings, demo, tmp_path):
    settings = sqlite_settings
    env = _scheduled_demo(settings, demo, tmp_path)
    assert harvest(["init"], env, tmp_path).returncode == 0
    mark = demo.requests.mark()
    # the first tick starts the crawl at once; the next would come after 60 s, so however slow the machine,
    # a crawl that ends before the SIGTERM arrives is never followed by a second one
    proc = subprocess.Popen([sys.executable, "-m", "harvest", "schedule", "--tick", "60"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(r.path.startswith("/listing/") for r in demo.requests.since(mark)), 60, "a crawl")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    final = runs(settings.database_url)
    assert len(final) == 1 and final[0].status in ("cancelled", "succeeded"), [(r.status, r.error) for r in final]
    assert final[0].finished_at is not None and final[0].stats["finish_reason"] in ("shutdown", "finished")
