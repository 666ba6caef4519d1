"""The image pipeline: Scrapy's FilesPipeline machinery, with harvest's validation and blob store.

Known image URLs are not downloaded again (or, with `revalidate_images`, fetched with the stored
ETag / Last-Modified so a 304 costs no body). Downloaded bytes are decoded, EXIF-transposed, hashed
and written to the content-addressed blob store in a worker thread.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline
from PIL import Image

try:  # an expected refusal: Scrapy logs these at DEBUG, without a traceback
    from scrapy.pipelines.media import _MediaRequestFiltered as _Refusal
except ImportError:  # pragma: no cover - older/newer Scrapy
    from scrapy.pipelines.media import FileException as _Refusal
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from scrapers.context import CrawlContext, enabled
from scrapers.errors import ImageRejected
from scrapers.loader import harvest_settings
from scrapers.urlpolicy import IMAGE_META, UrlRefused
from scrapers.workers import IngestPool
from storage import collect as q

logger = logging.getLogger(__name__)
TRANSIENT = ("download_error", "robots", "filtered", "noimageai")  # and every refused_* (URL policy)


def remembered(reason: str) -> bool:
    """Rejections skipped next run: bad content (too_large included), 404/410; not transient errors, nor
    robots or URL-policy refusals (they cost no download, and follow the site's robots.txt and the config)."""
    if reason.startswith("http_"):
        return reason in ("http_404", "http_410")
    return reason not in TRANSIENT and not reason.startswith("refused_")


def recorded(reason: str) -> bool:
    """Rejections stored in `image_rejections` (with their reason, never the answer's bytes)."""
    return remembered(reason) or reason == "robots" or reason.startswith("refused_")


def _too_large(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, (DownloadCancelledError, CancelledError)) or "DOWNLOAD_MAXSIZE" in text or "max size" in text


class MediaRefused(_Refusal):
    """An image URL that yields no asset; `reason` is the stats key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class HarvestMediaPipeline(FilesPipeline):
    MEDIA_NAME = "image"
    DEFAULT_FILES_URLS_FIELD = "image_urls"
    DEFAULT_FILES_RESULT_FIELD = "images"
    LOG_FAILED_RESULTS = False
    measure_quality = True  # HARVEST_QUALITY_AT_INGEST

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HarvestMediaPipeline:
        enabled(crawler)
        hs = harvest_settings(crawler.settings)
        blob_dir = crawler.settings.get("HARVEST_DATA_DIR") or hs.data_dir
        pipeline = cls(str(blob_dir), crawler=crawler)
        pipeline.measure_quality = crawler.settings.getbool("HARVEST_QUALITY_AT_INGEST", True)
        if pipeline.measure_quality:  # loaded once, before the fork: each worker loading the measures (and
            import scrapers.quality  # noqa: F401 - OpenCV with them) on its first image cost ~0.15 s of CPU
        pipeline.workers = IngestPool(crawler.settings.getint("HARVEST_IMAGE_WORKERS", min(4, os.cpu_count() or 1)))
        return pipeline

    def open_spider(self) -> None:
        super().open_spider()
        self.ctx = CrawlContext.of(self.crawler)
        with self.ctx.sessions() as session:
            self.known = q.known_images(session, self.ctx.source_id)
            self.rejected = {url: reason for url, reason in q.rejected_urls(session, self.ctx.source_id).items()
                             if remembered(reason)}
        self.revalidate = self.ctx.source.revalidate_images
        # Pillow's own bomb check at our limit (a warning above it, turned into an error in imaging._open)
        Image.MAX_IMAGE_PIXELS = self.ctx.limits.max_pixels

    def close_spider(self) -> None:
        self.workers.close()

    def _stat(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"harvest/{key}", n)

    def get_media_requests(self, item: Any, info) -> list[Request]:
        """One request per image URL; a URL no request can be made of (`http://[::1`, port 99999,
        `javascript:`) is refused alone, with its reason, and taken out of the item's image URLs."""
        adapter = ItemAdapter(item)
        requests, urls, refused = [], [], []
        for url in adapter.get(self.files_urls_field) or []:
            try:
                request = self._request(url)
            except ValueError as exc:
                self._stat("rejected/bad_url")
                refused.append({"url": url, "reason": "bad_url",
                                "detail": f"not a URL an image can be fetched from: {exc}"[:1000]})
                logger.info("image refused (bad_url): %s %s", url, exc)
                continue
            urls.append(url)
            requests.append(request)
        if refused:
            adapter[self.files_urls_field] = urls
            adapter["rejected"] = [*(adapter.get("rejected") or []), *refused]
        return requests

    def _request(self, url: str) -> Request:
        """The image request (Scrapy refuses a malformed URL with ValueError), conditional with `revalidate_images`."""
        headers = {}
        known = self.known.get(url)
        if known and self.revalidate:
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
        return Request(url, callback=NO_CALLBACK, headers=headers,
                       meta={"allow_offsite": True, IMAGE_META: True})

    def _known_info(self, url: str, status: str) -> dict[str, Any]:
        known = self.known[url]
        return {"url": url, "path": known.blob_path, "checksum": known.sha256, "status": status,
                "asset_id": known.asset_id}

    def media_to_download(self, request: Request, info, *, item: Any = None):
        url = request.url
        if not self.revalidate and url in self.known:
            self._stat("images_known")
            return self._known_info(url, "known")
        if not self.revalidate and url in self.rejected:
            self._stat("images_rejected_before")
            return {"url": url, "path": "", "checksum": None, "status": "rejected-before",
                    "reason": self.rejected[url]}
        return None

    async def media_downloaded(self, response: Response, request: Request, info, *, item: Any = None):
        url = request.url
        if response.status == 304 and url in self.known:
            self._stat("images_unchanged")
            return self._known_info(url, "unchanged")
        if response.status != 200:
            raise MediaRefused(f"http_{response.status}", f"{url} answered HTTP {response.status}")
        x_robots = b",".join(response.headers.getlist("X-Robots-Tag")).decode("latin-1").lower()
        if self.ctx.source.respect_noai and ("noai" in x_robots or "noimageai" in x_robots):
            raise MediaRefused("noimageai", f"{url} sends X-Robots-Tag: {x_robots}")
        self.inc_stats("downloaded")
        try:
            facts = await self.workers.run(response.body, self.ctx.limits, self.ctx.blobs.location,
                                          self.measure_quality)
        except ImageRejected as exc:
            raise MediaRefused(exc.reason, exc.detail) from None
        self.ctx.blobs.written()
        if facts.frames > 1:
            self._stat("images_animated")
        if facts.normalized:
            self._stat("images_normalized")
        return {
            "url": url, "path": self.ctx.blobs.relpath(facts.sha256), "checksum": facts.sha256,
            "status": "downloaded", "sha256": facts.sha256, "mime": facts.mime, "width": facts.width,
            "height": facts.height, "bytes": len(facts.data), "phash": facts.phash,
            "source_mode": facts.source_mode, "frames": facts.frames, "quality": facts.quality,
            "http_status": response.status, "etag": _header(response, "ETag"),
            "last_modified": _header(response, "Last-Modified"),
            "fetched_at": datetime.now(timezone.utc),
        }

    def media_failed(self, failure: Failure, request: Request, info):
        exc = failure.value
        if isinstance(exc, MediaRefused):
            raise exc
        if isinstance(exc, UrlRefused):
            raise MediaRefused(f"refused_{exc.reason}", exc.detail)
        if _too_large(exc):
            raise MediaRefused("too_large", f"{request.url} is larger than max_bytes "
                               f"({self.crawler.settings.getint('DOWNLOAD_MAXSIZE')} bytes, after decompression)")
        if isinstance(exc, IgnoreRequest):
            reason = "robots" if "robots" in str(exc).lower() else "filtered"
            raise MediaRefused(reason, str(exc))
        logger.warning("image download failed: %s (%s: %s)", request.url, type(exc).__name__, exc)
        raise MediaRefused("download_error", f"{type(exc).__name__}: {exc}")

    def item_completed(self, results, item: Any, info) -> Any:
        adapter = ItemAdapter(item)
        urls = adapter.get(self.files_urls_field) or []
        images, rejected = [], []
        for url, (ok, value) in zip(urls, results):
            if ok and value.get("status") != "rejected-before":
                images.append(value)
            elif not ok:
                exc = value.value
                reason = getattr(exc, "reason", "download_error")
                detail = getattr(exc, "detail", str(exc))
                self._stat(f"rejected/{reason}")
                logger.info("image refused (%s): %s %s", reason, url, detail)
                rejected.append({"url": url, "reason": reason, "detail": detail[:1000]})
        adapter["images"] = images
        adapter["rejected"] = [*(adapter.get("rejected") or []), *rejected]
        return item
