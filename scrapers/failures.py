"""Which pages a crawl failed to get, by URL: HTTP error answers and downloads that failed for good.

Images are not counted here: their failures are the media pipeline's rejections (the media pipeline's `IMAGE_META` mark).

A downloader middleware placed before RetryMiddleware (so it sees only what retries gave up on) keeps
the first `HARVEST_FAILED_URLS_KEPT` failures in the stats (`harvest/failed_urls`, "URL: reason") and
counts them all (`harvest/failed/<reason>`); the run records both and `harvest runs` lists them.
"""
from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request, Response

from scrapers.urlpolicy import IMAGE_META

KEPT = 50


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}"[:300] if text else name


def _robots(request: Request) -> bool:
    return request.url.endswith("/robots.txt")  # a missing robots.txt is a site's answer, not a lost page


class FailureRecorder:
    """Records final HTTP errors (status >= 400) and download exceptions of page requests."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.kept = crawler.settings.getint("HARVEST_FAILED_URLS_KEPT", KEPT)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailureRecorder:
        return cls(crawler)

    def _record(self, request: Request, reason: str, key: str) -> None:
        self.stats.inc_value(f"harvest/failed/{key}")
        urls: list[str] = self.stats.get_value("harvest/failed_urls") or []
        if len(urls) < self.kept:
            urls.append(f"{request.url}: {reason}")
            self.stats.set_value("harvest/failed_urls", urls)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status >= 400 and not request.meta.get(IMAGE_META) and not _robots(request):
            self._record(request, f"HTTP {response.status}", f"http_{response.status}")
        return response

    def process_exception(self, request: Request, exception: BaseException) -> Any:
        from scrapy.exceptions import IgnoreRequest

        if not isinstance(exception, IgnoreRequest) and not request.meta.get(IMAGE_META) and not _robots(request):
            self._record(request, _reason(exception), type(exception).__name__)
        return None
