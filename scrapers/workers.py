"""Ingest CPU work (decode, hash, write the blob) in worker processes, off the reactor thread and its GIL.

The pool forks when the media pipeline is built, before the crawl opens sockets or database connections;
workers ignore SIGINT so Scrapy's graceful Ctrl-C still finishes the images in flight, and die with the
crawl: on Linux each asks the kernel for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG), so a crawl
killed with SIGKILL leaves no orphan; elsewhere a worker that finds itself re-parented exits at its next task.
`HARVEST_IMAGE_WORKERS = 0` uses the reactor's thread pool instead.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from scrapers.blobs import CrawlBlobStore, CrawlS3BlobStore, crawl_blobs
from scrapers.imaging import ImageFacts, Limits, inspect_image

_STORES: dict[str, CrawlBlobStore | CrawlS3BlobStore] = {}


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Worker initializer: ignore Ctrl-C (the crawl handles it) and never outlive the crawl process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the crawl died before the request above took effect
        os._exit(1)


def _ready() -> bool:
    return True


def ingest(body: bytes, limits: Limits, blob_root: str, quality: bool = False,
           parent: int | None = None) -> ImageFacts:
    """Validate, normalise and store one image (and measure its quality when asked); the returned
    facts omit bytes the caller already has."""
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # orphaned (no parent-death signal on this platform): stop, the crawl is gone
    facts = inspect_image(body, limits, quality=quality)
    store = _STORES.get(blob_root) or _STORES.setdefault(blob_root, crawl_blobs(blob_root))
    store.put_hashed(facts.data, facts.sha256)
    return facts if facts.rewritten else replace(facts, data=b"")


class IngestPool:
    def __init__(self, workers: int) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.parent = os.getpid()
        if workers > 0:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self.pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent,
                                            initargs=(os.getpid(),))
            self.pool.submit(_ready).result()  # fork every worker now

    async def run(self, body: bytes, limits: Limits, blob_root: str, quality: bool = False) -> ImageFacts:
        if self.pool is None:
            facts = await maybe_deferred_to_future(deferToThread(ingest, body, limits, blob_root, quality))
        else:
            future = self.pool.submit(ingest, body, limits, blob_root, quality, self.parent)
            if is_asyncio_available():
                facts = await asyncio.wrap_future(future)
            else:
                facts = await maybe_deferred_to_future(deferToThread(future.result))
        return facts if facts.data else replace(facts, data=body)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
