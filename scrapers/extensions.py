"""The crawl-run extension: heartbeat while running, and at the end the run's status and stats.

A complete run (finish reason `finished`, every batch stored, no page lost to an HTTP error other than
404/410 or to a failed download) also marks the source's items it did not see as gone. A run that was
taken over (marked failed as dead by another process while it still ran) records nothing at its end.
"""
from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet.task import LoopingCall

from scrapers.context import CrawlContext, enabled
from storage import collect as q

logger = logging.getLogger(__name__)


def run_stats(stats: dict[str, Any], gone: int = 0) -> dict[str, Any]:
    """The summary kept in `crawl_runs.stats`, from Scrapy's stats collector values."""
    get = lambda key: int(stats.get(f"harvest/{key}", 0))  # noqa: E731
    dropped: dict[str, int] = {}
    for key, value in stats.items():
        for prefix in ("harvest/dropped/", "harvest/rejected/"):
            if key.startswith(prefix):
                reason = key[len(prefix):]
                dropped[reason] = dropped.get(reason, 0) + int(value)
    errors = int(stats.get("log_count/ERROR", 0))
    # pages answered with an HTTP error (404, 500 after retries, ...) that Scrapy's HttpErrorMiddleware ignored
    failed: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("httperror/response_ignored_status_count/"):
            failed[key.rsplit("/", 1)[1]] = int(value)
    return {
        "pages": get("pages"), "items": get("items_stored"), "items_new": get("items_new"),
        "items_unchanged": get("items_unchanged"), "items_gone": gone,
        "images_stored": get("images_stored"), "images_known": get("images_known") + get("images_unchanged"),
        "images_downloaded": int(stats.get("file_status_count/downloaded", 0)),
        "duplicates": get("duplicates"), "duplicate_urls": get("duplicate_urls"),
        "near_duplicates": get("near_duplicates"), "dropped": dict(sorted(dropped.items())),
        "robots_forbidden": int(stats.get("robotstxt/forbidden", 0)), "errors": errors,
        "pages_failed": dict(sorted(failed.items())),
        "pages_refused_before": sum(_counts(stats, "harvest/pages_refused_before/").values()),
        "url_policy": {"refused": _counts(stats, "urlpolicy/refused/"),
                       "offsite_image_hosts": _counts(stats, "urlpolicy/offsite_image_host/")},
        "failed_urls": list(stats.get("harvest/failed_urls") or []),
        "items_failed": get("items_failed"),
        "pages_unchanged": get("pages_unchanged"), "pages_rendered": get("pages_rendered"),
        "browser_aborted": get("browser_aborted"),
        **({"workers": get("workers"), "workers_died": get("workers_died")} if "harvest/workers" in stats else {}),
    }


