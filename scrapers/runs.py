"""Starting a crawl the harvest way: sync the source row, recover dead runs, take the run lock, crawl.

Each process runs at most one crawl (Twisted's reactor cannot restart); the scheduler starts one
`harvest crawl NAME` subprocess per run.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from scrapers.config import SourceConfig, all_sources
from scrapers.errors import RunAlreadyActive, StoreNotReady, UnknownSource
from storage import collect as q
from storage.base import utcnow
from storage.engine import make_engine, session_factory, session_scope


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale_runs(sessions: sessionmaker[Session], stale_after: float, host: str | None = None) -> list[int]:
    """Mark runs left `running` by a crash as failed: a dead pid on this host, or a stale heartbeat."""
    host = host or socket.gethostname()
    cutoff = utcnow() - timedelta(seconds=stale_after)
    dead: dict[int, tuple[str, datetime | None]] = {}
    with session_scope(sessions) as session:
        for run in q.running_runs(session):
            beat = run.heartbeat_at or run.started_at
            if run.host == host and run.pid and not pid_alive(run.pid):
                dead[run.id] = (f"process {run.pid} on {host} died while the run was running", None)
            elif beat < cutoff:  # checked again in the UPDATE: a heartbeat arriving meanwhile keeps the run
                why = f"no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC (host {run.host}, pid {run.pid})"
                dead[run.id] = (why, cutoff)
        failed = [run_id for run_id, (why, beat_before) in dead.items()
                  if q.fail_runs(session, [run_id], why, beat_before=beat_before)]
    return sorted(failed)


def store_not_ready(engine: Engine, exc: DBAPIError) -> StoreNotReady:
    return StoreNotReady(
        f"cannot record the crawl in {engine.url.render_as_string(hide_password=True)}: "
        f"{str(exc.orig).strip().splitlines()[0]}. Run `harvest init` to create or migrate the database."
    )


def already_running(name: str, stale_after: float) -> RunAlreadyActive:
    return RunAlreadyActive(
        f"source '{name}' already has a running crawl (see `harvest runs {name}`); wait for it to finish. "
        f"A crashed run is marked failed once its process is gone or its heartbeat is older than {stale_after:.0f}s."
    )


def resolve_source(hs: Any, name: str) -> SourceConfig:
    known = all_sources(hs)
    if name not in known:
        raise UnknownSource(
            f"no source named '{name}'; configured sources: {', '.join(known)}. "
            f"Add a sources.{name} table to harvest.toml."
        )
    return known[name]


def sync_sources(sessions: sessionmaker[Session], hs: Any) -> dict[str, int]:
    """Make sure every configured source has its row; return {name: id}."""
    with session_scope(sessions) as session:
        return {
            name: q.upsert_source(session, name, src.kind, src.model_dump(mode="json"), src.schedule)
            for name, src in all_sources(hs).items()
        }


def scrapy_settings(hs: Any, config_path: str | None, extra: dict[str, Any] | None = None):
    """The project's Scrapy settings with what the harvest components need to find the store."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scrapers.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.set("HARVEST_CONFIG", config_path or "", priority="cmdline")
    settings.set("HARVEST_DATABASE_URL", hs.database_url, priority="cmdline")
    settings.set("HARVEST_DATA_DIR", str(hs.data_dir), priority="cmdline")
    for key, value in (extra or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_dir(hs: Any, run_id: int) -> Path:
    """The run's own directory under the data dir (0700): its Scrapy log lives there."""
    path = Path(hs.data_dir) / "runs" / str(run_id)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def log_file(hs: Any, run_id: int) -> Path:
    """The run's Scrapy log (created 0600: a log may quote URLs with tokens or server answers)."""
    path = run_dir(hs, run_id) / "scrapy.log"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    return path


def crawl(hs: Any, name: str, *, config_path: str | None = None, trigger: str = "manual",
          progress: Callable[[dict[str, int]], None] | None = None, log_to_file: bool = False,
          echo_log: bool = False) -> int:
    """Run one crawl of source `name` in this process and return its run id (raises RunAlreadyActive).

    `progress` gets the counters (pages, items, images) while the crawl runs; `log_to_file` sends Scrapy's
    log to `runs/RUN_ID/scrapy.log` in the data dir (with `echo_log` also to the terminal)."""
    resolve_source(hs, name)
    engine = make_engine(hs.database_url)
    sessions = session_factory(engine)
    try:
        ids = sync_sources(sessions, hs)
        recover_stale_runs(sessions, hs.crawl.stale_after_seconds)
        run_id = q.start_run(sessions, ids[name], trigger=trigger, host=socket.gethostname(), pid=os.getpid())
    except (OperationalError, ProgrammingError) as exc:
        raise store_not_ready(engine, exc) from None
    finally:
        engine.dispose()
    if run_id is None:
        raise already_running(name, hs.crawl.stale_after_seconds)
    status, why = "failed", "the crawl stopped before its spider closed; see the log above"
    extra: dict[str, Any] = {"HARVEST_RUN_ID": run_id}
    if progress is not None:
        extra["HARVEST_PROGRESS"] = progress
    if log_to_file:
        extra["LOG_FILE"] = str(log_file(hs, run_id))
        why = f"the crawl stopped before its spider closed; see its log {extra['LOG_FILE']}"
    try:
        from scrapy.crawler import CrawlerProcess

        process = CrawlerProcess(scrapy_settings(hs, config_path, extra))
        if log_to_file and echo_log:
            _echo_root_log(process.settings)
        process.crawl(name)
        process.start()
    except KeyboardInterrupt:
        status, why = "cancelled", "interrupted before the crawl got going"
        raise
    finally:
        _close_if_unfinished(hs, run_id, status, why)
    return run_id


def _echo_root_log(settings) -> None:
    """Also show the log (written to the run's file) on stderr, in Scrapy's format."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(settings.get("LOG_FORMAT"), settings.get("LOG_DATEFORMAT")))
    handler.setLevel(settings.get("LOG_LEVEL"))
    logging.getLogger().addHandler(handler)


def _close_if_unfinished(hs: Any, run_id: int, status: str, why: str) -> None:
    """If the crawl never got to close (the spider failed to open, an early Ctrl-C), do not leave the
    run `running`."""
    engine = make_engine(hs.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            q.fail_runs(session, [run_id], why, status=status)
    finally:
        engine.dispose()
