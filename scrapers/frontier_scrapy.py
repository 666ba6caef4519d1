"""Scrapy components of the shared frontier (scrapers.frontier): scheduler, seen-set, tracker, extension.

They are on only in the workers of a shared run (`HARVEST_FRONTIER_PREFIX` set by `harvest crawl NAME
--workers N`); otherwise each raises NotConfigured, or is simply not the SCHEDULER.

- `FrontierScheduler`: scrapy-redis's scheduler on the run's keys, always persistent (SCHEDULER_PERSIST
  off would let the first worker to finish delete the queue the others still use), popping through the
  atomic pop-and-record-in-flight script.
- `SeenSet`: the compact, bounded seen-set (dupefilter).
- `FrontierTracker` (spider middleware) + `FrontierExtension`: count each request's items; a request is
  forgotten (no longer re-queued on this worker's death) once its callback finished and every item it
  produced went through the pipelines and its batch committed. On idle the extension flushes the batch,
  re-queues the requests of dead workers and ends the run once the frontier is finished (or closes with
  the run's limit once one is reached, scrapers.run_limits); it also beats.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from scrapy.http import Request
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from scrapers.frontier import Frontier, connect

logger = logging.getLogger(__name__)
META_KEY = "harvest_frontier_key"


def frontier_of(crawler: Crawler) -> Frontier:
    """The crawler's Frontier (one per crawler), or NotConfigured outside a shared run."""
    existing = getattr(crawler, "_harvest_frontier", None)
    if existing is not None:
        return existing
    s = crawler.settings
    prefix = s.get("HARVEST_FRONTIER_PREFIX")
    if not prefix:
        raise NotConfigured("not a shared-frontier crawl")
    frontier = Frontier(connect(s.get("HARVEST_FRONTIER_REDIS")), prefix, s.get("HARVEST_WORKER") or "w0",
                        buckets=s.getint("HARVEST_FRONTIER_BUCKETS", 40_000),
                        dead_after=s.getfloat("HARVEST_WORKER_DEAD_AFTER", 30.0))
    crawler._harvest_frontier = frontier
    return frontier


class SeenSet:
    """Dupefilter on the run's bounded seen-set (see scrapers.frontier)."""

    def __init__(self, frontier: Frontier, crawler: Crawler) -> None:
        self.frontier, self.crawler = frontier, crawler

    def request_seen(self, request: Request) -> bool:
        return self.frontier.seen(self.crawler.request_fingerprinter.fingerprint(request))

    def log(self, request: Request, spider) -> None:
        self.crawler.stats.inc_value("dupefilter/filtered")

    def clear(self) -> None:  # never: the seen-set belongs to the run, not to one worker
        pass

    def close(self, reason: str = "") -> None:
        pass


class FrontierScheduler(Scheduler):
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        frontier = frontier_of(crawler)
        scheduler = cls(server=frontier.redis, persist=True, queue_key=frontier.key("queue"),
                        dupefilter=SeenSet(frontier, crawler))
        scheduler.stats, scheduler.frontier, scheduler.limited = crawler.stats, frontier, False
        return scheduler

    def open(self, spider) -> None:  # scrapy-redis's, logging through the module logger
        from scrapy_redis.queue import PriorityQueue

        self.spider = spider
        self.queue = PriorityQueue(server=self.server, spider=spider, key=self.queue_key, serializer=self.serializer)
        if queued := len(self.queue):
            logger.info("joining the shared frontier with %d request(s) queued", queued)

    def close(self, reason: str) -> None:  # persistent: the other workers still use the queue
        pass

    def flush(self) -> None:
        pass

    def enqueue_request(self, request: Request) -> bool:  # scrapy-redis's, without its deprecated stats call
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def has_pending_requests(self) -> bool:
        """Requests this worker may still take: none once the run reached a limit, whatever is queued
        (so the engine goes idle and the worker closes with the limit's reason)."""
        return not self.limited and len(self.queue) > 0

    def next_request(self) -> Request | None:
        got = self.frontier.pop()
        if got is None:
            self.limited = self.limited or self.frontier.limit() is not None
            return None
        key, data = got
        request = self.queue._decode_request(data)
        request.meta[META_KEY] = key
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class Tracker:
    """Which popped requests are fully stored (see the module docstring)."""

    def __init__(self, frontier: Frontier) -> None:
        self.frontier = frontier
        self.pending: Counter[str] = Counter()
        self.ready: list[str] = []

    def item(self, key: str | None) -> None:
        if key:
            self.pending[key] += 1

    def item_done(self, key: str | None) -> None:
        if key and key in self.pending:
            self.pending[key] -= 1
            if self.pending[key] <= 0:
                del self.pending[key]
                self.ready.append(key)

    def exhausted(self, key: str | None) -> None:
        """The request's callback yielded everything; its items may still be in the pipelines."""
        if key:
            self.pending[key] -= 1  # balances the +1 taken when the output started
            if self.pending[key] <= 0:
                del self.pending[key]
                self.ready.append(key)

    def take_ready(self) -> list[str]:
        ready, self.ready = self.ready, []
        return ready


