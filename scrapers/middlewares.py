"""Downloader middleware: AutoThrottle stays on for every real site, but not for this machine.

A crawl of 127.0.0.1 / localhost (the demo site, a local mirror) has no site owner to spare; its
download slot starts with no delay (`DOWNLOAD_SLOTS` in scrapers.settings) and AutoThrottle is told
not to adjust it, so local crawls run at full per-domain concurrency. `HARVEST_THROTTLE_LOOPBACK = True`
throttles them like any other host.
"""
from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class LoopbackUnthrottled:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LoopbackUnthrottled:
        if crawler.settings.getbool("HARVEST_THROTTLE_LOOPBACK"):
            raise NotConfigured("HARVEST_THROTTLE_LOOPBACK is on")
        return cls()

    def process_request(self, request: Request) -> None:
        if urlparse_cached(request).hostname in LOOPBACK:
            request.meta.setdefault("autothrottle_dont_adjust_delay", True)
        return None
