"""One shared context per crawl: harvest settings, the store, the source row and the crawl run.

Pipelines and the run extension ask `CrawlContext.of(crawler)`; the first ask opens the store and,
unless `harvest crawl` already did (HARVEST_RUN_ID), starts the run under the one-running-run lock.
"""
from __future__ import annotations

import os
import socket
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from scrapers.blobs import CrawlBlobStore, CrawlS3BlobStore, crawl_blobs
from scrapers.config import CrawlConfig, SourceConfig, all_sources
from scrapers.imaging import Limits
from scrapers.loader import harvest_settings
from scrapers.runs import already_running, recover_stale_runs, store_not_ready
from storage import collect as q
from storage.base import utcnow
from storage.engine import make_engine, session_factory

def enabled(crawler: Crawler) -> Crawler:
    """The crawler, or NotConfigured when HARVEST_STORE is off (harvest's components all stand down)."""
    if not crawler.settings.getbool("HARVEST_STORE", True):
        raise NotConfigured("HARVEST_STORE is off")
    return crawler


_CONTEXTS: weakref.WeakKeyDictionary[Crawler, CrawlContext] = weakref.WeakKeyDictionary()


@dataclass
class CrawlContext:
    source_name: str
    source: SourceConfig
    crawl: CrawlConfig
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: CrawlBlobStore | CrawlS3BlobStore
    source_id: int
    run_id: int
    started_at: datetime
    limits: Limits
    extra: dict[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None  # where the near-duplicate index is persisted (None: kept in memory only)

    @classmethod
    def of(cls, crawler: Crawler) -> CrawlContext:
        ctx = _CONTEXTS.get(crawler)
        if ctx is None:
            ctx = _CONTEXTS[crawler] = cls._open(crawler)
        return ctx

    @classmethod
    def _open(cls, crawler: Crawler) -> CrawlContext:
        s = crawler.settings
        hs = harvest_settings(s)
        name = crawler.spider.name if crawler.spider is not None else s.get("HARVEST_SOURCE")
        source = all_sources(hs).get(name) or SourceConfig(spider=name)
        database_url = s.get("HARVEST_DATABASE_URL") or hs.database_url
        data_dir = Path(s.get("HARVEST_DATA_DIR") or hs.data_dir)
        engine = make_engine(database_url)
        sessions = session_factory(engine)
        try:
            with sessions.begin() as session:
                source_id = q.upsert_source(session, name, source.kind, source.model_dump(mode="json"),
                                            source.schedule)
        except (OperationalError, ProgrammingError) as exc:
            engine.dispose()
            raise store_not_ready(engine, exc) from None
        run_id = s.getint("HARVEST_RUN_ID") or None
        if run_id is None:  # a plain `scrapy crawl`: recover crashed runs, then take the lock here
            recover_stale_runs(sessions, hs.crawl.stale_after_seconds)
            run_id = q.start_run(sessions, source_id, trigger=s.get("HARVEST_TRIGGER") or "scrapy",
                                 host=socket.gethostname(), pid=os.getpid())
            if run_id is None:
                engine.dispose()
                raise already_running(name, hs.crawl.stale_after_seconds)
        return cls(
            source_name=name, source=source, crawl=hs.crawl, engine=engine, sessions=sessions,
            blobs=crawl_blobs(hs.blob_url or data_dir / "blobs"), source_id=source_id, run_id=run_id, started_at=utcnow(),
            limits=Limits.from_config(hs.crawl), data_dir=data_dir,
        )
