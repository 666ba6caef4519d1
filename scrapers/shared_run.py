"""One crawl run, many workers: `harvest crawl NAME --workers N` (and `--join` on more machines).

The starting process takes the run lock (one `running` row per source, as for any crawl), then starts N
worker processes (`python -m scrapers.shared_run`), each a normal Scrapy crawl of the source whose
scheduler and seen-set live in Redis (scrapers.frontier). It watches them: a worker process that exits
without leaving the run has its in-flight requests put back on the queue at once (a worker on another
machine is found dead by its expired heartbeat instead). The last worker out records the run; if every
worker died first, the starting process marks the run failed. `--join` adds workers on another machine
to the source's running shared run (same database, same `[crawl] redis_url`).
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from scrapers.errors import CollectError, RunAlreadyActive
from scrapers.frontier import Frontier, connect, run_prefix
from scrapers.run_limits import use_run_limits
from scrapers.runs import (already_running, recover_stale_runs, resolve_source, run_dir, scrapy_settings,
                           store_not_ready, sync_sources)
from storage import collect as q
from storage.collect_models import CrawlRun
from storage.engine import make_engine, session_factory, session_scope

logger = logging.getLogger(__name__)


class FrontierUnavailable(CollectError):
    pass


def frontier_for(hs: Any, run_id: int, worker: str) -> Frontier:
    return Frontier(connect(hs.crawl.redis_url), run_prefix(hs.crawl.redis_prefix, run_id), worker,
                    buckets=math.ceil(hs.crawl.frontier_urls / 256), dead_after=hs.crawl.worker_dead_after_seconds)


def _redis_ok(hs: Any, name: str, workers: int) -> None:
    try:
        connect(hs.crawl.redis_url).ping()
    except Exception as exc:  # noqa: BLE001 - any connection error reads the same to the user
        raise FrontierUnavailable(
            f"a shared crawl of '{name}' ({workers} worker(s) here; `--workers` or `workers` in "
            f"[sources.{name}]) keeps its frontier in Redis, but cannot reach Redis at [crawl] redis_url = "
            f"{hs.crawl.redis_url!r} ({exc}). Start Redis, set redis_url to a server every worker machine can "
            f"reach, or crawl with one process (`--workers 1`, or `workers = 1` in [sources.{name}])") from None


def worker_settings(hs: Any, frontier: Frontier, run_id: int, log: Path | None) -> dict[str, Any]:
    """The Scrapy settings that make a crawl one worker of shared run `run_id`."""
    extra = {"HARVEST_RUN_ID": run_id, "SCHEDULER": "scrapers.frontier_scrapy.FrontierScheduler",
             "HARVEST_FRONTIER_REDIS": hs.crawl.redis_url, "HARVEST_FRONTIER_PREFIX": frontier.prefix,
             "HARVEST_WORKER": frontier.worker, "HARVEST_FRONTIER_BUCKETS": frontier.buckets,
             "HARVEST_WORKER_DEAD_AFTER": frontier.dead_after,
             "HARVEST_WORKER_BEAT": min(2.0, frontier.dead_after / 4)}
    if log is not None:
        extra["LOG_FILE"] = str(log)
    return extra


def crawl_shared(hs: Any, name: str, workers: int, *, config_path: str | None = None, trigger: str = "manual",
                 join: bool = False, on_event=None) -> int:
    """Run (or, with `join`, join) the shared crawl of `name` with `workers` local processes; wait for the
    whole run to end (every worker, on every machine) and return its run id."""
    resolve_source(hs, name)
    _redis_ok(hs, name, workers)  # before anything is written
    engine = make_engine(hs.database_url)
    sessions = session_factory(engine)
    try:
        ids = sync_sources(sessions, hs)
        recover_stale_runs(sessions, hs.crawl.stale_after_seconds)
        if join:
            with sessions() as session:
                running = q.running_runs(session, ids[name])
            if not running:
                raise CollectError(f"source '{name}' has no running crawl to join; start one with "
                                 f"`harvest crawl {name} --workers N`")
            run_id = running[0].id
        else:
            run_id = q.start_run(sessions, ids[name], trigger=trigger, host=socket.gethostname(), pid=os.getpid())
            if run_id is None:
                raise already_running(name, hs.crawl.stale_after_seconds)
    except (OperationalError, ProgrammingError) as exc:
        engine.dispose()
        raise store_not_ready(engine, exc) from None
    me = f"{socket.gethostname()}-{os.getpid()}"
    watcher = frontier_for(hs, run_id, f"{me}-watch")
    try:
        if not join:
            watcher.open(run_id)
        elif not watcher.is_open():
            raise CollectError(f"run {run_id} of '{name}' is not a shared run in Redis {hs.crawl.redis_url} "
                               f"(or it is ending); start one with `harvest crawl {name} --workers N`")
        children = _start(hs, name, run_id, [f"{me}-{k}" for k in range(workers)], config_path)
        _watch(hs, watcher, children, on_event)
        _wait_remote(watcher)
    except BaseException as exc:
        if not join:
            _fail(sessions, run_id, f"the shared crawl stopped: {exc!r}")
        engine.dispose()
        raise
    if not join:
        _fail(sessions, run_id, "every worker stopped before the run could be recorded; see the worker logs "
                                f"in {run_dir(hs, run_id)}")
        with sessions() as session:
            if session.get(CrawlRun, run_id).status != "running":
                watcher.clear()
    engine.dispose()
    return run_id


def _fail(sessions, run_id: int, why: str) -> None:
    with session_scope(sessions) as session:
        q.fail_runs(session, [run_id], why)


def _start(hs: Any, name: str, run_id: int, workers: list[str], config_path: str | None) -> dict[str, subprocess.Popen]:
    children = {}
    for worker in workers:
        log = run_dir(hs, run_id) / f"worker-{worker}.log"
        cmd = [sys.executable, "-m", "scrapers.shared_run", name, "--run", str(run_id), "--worker", worker,
               "--log", str(log)]
        if config_path:
            cmd += ["--config", config_path]
        # a session of its own: a terminal's Ctrl-C reaches the workers once, forwarded by _watch
        children[worker] = subprocess.Popen(cmd, start_new_session=True)
    return children


def _watch(hs: Any, watcher: Frontier, children: dict[str, subprocess.Popen], on_event) -> None:
    """Wait for the local workers; put a dead one's requests back on the queue at once."""
    def forward(sig, _frame):
        for child in children.values():
            if child.poll() is None:
                child.send_signal(sig)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        running = dict(children)
        while running:
            for worker, child in list(running.items()):
                code = child.poll()
                if code is None:
                    continue
                del running[worker]
                if worker in watcher.workers():  # it never left the run: it died
                    moved = watcher.requeue(worker)
                    logger.warning("worker %s exited with %s without leaving the run; %d in-flight request(s) "
                                   "back on the queue", worker, code, moved)
                    if on_event:
                        on_event(f"worker {worker} died (exit {code}); {moved} request(s) re-queued")
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_remote(watcher: Frontier, poll: float = 0.5) -> None:
    """Wait while workers on other machines still work (reaping those whose heartbeat expired)."""
    while watcher.workers():
        watcher.reap()
        time.sleep(poll)


def _worker_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one worker of a shared crawl run (started by harvest crawl)")
    parser.add_argument("source")
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--config")
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    if sys.platform.startswith("linux"):  # die with the starting process, like the image workers
        from scrapers.workers import _die_with_parent

        signal_int = signal.getsignal(signal.SIGINT)
        _die_with_parent(os.getppid())
        signal.signal(signal.SIGINT, signal_int)
    from harvest.settings import load_settings
    from scrapy.crawler import CrawlerProcess

    hs = load_settings(args.config)
    frontier = frontier_for(hs, args.run, args.worker)
    if not frontier.register():  # atomically: only while the run is open, so a late worker crawls nothing
        print(f"worker {args.worker}: run {args.run} is over (or was never opened); nothing to do", file=sys.stderr)
        return
    settings = scrapy_settings(hs, args.config, worker_settings(hs, frontier, args.run,
                                                                Path(args.log) if args.log else None))
    use_run_limits(settings)  # max_pages and max_seconds hold for the run, not per worker
    process = CrawlerProcess(settings)
    process.crawl(args.source)
    process.start()


if __name__ == "__main__":
    _worker_main()


__all__ = ["crawl_shared", "FrontierUnavailable", "RunAlreadyActive"]