def _counts(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {key[len(prefix):]: int(value) for key, value in sorted(stats.items()) if key.startswith(prefix)}


LIMIT_REASONS = {"closespider_pagecount": "max_pages", "closespider_timeout": "max_seconds",
                 "closespider_itemcount": "CLOSESPIDER_ITEMCOUNT", "closespider_errorcount": "CLOSESPIDER_ERRORCOUNT"}


def outcome(reason: str, stats: dict[str, Any], flushed: bool) -> tuple[str, str | None]:
    """(status, error) of a crawl that closed with `reason`: `succeeded`, `empty` (pages parsed, no item),
    `failed` (nothing reached, or the crawl broke), `cancelled`. A crawl ended by a limit (`max_pages`,
    `max_seconds`) succeeded with what it got; the limit is named in the run's stats."""
    pages, items = int(stats.get("harvest/pages", 0)), int(stats.get("harvest/items_stored", 0))
    if reason == "shutdown":
        return "cancelled", f"crawl ended with reason {reason!r}"
    if not flushed or (reason != "finished" and reason not in LIMIT_REASONS):
        return "failed", f"crawl ended with reason {reason!r}"
    first = "; ".join((stats.get("harvest/failed_urls") or [])[:3])
    if not int(stats.get("response_received_count", 0)) or (not pages and first):
        return "failed", ("reached nothing: " + (first or "no start URL answered")
                          + ". Check the start URLs and that the site is up.")
    if pages and not items:
        hint = f" (failures: {first})" if first else ""
        return "empty", (f"parsed {pages} page(s) but produced 0 items{hint}. Check item_pattern / item_links "
                         f"(and allowed_domains) with `harvest source check NAME URL`.")
    return "succeeded", None


GONE_STATUSES = frozenset({"404", "410"})  # a page that answers "gone" is a result, not a failure
# robots.txt, a filter or the URL policy refused the request
NOT_FAILURES = frozenset({"scrapy.exceptions.IgnoreRequest", "scrapers.urlpolicy.UrlRefused"})


def missed_pages(stats: dict[str, Any]) -> list[str]:
    """Why a finished crawl may not have seen every item (empty when it did): pages answered with an
    HTTP error other than 404/410 (after retries), downloads that failed for good (exceptions not
    followed by a retry), callbacks that raised."""
    missed = []
    for key, value in sorted(stats.items()):
        if key.startswith("httperror/response_ignored_status_count/"):
            status = key.rsplit("/", 1)[1]
            if status not in GONE_STATUSES and int(value):
                missed.append(f"{int(value)} page(s) answered HTTP {status}")
        elif key.startswith("downloader/exception_type_count/"):
            name = key.removeprefix("downloader/exception_type_count/")
            failed = int(value) - int(stats.get(f"retry/reason_count/{name}", 0))
            if name not in NOT_FAILURES and failed > 0:
                missed.append(f"{failed} download(s) failed with {name}")
    if int(stats.get("spider_exceptions/count", 0)):
        missed.append(f"{int(stats['spider_exceptions/count'])} page(s) whose callback raised")
    if int(stats.get("harvest/items_failed", 0)):
        missed.append(f"{int(stats['harvest/items_failed'])} item(s) an item pipeline failed on")
    return missed


def leave_shared_run(frontier, stats: dict[str, Any], reason: str, flushed: bool):
    """Leave the shared run; for the last worker out, (the workers' stats combined, the run's finish reason,
    whether every worker stored all its batches); None for the others."""
    from scrapers.frontier import merge_stats

    final = {"worker": frontier.worker, "reason": reason, "flushed": flushed, "stats": stats}
    if not frontier.leave(final, finished=reason == "finished"):
        logger.info("worker %s left the shared run (%s); the last worker out records the run", frontier.worker, reason)
        return None
    left, dead = frontier.results()
    merged = merge_stats([part["stats"] for part in left] + dead)
    merged["harvest/workers"] = len(left) + len(dead)
    merged["harvest/workers_died"] = len(dead)
    reasons = [part["reason"] for part in left if part["reason"] != "finished"]
    return merged, (reasons[0] if reasons else "finished"), all(part["flushed"] for part in left)


class CrawlRunExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.beat: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunExtension:
        enabled(crawler)
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        return ext

    def item_error(self, item, response, spider, failure) -> None:
        """An item a pipeline raised on was not stored: its page must not be marked gone for that."""
        self.crawler.stats.inc_value("harvest/items_failed")

    def spider_opened(self, spider) -> None:
        self.ctx = CrawlContext.of(self.crawler)
        self.beat = LoopingCall(self._heartbeat)
        self.beat.start(self.ctx.crawl.heartbeat_seconds, now=True)

    def _heartbeat(self) -> None:
        try:
            alive = q.heartbeat(self.ctx.sessions, self.ctx.run_id)
        except Exception:  # noqa: BLE001 - a missed beat must not kill the crawl
            logger.exception("crawl run heartbeat failed")
            return
        if not alive and not self.ctx.extra.get("taken_over"):
            self.ctx.extra["taken_over"] = True
            logger.error(
                "crawl run %s of %s is no longer `running` in the database: another process marked it failed "
                "(missed heartbeats) and may be crawling %s now. This run's result will not be recorded and it "
                "will mark no item gone; see `harvest runs %s`.",
                self.ctx.run_id, self.ctx.source_name, self.ctx.source_name, self.ctx.source_name,
            )

    def spider_closed(self, spider, reason: str) -> None:
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        ctx = getattr(self, "ctx", None)
        if ctx is None:
            return
        stats, flushed = self.crawler.stats.get_stats(), ctx.extra.get("flushed", False)
        shared = getattr(self.crawler, "_harvest_frontier_ext", None)
        if shared is not None:  # one of the workers of a shared run: the last one out records the run
            combined = leave_shared_run(shared.frontier, stats, reason, flushed)
            if combined is None:
                ctx.engine.dispose()
                return
            stats, reason, flushed = combined
        status, error = outcome(reason, stats, flushed)
        finished = reason == "finished" and status == "succeeded"  # a limit cut the crawl short: nothing gone
        missed = missed_pages(stats) if finished else []
        summary = run_stats(stats)
        summary["finish_reason"] = reason
        summary["licence_required"] = bool(ctx.source.require_licence)
        summary["missed_pages"] = missed
        beyond = int(stats.get("harvest/links_beyond_max_depth", 0))
        if beyond and reason not in LIMIT_REASONS:  # a calendar or a facet trap cut at max_depth: nothing gone
            summary["limit_reached"] = "max_depth"
            summary["links_beyond_max_depth"] = beyond
            missed = [*missed, f"{beyond} link(s) beyond max_depth not followed"]
            logger.warning("crawl run %s of %s: %d link(s) lay beyond max_depth and were not followed; "
                           "no item is marked gone", ctx.run_id, ctx.source_name, beyond)
        if reason in LIMIT_REASONS:
            summary["limit_reached"] = LIMIT_REASONS[reason]
            logger.warning("crawl run %s of %s stopped at its limit %s (%s); no item is marked gone",
                           ctx.run_id, ctx.source_name, LIMIT_REASONS[reason], reason)
        gone = q.finish_run(ctx.sessions, ctx.run_id, status=status, stats=summary, error=error,
                            gone_source_id=ctx.source_id if finished and not missed else None)
        if gone is None:
            logger.error(
                "crawl run %s of %s was taken over: another process marked it failed while it still ran "
                "(missed heartbeats), so its end (%s, %s) is not recorded and no item is marked gone. "
                "Check `harvest runs %s`; raise [crawl].stale_after_seconds if the heartbeats were only late.",
                ctx.run_id, ctx.source_name, status, summary, ctx.source_name,
            )
        else:
            summary["items_gone"] = gone
            if missed:
                logger.warning("crawl run %s of %s missed pages (%s): no item is marked gone",
                               ctx.run_id, ctx.source_name, "; ".join(missed))
            logger.info("crawl run %s of %s: %s %s", ctx.run_id, ctx.source_name, status, summary)
        ctx.engine.dispose()
