"""Pages refused for their size are remembered, so the next run of the source does not fetch them again.

A page whose body (or decompressed body: a gzip bomb) exceeds `DOWNLOAD_MAXSIZE` (= `[crawl].max_bytes`)
is kept in `image_rejections` with reason `page_too_large` (the table holds every refused URL of a source;
images have their own reasons) and skipped by later runs. `SizedHttpCompression` replaces Scrapy's
HttpCompressionMiddleware only to notice its size refusal; the limit and the inflating stay Scrapy's.
"""
from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from scrapers.context import CrawlContext
from scrapers.urlpolicy import IMAGE_META
from storage import collect as q
from storage.base import utcnow
from storage.engine import session_scope

logger = logging.getLogger(__name__)
REASON = "page_too_large"
SKIPPED = f"harvest/pages_refused_before/{REASON}"


class RememberedRefusals:
    """Downloader middleware: skips pages refused for size before, records new ones at close."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.before: set[str] = set()
        self.new: dict[str, str] = {}
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RememberedRefusals:
        if not crawler.settings.getbool("HARVEST_STORE", True):
            raise NotConfigured("HARVEST_STORE is off")
        middleware = cls(crawler)
        crawler.harvest_refusals = middleware  # type: ignore[attr-defined] - found by SizedHttpCompression
        return middleware

    def spider_opened(self, spider: Any) -> None:
        ctx = CrawlContext.of(self.crawler)
        with ctx.sessions() as session:
            self.before = {u for u, r in q.rejected_urls(session, ctx.source_id).items() if r == REASON}

    def refused(self, request: Request, detail: str) -> None:
        if not request.meta.get(IMAGE_META):
            self.new[request.url] = detail[:1000]

    def process_request(self, request: Request) -> None:
        if request.url in self.before and not request.meta.get(IMAGE_META):
            self.crawler.stats.inc_value(SKIPPED)
            raise IgnoreRequest(f"{request.url} was refused before: larger than max_bytes")
        return None

    def process_exception(self, request: Request, exception: BaseException) -> None:
        if isinstance(exception, DownloadCancelledError):
            self.refused(request, f"the body exceeds DOWNLOAD_MAXSIZE ({exception})")
        return None

    def spider_closed(self, spider: Any) -> None:
        if not self.new:
            return
        ctx = CrawlContext.of(self.crawler)
        now = utcnow()
        rows = [{"source_id": ctx.source_id, "url": url, "reason": REASON, "detail": detail, "first_seen_at": now,
                 "last_seen_at": now, "crawl_run_id": ctx.run_id} for url, detail in sorted(self.new.items())]
        with session_scope(ctx.sessions) as session:
            q.upsert_rejections(session, rows)
        logger.info("%d page(s) larger than max_bytes remembered; the next run skips them", len(rows))


class SizedHttpCompression(HttpCompressionMiddleware):
    """Scrapy's HttpCompressionMiddleware, telling RememberedRefusals when it refuses a body for its size."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SizedHttpCompression:
        middleware = super().from_crawler(crawler)
        middleware.harvest_crawler = crawler
        return middleware

    def process_response(self, request: Request, response: Response) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            refusals = getattr(self.harvest_crawler, "harvest_refusals", None)
            if refusals is not None and "DOWNLOAD_MAXSIZE" in str(exc):
                refusals.refused(request, str(exc))
            raise
