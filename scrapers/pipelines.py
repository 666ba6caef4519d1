"""Item pipelines around the media pipeline: policy checks first, batched persistence last.

`PolicyPipeline` records the robots decision and drops items a site opted out of (noai);
`StorePipeline` keeps an in-memory batch and writes it (in a worker thread, one batch at a time, one
transaction each) every `[crawl].batch_size` items and at close:
assets once per sha256, near-duplicates clustered against everything stored, items and links upserted.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from sqlalchemy import text
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.log import failure_to_exc_info
from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThread

from scrapers.context import CrawlContext, enabled
from scrapers.media import recorded
from scrapers.neardup import NearDupIndex
from scrapers.neardup_shared import SharedNearDupIndex
from storage import collect as q
from storage.base import utcnow
from storage.engine import session_scope
from storage.quality import insert_quality

logger = logging.getLogger(__name__)


NEAR_DUP_LOCK = 0x6861727665737401  # PostgreSQL advisory lock held while a batch adds assets


def lock_near_dups(session) -> None:
    """Serialise the asset writes of concurrent workers (until this transaction ends), so that two workers
    never both store one of a near-duplicate pair without seeing the other. SQLite takes its write lock at
    the first insert instead."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": NEAR_DUP_LOCK})


class PolicyPipeline:
    """Sets `robots` from ROBOTSTXT_OBEY; drops pages without a URL and, for opted-in sources, noai pages."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.obey = crawler.settings.getbool("ROBOTSTXT_OBEY")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolicyPipeline:
        return cls(enabled(crawler))

    def open_spider(self) -> None:
        self.ctx = CrawlContext.of(self.crawler)

    def _drop(self, reason: str, detail: str) -> DropItem:
        self.crawler.stats.inc_value(f"harvest/dropped/{reason}")
        return DropItem(f"{reason}: {detail}")

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if not adapter.get("url"):
            raise self._drop("no-url", f"the spider yielded an item without a url: {dict(adapter)!r:.200}")
        adapter["robots"] = "allowed" if self.obey else "not-checked"
        tags = " ".join(adapter.get("x_robots") or [])
        if self.ctx.source.respect_noai:
            if "noai" in tags.replace("noimageai", ""):
                raise self._drop("noai", f"{adapter['url']} sends X-Robots-Tag: {tags}")
            if "noimageai" in tags and adapter.get("image_urls"):
                self.crawler.stats.inc_value("harvest/dropped/noimageai", len(adapter["image_urls"]))
                adapter["image_urls"] = []
        return item


@dataclass
class _Staged:
    """What one batch learns while its transaction is open; merged into the pipeline after the commit."""

    pairs: set[tuple[str, str]] = field(default_factory=set)
    assets: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    items_seen: set[str] = field(default_factory=set)
    url_items: dict[str, int] = field(default_factory=dict)
    clusters: dict[int, int] = field(default_factory=dict)
    index: NearDupIndex = field(default_factory=lambda: NearDupIndex(16))
    hashes: list[tuple[int, int]] = field(default_factory=list)  # (pHash, asset id) added to `index`
    stats: Counter[str] = field(default_factory=Counter)


class StorePipeline:
    """Persists items, assets, links and rejections in batches; clusters near-duplicates."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch: list[dict[str, Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(enabled(crawler))

    def open_spider(self) -> None:
        self.ctx = CrawlContext.of(self.crawler)
        self.threshold = self.ctx.crawl.near_dup_threshold
        with self.ctx.sessions() as session:
            self.items = q.item_ids(session, self.ctx.source_id)
            # persisted in the data dir, caught up from the database (other workers' hashes) before each batch
            self.index = SharedNearDupIndex.open(session, self.ctx.data_dir,
                                                 self.ctx.engine.url.render_as_string(hide_password=False))
        self.clusters: dict[int, int] = {}  # asset id -> cluster, read from the database when first needed
        self.assets: dict[str, int] = {}  # sha256 -> id, for assets met in this run
        self.pairs: set[tuple[str, str]] = set()  # (sha256, url) downloaded in this run
        self.url_items: dict[str, int] = {}  # image url -> first item linking it in this run
        self.items_seen: set[str] = set()
        self.writes: Deferred = succeed(None)  # the chain of batch writes
        self.crawler._harvest_flush_now = self._schedule_flush  # a shared-frontier worker flushes when idle
        ext = getattr(self.crawler, "_harvest_frontier_ext", None)
        self.tracker = ext.tracker if ext is not None else None

    def _stat(self, key: str, n: int = 1) -> None:
        if n:
            self.crawler.stats.inc_value(f"harvest/{key}", n)

    def process_item(self, item: Any) -> Any:
        # a shallow copy: the item's values are plain lists and dicts already (ItemAdapter.asdict's deep
        # conversion was the largest per-image cost of the crawler process, ~2.5 ms an item); a dict or a
        # scrapy.Item is copied as the mapping it is, other item types through ItemAdapter
        self.batch.append(dict(item) if isinstance(item, Mapping) else dict(ItemAdapter(item).items()))
        if len(self.batch) >= self.ctx.crawl.batch_size:
            self._schedule_flush()
        return item

    def _schedule_flush(self) -> None:
        """Hand the batch to a worker thread; flushes run one after another, never concurrently."""
        batch, self.batch = self.batch, []
        done = self.tracker.take_ready() if self.tracker is not None else []
        if batch:
            self.writes.addCallback(lambda _: deferToThread(self.flush, batch))
        if done:  # their items are in this batch or an earlier one: forgotten once those committed
            self.writes.addCallback(lambda _: deferToThread(self.tracker.frontier.forget, done))
        if batch or done:
            self.writes.addErrback(self._flush_failed)

    def _flush_failed(self, failure) -> None:
        self.ctx.extra["flush_error"] = str(failure.value)
        logger.error("storing a batch failed: %s", failure.getErrorMessage(), exc_info=failure_to_exc_info(failure))

    async def close_spider(self) -> None:
        self._schedule_flush()
        await maybe_deferred_to_future(self.writes)
        self.ctx.extra["flushed"] = "flush_error" not in self.ctx.extra
        try:
            await maybe_deferred_to_future(deferToThread(self.index.save))
        except OSError as exc:  # the index is a cache of the database: the next crawl rebuilds it
            logger.warning("could not save the near-duplicate index: %s", exc)

    def flush(self, batch: list[dict[str, Any]]) -> None:
        """Write one batch in one transaction (runs in a worker thread). What it learns (ids, clusters,
        pairs, stats) is merged into the pipeline only after the commit: a rolled-back batch leaves no trace."""
        self.ctx.blobs.sync()  # the blobs this batch references are durable before its rows commit
        staged = _Staged()
        unchanged = [item["page_url"] for item in batch if item.get("unchanged")]
        batch = [item for item in batch if not item.get("unchanged")]
        with session_scope(self.ctx.sessions) as session:
            touched = q.touch_pages(session, self.ctx.source_id, unchanged, self.ctx.run_id, utcnow())
            staged.stats["items_unchanged"] += touched
            staged.stats["items_stored"] += touched
            lock_near_dups(session)  # then every asset committed by any worker is seen by the refresh
            self._stat("near_dup_index_caught_up", self.index.refresh(session))
            asset_ids = self._write_assets(session, batch, staged)
            item_ids = self._write_items(session, batch, staged)
            self._write_links(session, batch, item_ids, asset_ids, staged)
            self._write_rejections(session, batch)
        self._merge(staged)
        logger.debug("stored a batch of %d items", len(batch))

    def _merge(self, staged: _Staged) -> None:
        self.pairs |= staged.pairs
        self.assets.update(staged.assets)
        self.items.update(staged.items)
        self.items_seen |= staged.items_seen
        self.url_items.update(staged.url_items)
        self.clusters.update(staged.clusters)
        if staged.hashes:
            self.index.add_many([h for h, _ in staged.hashes], [i for _, i in staged.hashes])
        for key, n in staged.stats.items():
            self._stat(key, n)

    def _nearest(self, phash: int, staged: _Staged) -> tuple[int, int] | None:
        """The nearest stored or batch asset within the threshold, as (asset id, distance)."""
        hits = [hit for hit in (self.index.nearest(phash, self.threshold), staged.index.nearest(phash, self.threshold))
                if hit is not None]
        return min(hits, key=lambda hit: (hit[1], hit[0])) if hits else None

    def _write_assets(self, session, batch: list[dict[str, Any]], staged: _Staged) -> dict[str, int]:
        rows: dict[str, dict[str, Any]] = {}
        quality: dict[str, dict[str, float]] = {}
        for item in batch:
            for image in item.get("images") or []:
                sha = image.get("sha256")
                pair = (sha, image["url"])
                if sha is None or pair in self.pairs or pair in staged.pairs:  # known, or the same URL again
                    continue
                staged.pairs.add(pair)
                if sha in self.assets or sha in rows:  # the same bytes under another URL
                    staged.stats["duplicates"] += 1
                    continue
                rows[sha] = {
                    "sha256": sha, "mime": image["mime"], "width": image["width"], "height": image["height"],
                    "bytes": image["bytes"], "phash": image["phash"], "blob_path": image["path"],
                    "source_mode": image.get("source_mode"), "frames": image.get("frames") or 1,
                }
                if image.get("quality"):
                    quality[sha] = image["quality"]
        if not rows:
            return {}
        ids, new = q.insert_assets(session, list(rows.values()))
        insert_quality(session, [{"asset_id": ids[sha], **measures} for sha in new
                                 if (measures := quality.get(sha)) is not None])
        staged.stats["duplicates"] += len(rows) - len(new)
        staged.stats["images_stored"] += len(new)
        assignments: dict[int, int] = {}
        for sha, row in rows.items():
            asset_id = ids[sha]
            if sha in new and row["phash"] is not None:
                hit = self._nearest(row["phash"], staged)
                if hit is not None:
                    other = hit[0]
                    cluster = staged.clusters.get(other, self.clusters.get(other))
                    if cluster is None:  # perhaps clustered since, by another worker
                        cluster = q.cluster_of(session, other)
                        if cluster is not None:
                            staged.clusters[other] = cluster
                    if cluster is None:
                        cluster = q.new_cluster(session, other)
                        staged.clusters[other] = assignments[other] = cluster
                    staged.clusters[asset_id] = assignments[asset_id] = cluster
                    staged.stats["near_duplicates"] += 1
                staged.index.add(row["phash"], asset_id)
                staged.hashes.append((row["phash"], asset_id))
        q.set_clusters(session, assignments)
        staged.assets.update(ids)
        return ids

    def _write_items(self, session, batch: list[dict[str, Any]], staged: _Staged) -> dict[str, int]:
        now = utcnow()
        rows = {}
        for item in batch:
            url = item["url"]
            if url in self.items_seen or url in staged.items_seen:
                continue
            staged.items_seen.add(url)
            staged.stats["items_unchanged" if url in self.items else "items_new"] += 1
            rows[url] = {
                "source_id": self.ctx.source_id, "canonical_url": url, "page_url": item.get("page_url") or url,
                "referrer": item.get("referrer"), "fetched_at": item.get("fetched_at") or now,
                "first_seen_at": now, "last_seen_at": now, "gone_at": None,
                "http_status": item.get("http_status"), "etag": item.get("etag"),
                "last_modified": item.get("last_modified"), "robots_decision": item.get("robots"),
                "licence": item.get("licence"), "attribution": item.get("attribution"),
                "title": item.get("title"), "text": item.get("text"), "fields": item.get("fields") or {},
                "crawl_run_id": self.ctx.run_id, "last_crawl_run_id": self.ctx.run_id,
            }
        staged.stats["items_stored"] += len(rows)
        staged.items.update(q.upsert_items(session, list(rows.values())) if rows else {})
        known = {**self.items, **staged.items}
        return {url: known[url] for item in batch if (url := item["url"]) in known}

    def _write_links(self, session, batch, item_ids: dict[str, int], asset_ids: dict[str, int],
                     staged: _Staged) -> None:
        now = utcnow()
        fetched: dict[tuple[int, str], dict[str, Any]] = {}
        seen: dict[tuple[int, str], dict[str, Any]] = {}
        for item in batch:
            item_id = item_ids[item["url"]]
            words = item.get("image_text") or {}
            for position, image in enumerate(item.get("images") or []):
                url = image["url"]
                text = {key: (words.get(url) or {}).get(key) for key in q.LINK_TEXT}
                first = self.url_items[url] if url in self.url_items else staged.url_items.setdefault(url, item_id)
                if first != item_id and (item_id, url) not in fetched:
                    staged.stats["duplicate_urls"] += 1
                if image.get("sha256"):
                    row = {"item_id": item_id, "asset_id": asset_ids.get(image["sha256"]) or self.assets[image["sha256"]],
                           "url": url, "position": position, "fetched_at": image["fetched_at"], "last_seen_at": now,
                           "http_status": image["http_status"], "etag": image["etag"],
                           "last_modified": image["last_modified"], **text}
                    fetched[(item_id, url)] = row
                else:
                    seen[(item_id, url)] = {"item_id": item_id, "asset_id": image["asset_id"], "url": url,
                                            "position": position, "last_seen_at": now, **text}
        q.upsert_links(session, list(fetched.values()), list(seen.values()))

    def _write_rejections(self, session, batch) -> None:
        now = utcnow()
        rows = {}
        for item in batch:
            for rej in item.get("rejected") or []:
                if not recorded(rej["reason"]):
                    continue
                rows[rej["url"]] = {"source_id": self.ctx.source_id, "url": rej["url"], "reason": rej["reason"],
                                    "detail": rej["detail"], "first_seen_at": now, "last_seen_at": now,
                                    "crawl_run_id": self.ctx.run_id}
        q.upsert_rejections(session, list(rows.values()))
