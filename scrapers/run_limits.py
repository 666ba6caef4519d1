"""Per-run crawl limits in a shared run: `max_pages` and `max_seconds` hold for the run, not per worker.

In a single-process crawl Scrapy's CloseSpider extension ends the crawl at CLOSESPIDER_PAGECOUNT responses
or after CLOSESPIDER_TIMEOUT seconds. In the workers of a shared run (scrapers.shared_run) `RunLimits`
takes its place: the same settings and close reasons, but every worker counts its responses in the run's
one counter in Redis and closes at the run's one deadline (set by the first worker to open, on Redis's
clock). The first limit reached is recorded for the run; from then on no worker pops another request from
the shared queue, a worker that is busy finishes what it has in flight and closes, and an idle one closes
at its next idle tick, all with the limit's reason, so the run ends as succeeded with the limit named.

The bound: a limit stops every worker from taking new requests at once (atomically, in the pop script);
what each worker already took still completes, as in a single-process crawl. A worker has at most
CONCURRENT_REQUESTS requests in its downloader, so a run of N workers fetches at most
max_pages + N * CONCURRENT_REQUESTS pages from the shared queue (the responses counted include images
and robots.txt, as Scrapy's do; the images of the items on the in-flight pages are fetched as well).
Scrapy's other CLOSESPIDER_* limits (item count, error count, ...) stay per worker.
"""
from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.extensions.closespider import CloseSpider
from scrapy.http import Response
from scrapy.utils.asyncio import call_later

from scrapers.frontier_scrapy import frontier_of

logger = logging.getLogger(__name__)

PAGECOUNT, TIMEOUT = "closespider_pagecount", "closespider_timeout"


class RunLimits(CloseSpider):
    """Scrapy's CloseSpider with CLOSESPIDER_PAGECOUNT and CLOSESPIDER_TIMEOUT counted for the whole run."""

    def __init__(self, crawler: Crawler) -> None:
        self.frontier = frontier_of(crawler)  # NotConfigured outside a shared run
        self.closing = False
        super().__init__(crawler)

    def page_count(self, response: Response, request: Request, spider: Spider) -> None:
        self.counter["pagecount_since_last_item"] += 1
        limit = self.close_on["pagecount"]
        if limit and self.frontier.page(limit, PAGECOUNT) >= limit:
            self._close_spider(PAGECOUNT)
            return
        if self.close_on["pagecount_no_item"] and (
                self.counter["pagecount_since_last_item"] >= self.close_on["pagecount_no_item"]):
            self._close_spider("closespider_pagecount_no_item")

    def spider_opened(self, spider: Spider) -> None:
        left = self.frontier.seconds_left(self.close_on["timeout"])
        logger.info("the shared run's max_seconds deadline is %.1f s away", left)
        self.task = call_later(max(0.0, left), self._timeout)

    def _timeout(self) -> None:
        self.frontier.reach(TIMEOUT)
        self._close_spider(TIMEOUT)

    def _close_spider(self, reason: str) -> None:
        if not self.closing:
            self.closing = True
            logger.info("the shared run reached its limit (%s): this worker takes no new request", reason)
            super()._close_spider(reason)


def use_run_limits(settings) -> None:
    """Make the Scrapy `settings` of a worker of a shared run use RunLimits in CloseSpider's place."""
    settings.replace_in_component_priority_dict("EXTENSIONS_BASE", CloseSpider, RunLimits)


__all__ = ["RunLimits", "use_run_limits"]