def _key(response) -> str | None:
    request = getattr(response, "request", None)
    return request.meta.get(META_KEY) if request is not None else None


class FrontierTracker:
    """Spider middleware: counts the items each frontier request yields."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierTracker:
        return cls(FrontierExtension.tracker_of(crawler))

    def _is_item(self, obj: Any) -> bool:
        return not isinstance(obj, Request)

    def process_spider_output(self, response, result, spider=None):
        key = _key(response)
        self.tracker.item(key)
        try:
            for obj in result:
                if self._is_item(obj):
                    self.tracker.item(key)
                yield obj
        finally:
            self.tracker.exhausted(key)

    async def process_spider_output_async(self, response, result, spider=None):
        key = _key(response)
        self.tracker.item(key)
        try:
            async for obj in result:
                if self._is_item(obj):
                    self.tracker.item(key)
                yield obj
        finally:
            self.tracker.exhausted(key)


class FrontierExtension:
    """Register, beat, flush on idle, reap dead workers, end the run when the shared frontier is done."""

    def __init__(self, crawler: Crawler, frontier: Frontier) -> None:
        self.crawler, self.frontier = crawler, frontier
        self.tracker = Tracker(frontier)
        self.beat: LoopingCall | None = None
        self.poke: LoopingCall | None = None
        self.interval = crawler.settings.getfloat("HARVEST_WORKER_BEAT", 2.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierExtension:
        ext = getattr(crawler, "_harvest_frontier_ext", None)
        if ext is None:
            ext = crawler._harvest_frontier_ext = cls(crawler, frontier_of(crawler))
            for handler, signal in ((ext.opened, signals.spider_opened), (ext.idle, signals.spider_idle),
                                    (ext.closed, signals.spider_closed), (ext.done, signals.item_scraped),
                                    (ext.done, signals.item_dropped), (ext.done, signals.item_error)):
                crawler.signals.connect(handler, signal=signal)
        return ext

    @classmethod
    def tracker_of(cls, crawler: Crawler) -> Tracker:
        return cls.from_crawler(crawler).tracker

    def opened(self, spider) -> None:  # registered already, before the crawl started (scrapers.shared_run)
        self.beat = LoopingCall(self._beat)
        self.beat.start(self.interval, now=True)
        self.poke = LoopingCall(self._poke)  # look at the shared queue more often than the engine's 5 s
        self.poke.start(0.5, now=False)

    def done(self, item=None, response=None, **kwargs) -> None:
        self.tracker.item_done(_key(response))

    def _beat(self) -> None:
        try:
            alive = self.frontier.beat(self.crawler.stats.get_stats())
        except Exception:  # noqa: BLE001 - a missed beat must not kill the crawl
            logger.exception("worker heartbeat to Redis failed")
            return
        if not alive:
            logger.error("worker %s was declared dead by the others (missed heartbeats); its requests went back "
                         "to the queue; closing", self.frontier.worker)
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(self.crawler.engine.close_spider_async(reason="worker_declared_dead"))

    def _poke(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and getattr(slot, "nextcall", None) is not None:
            slot.nextcall.schedule()

    def idle(self, spider=None) -> None:
        flush = self.crawler.__dict__.get("_harvest_flush_now")
        if flush is not None:
            flush()
        for worker in self.frontier.reap():
            logger.warning("worker %s stopped beating: its in-flight requests are back on the queue", worker)
            self.crawler.stats.inc_value("harvest/workers_died")
        if (limit := self.frontier.limit()) is not None:  # the run reached max_pages or max_seconds
            raise CloseSpider(limit)
        if self.frontier.idle_and_done():
            return
        raise DontCloseSpider

    def closed(self, spider, reason: str) -> None:
        for call in (self.beat, self.poke):
            if call is not None and call.running:
                call.stop()
