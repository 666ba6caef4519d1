"""The crawl-run extension: heartbeat while running, and at the end the run's status and stats.

A complete run (finish reason `finished`) also marks the source's items it did not see as gone.
"""
from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet.task import LoopingCall

from scrapers.context import CrawlContext, enabled
from storage import collect as q
from storage.base import utcnow

logger = logging.getLogger(__name__)


def run_stats(stats: dict[str, Any], gone: int = 0) -> dict[str, Any]:
    """The summary kept in `crawl_runs.stats`, from Scrapy's stats collector values."""
    get = lambda key: int(stats.get(f"harvest/{key}", 0))  # noqa: E731
    dropped: dict[str, int] = {}
    for key, value in stats.items():
        for prefix in ("harvest/dropped/", "harvest/rejected/"):
            if key.startswith(prefix):
                reason = key[len(prefix):]
                dropped[reason] = dropped.get(reason, 0) + int(value)
    errors = int(stats.get("log_count/ERROR", 0))
    # pages answered with an HTTP error (404, 500 after retries, ...) that Scrapy's HttpErrorMiddleware ignored
    failed: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("httperror/response_ignored_status_count/"):
            failed[key.rsplit("/", 1)[1]] = int(value)
    return {
        "pages": get("pages"), "items": get("items_stored"), "items_new": get("items_new"),
        "items_unchanged": get("items_unchanged"), "items_gone": gone,
        "images_stored": get("images_stored"), "images_known": get("images_known") + get("images_unchanged"),
        "images_downloaded": int(stats.get("file_status_count/downloaded", 0)),
        "duplicates": get("duplicates"), "duplicate_urls": get("duplicate_urls"),
        "near_duplicates": get("near_duplicates"), "dropped": dict(sorted(dropped.items())),
        "robots_forbidden": int(stats.get("robotstxt/forbidden", 0)), "errors": errors,
        "pages_failed": dict(sorted(failed.items())),
    }


class CrawlRunExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.beat: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunExtension:
        enabled(crawler)
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.ctx = CrawlContext.of(self.crawler)
        self.beat = LoopingCall(self._heartbeat)
        self.beat.start(self.ctx.crawl.heartbeat_seconds, now=True)

    def _heartbeat(self) -> None:
        try:
            q.heartbeat(self.ctx.sessions, self.ctx.run_id)
        except Exception:  # noqa: BLE001 - a missed beat must not kill the crawl
            logger.exception("crawl run heartbeat failed")

    def spider_closed(self, spider, reason: str) -> None:
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        ctx = getattr(self, "ctx", None)
        if ctx is None:
            return
        stats = self.crawler.stats.get_stats()
        complete = reason == "finished" and ctx.extra.get("flushed", False)
        gone = 0
        if complete:
            with ctx.sessions.begin() as session:
                gone = q.mark_gone(session, ctx.source_id, ctx.run_id, utcnow())
        summary = run_stats(stats, gone)
        summary["finish_reason"] = reason
        status = "succeeded" if complete else ("cancelled" if reason == "shutdown" else "failed")
        error = None if complete else f"crawl ended with reason {reason!r}"
        q.finish_run(ctx.sessions, ctx.run_id, status=status, stats=summary, error=error)
        logger.info("crawl run %s of %s: %s %s", ctx.run_id, ctx.source_name, status, summary)
        ctx.engine.dispose()
