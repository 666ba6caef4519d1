"""Ingest CPU work (decode, hash, write the blob) in worker processes, off the reactor thread and its GIL.

The pool forks when the media pipeline is built, before the crawl opens sockets or database connections;
workers ignore SIGINT so Scrapy's graceful Ctrl-C still finishes the images in flight.
`HARVEST_IMAGE_WORKERS = 0` uses the reactor's thread pool instead.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from scrapers.blobs import CrawlBlobStore
from scrapers.imaging import ImageFacts, Limits, inspect_image

_STORES: dict[str, CrawlBlobStore] = {}


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ready() -> bool:
    return True


def ingest(body: bytes, limits: Limits, blob_root: str, quality: bool = False) -> ImageFacts:
    """Validate, normalise and store one image (and measure its quality when asked); the returned
    facts omit bytes the caller already has."""
    facts = inspect_image(body, limits, quality=quality)
    store = _STORES.get(blob_root) or _STORES.setdefault(blob_root, CrawlBlobStore(blob_root))
    store.put_hashed(facts.data, facts.sha256)
    return facts if facts.transposed else replace(facts, data=b"")


class IngestPool:
    def __init__(self, workers: int) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if workers > 0:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self.pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_sigint)
            self.pool.submit(_ready).result()  # fork every worker now

    async def run(self, body: bytes, limits: Limits, blob_root: str, quality: bool = False) -> ImageFacts:
        if self.pool is None:
            facts = await maybe_deferred_to_future(deferToThread(ingest, body, limits, blob_root, quality))
        else:
            future = self.pool.submit(ingest, body, limits, blob_root, quality)
            if is_asyncio_available():
                facts = await asyncio.wrap_future(future)
            else:
                facts = await maybe_deferred_to_future(deferToThread(future.result))
        return facts if facts.data else replace(facts, data=body)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
