"""`harvest schedule`: start each source's crawl on its cron schedule, one subprocess per crawl.

A source with `workers = N` (N > 1) is started as `harvest crawl NAME`, which reads it and runs the crawl as
one shared run of N worker processes (scrapers.shared_run); the scheduler sees one child, as for any crawl.

Never two runs of one source at once: the scheduler skips a source whose child still runs, and the
crawl itself takes the database lock (a second `running` row is refused, also across machines).
Runs left `running` by a crash are marked failed on every tick. SIGINT/SIGTERM stop it gracefully:
no new crawls, children asked to shut down (Scrapy finishes what is in flight), then exit.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from datetime import datetime, timedelta, timezone

from croniter import croniter
from sqlalchemy import func, select

from scrapers.config import all_sources
from scrapers.runs import recover_stale_runs, sync_sources
from storage.collect_models import CrawlRun
from storage.engine import make_engine, session_factory

logger = logging.getLogger(__name__)


_EPS = timedelta(microseconds=1)


def crawl_command(name: str, config: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "harvest"]
    if config:
        cmd += ["--config", config]
    return cmd + ["crawl", name, "--trigger", "schedule"]


def is_due(cron: str, last_start: datetime | None, now: datetime) -> bool:
    """True when a fire time of `cron` lies after `last_start` (or the source never ran) and at/before `now`."""
    previous = croniter(cron, now + _EPS).get_prev(datetime)
    return last_start is None or previous > last_start





class Scheduler:
    def __init__(
        self,
        hs,
        command: Callable[[str], list[str]],
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        launch: Callable[[str], Any] | None = None,
    ) -> None:
        self.hs = hs
        self.command = command
        self.launch = launch  # e.g. scrapers.scrapyd.ScrapydLauncher: a Popen-like handle per crawl
        self.clock = clock
        self.engine = make_engine(hs.database_url)
        self.sessions = session_factory(self.engine)
        self.children: dict[str, Any] = {}  # subprocess.Popen, or a Scrapyd job
        self.launched: list[str] = []
        self.last_launch: dict[str, datetime] = {}
        self.stopping = threading.Event()

    def _last_starts(self) -> dict[str, datetime]:
        from storage.collect_models import Source

        with self.sessions() as session:
            rows = session.execute(
                select(Source.name, func.max(CrawlRun.started_at)).join(CrawlRun).group_by(Source.name)
            ).all()
        return {name: started for name, started in rows}

    def _reap(self) -> None:
        for name, child in list(self.children.items()):
            if child.poll() is not None:
                logger.info("crawl of %s exited with %s", name, child.returncode)
                del self.children[name]

    def tick(self) -> list[str]:
        """Reap children, recover dead runs, start every due source that is not running. Returns names."""
        self._reap()
        recover_stale_runs(self.sessions, self.hs.crawl.stale_after_seconds)
        now = self.clock()
        last = self._last_starts()
        started = []
        for name, src in all_sources(self.hs).items():
            if not src.schedule or name in self.children or self.stopping.is_set():
                continue
            seen = [t for t in (last.get(name), self.last_launch.get(name)) if t is not None]
            if not is_due(src.schedule, max(seen) if seen else None, now):
                continue
            logger.info("starting scheduled crawl of %s%s", name,
                        f" with {src.workers} workers on the shared frontier" if src.workers > 1 else "")
            if self.launch and src.workers > 1:
                logger.warning("source %s has workers = %d, but a Scrapyd job is one process: it crawls with one",
                               name, src.workers)
            self.children[name] = self.launch(name) if self.launch else subprocess.Popen(self.command(name))
            self.last_launch[name] = now
            self.launched.append(name)
            started.append(name)
        return started

    def wait_children(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for child in list(self.children.values()):
            remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
            try:
                child.wait(remaining)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._reap()

    def run_once(self) -> list[str]:
        sync_sources(self.sessions, self.hs)
        self.tick()
        self.wait_children()
        self.engine.dispose()
        return self.launched

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def run_forever(self, tick_seconds: float = 1.0, grace_seconds: float = 60.0) -> list[str]:
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            sync_sources(self.sessions, self.hs)
            while not self.stopping.is_set():
                self.tick()
                self.stopping.wait(tick_seconds)
            for child in self.children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)  # Scrapy: finish in-flight requests, close the spider
            self.wait_children(grace_seconds)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.engine.dispose()
        return self.launched
