"""Crawl progress for whoever started the crawl: a Scrapy extension that hands the counters (pages,
items, images) to a callable given in the `HARVEST_PROGRESS` setting, every `HARVEST_PROGRESS_INTERVAL`
seconds and once at the end. Without that setting the extension is off (`NotConfigured`)."""
from __future__ import annotations

from typing import Any, Callable

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

ProgressCallback = Callable[[dict[str, int]], None]


def counters(stats: dict[str, Any]) -> dict[str, int]:
    """Pages fetched (responses, for a spider that does not count its pages), items stored and images stored or known, from Scrapy's stats values."""
    get = lambda key: int(stats.get(f"harvest/{key}", 0))  # noqa: E731
    pages = get("pages") or int(stats.get("response_received_count", 0))  # a spider that does not count pages
    return {"pages": pages, "items": get("items_stored"),
            "images": get("images_stored") + get("images_known") + get("images_unchanged")}


class ProgressExtension:
    def __init__(self, crawler: Crawler, callback: ProgressCallback, interval: float) -> None:
        self.crawler = crawler
        self.callback = callback
        self.loop = LoopingCall(self.report)
        self.interval = interval

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        callback = crawler.settings.get("HARVEST_PROGRESS")
        if not callable(callback):
            raise NotConfigured("no HARVEST_PROGRESS callback")
        ext = cls(crawler, callback, crawler.settings.getfloat("HARVEST_PROGRESS_INTERVAL", 0.25))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def report(self) -> None:
        self.callback(counters(self.crawler.stats.get_stats()))

    def spider_opened(self, spider) -> None:
        self.loop.start(self.interval, now=True)

    def spider_closed(self, spider, reason: str) -> None:
        if self.loop.running:
            self.loop.stop()
        self.report()
