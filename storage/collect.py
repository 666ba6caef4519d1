"""Queries and batched writes of the collect stage: sources, the run lock, known URLs, item batches.

Nothing here commits per row: callers pass one session per batch (see `session_scope`). The statements are
Core statements on the models' tables, not ORM ones: a crawl never configures the mappers nor builds ORM
compile state (the first ORM query of a process cost ~30 ms of a crawl's start, the Core one ~2 ms).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.base import utcnow
from storage.collect_models import Asset, CrawlRun, ImageRejection, Item, ItemAsset, NearDupCluster, Source
from storage.upsert import ids_by_key, insert_new, upsert, upsert_returning_ids

RUNS, ITEMS, LINKS, ASSETS = CrawlRun.__table__, Item.__table__, ItemAsset.__table__, Asset.__table__
REJECTIONS, CLUSTERS = ImageRejection.__table__, NearDupCluster.__table__

ITEM_UPDATE = (
    "page_url", "referrer", "fetched_at", "last_seen_at", "gone_at", "http_status", "etag",
    "last_modified", "robots_decision", "licence", "attribution", "title", "text", "fields", "last_crawl_run_id",
)
LINK_TEXT = ("alt", "title", "caption")  # the page's words about an image, refreshed whenever it is seen
LINK_FULL_UPDATE = ("asset_id", "position", "fetched_at", "last_seen_at", "http_status", "etag", "last_modified",
                    *LINK_TEXT)
LINK_SEEN_UPDATE = ("asset_id", "position", "last_seen_at", *LINK_TEXT)


def upsert_source(session: Session, name: str, kind: str, config: dict[str, Any], schedule: str | None) -> int:
    row = {"name": name, "kind": kind, "config": config, "schedule": schedule}
    return upsert_returning_ids(session, Source, [row], conflict=["name"], update=["kind", "config", "schedule"])[name]


def start_run(sessions: sessionmaker[Session], source_id: int, *, trigger: str, host: str, pid: int) -> int | None:
    """Insert a `running` run and return its id; None when the source already has a running run."""
    now = utcnow()
    with sessions() as session:
        try:
            result = session.execute(insert(RUNS).values(
                source_id=source_id, status="running", started_at=now, heartbeat_at=now, host=host, pid=pid,
                trigger=trigger, stats={}))
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return result.inserted_primary_key[0]


def heartbeat(sessions: sessionmaker[Session], run_id: int) -> bool:
    """Refresh the run's heartbeat; False when it is no longer `running` (recovered as dead elsewhere)."""
    with sessions.begin() as session:
        result = session.execute(
            update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "running").values(heartbeat_at=utcnow())
        )
        return result.rowcount == 1


def finish_run(
    sessions: sessionmaker[Session], run_id: int, *, status: str, stats: dict[str, Any], error: str | None = None,
    gone_source_id: int | None = None,
) -> int | None:
    """Close run `run_id` if it still holds the lock (is `running`); in the same transaction, with
    `gone_source_id`, mark that source's items the run did not see as gone (the count goes into
    `stats["items_gone"]`). Returns that count, or None when the run was no longer running (another
    process marked it failed and may run the source now): then nothing is written."""
    now = utcnow()
    with sessions.begin() as session:
        closed = session.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.status == "running")
            .values(status=status, stats=stats, error=error, finished_at=now, heartbeat_at=now)
        )
        if closed.rowcount != 1:
            return None
        gone = 0
        if gone_source_id is not None:
            gone = mark_gone(session, gone_source_id, run_id, now)
            session.execute(update(RUNS).where(RUNS.c.id == run_id).values(stats={**stats, "items_gone": gone}))
        return gone


def running_runs(session: Session, source_id: int | None = None) -> list[Row]:
    """The `running` runs, as rows with the run's columns (run.id, run.host, run.heartbeat_at, ...)."""
    stmt = select(RUNS).where(RUNS.c.status == "running")
    if source_id is not None:
        stmt = stmt.where(RUNS.c.source_id == source_id)
    return list(session.execute(stmt))


def fail_runs(
    session: Session, run_ids: list[int], error: str, *, status: str = "failed", beat_before: datetime | None = None
) -> int:
    """Close runs that are still `running` with `status` (failed, or cancelled) and the reason; with
    `beat_before`, only those whose last heartbeat is still older than that (a beat that just arrived wins)."""
    if not run_ids:
        return 0
    stmt = update(RUNS).where(RUNS.c.id.in_(run_ids), RUNS.c.status == "running")
    if beat_before is not None:
        stmt = stmt.where(or_(RUNS.c.heartbeat_at.is_(None), RUNS.c.heartbeat_at < beat_before))
    result = session.execute(stmt.values(status=status, error=error, finished_at=utcnow()))
    return result.rowcount or 0


def mark_gone(session: Session, source_id: int, run_id: int, now: datetime) -> int:
    """Items of the source not seen by run `run_id` get `gone_at` (never deleted). Returns how many."""
    result = session.execute(
        update(ITEMS)
        .where(
            ITEMS.c.source_id == source_id,
            ITEMS.c.gone_at.is_(None),
            or_(ITEMS.c.last_crawl_run_id.is_(None), ITEMS.c.last_crawl_run_id != run_id),
        )
        .values(gone_at=now)
    )
    return result.rowcount or 0


def item_ids(session: Session, source_id: int) -> dict[str, int]:
    return dict(session.execute(select(ITEMS.c.canonical_url, ITEMS.c.id).where(ITEMS.c.source_id == source_id)).all())


def page_validators(session: Session, source_id: int) -> dict[str, tuple[str | None, str | None]]:
    """Page URL -> (ETag, Last-Modified) of the source's items still seen, for conditional page requests."""
    stmt = select(ITEMS.c.page_url, ITEMS.c.etag, ITEMS.c.last_modified).where(
        ITEMS.c.source_id == source_id, ITEMS.c.gone_at.is_(None),
        or_(ITEMS.c.etag.is_not(None), ITEMS.c.last_modified.is_not(None)))
    return {page: (etag, modified) for page, etag, modified in session.execute(stmt)}


def touch_pages(session: Session, source_id: int, page_urls: list[str], run_id: int, now: datetime) -> int:
    """The items of pages that answered 304 Not Modified are seen by run `run_id` (and their image links
    too); nothing else about them changes. Returns how many items."""
    if not page_urls:
        return 0
    ids = list(session.scalars(select(ITEMS.c.id).where(ITEMS.c.source_id == source_id,
                                                         ITEMS.c.page_url.in_(page_urls))))
    if not ids:
        return 0
    session.execute(update(ITEMS).where(ITEMS.c.id.in_(ids)).values(last_seen_at=now, last_crawl_run_id=run_id))
    session.execute(update(LINKS).where(LINKS.c.item_id.in_(ids)).values(last_seen_at=now))
    return len(ids)


@dataclass(frozen=True)
class KnownImage:
    asset_id: int
    blob_path: str
    sha256: str
    etag: str | None
    last_modified: str | None


def known_images(session: Session, source_id: int) -> dict[str, KnownImage]:
    """Image URL -> what is stored for it, over the source's items."""
    stmt = (
        select(LINKS.c.url, LINKS.c.asset_id, ASSETS.c.blob_path, ASSETS.c.sha256, LINKS.c.etag, LINKS.c.last_modified)
        .select_from(LINKS.join(ITEMS, ITEMS.c.id == LINKS.c.item_id).join(ASSETS, ASSETS.c.id == LINKS.c.asset_id))
        .where(ITEMS.c.source_id == source_id)
    )
    return {row[0]: KnownImage(*row[1:]) for row in session.execute(stmt)}


def rejected_urls(session: Session, source_id: int) -> dict[str, str]:
    stmt = select(REJECTIONS.c.url, REJECTIONS.c.reason).where(REJECTIONS.c.source_id == source_id)
    return dict(session.execute(stmt).all())


def asset_hashes(session: Session, chunk: int = 100_000) -> Iterator[tuple[int, int, int | None]]:
    """(asset id, pHash, cluster id) of every asset with a pHash, streamed in id order."""
    last = 0
    while True:
        rows = session.execute(
            select(ASSETS.c.id, ASSETS.c.phash, ASSETS.c.cluster_id)
            .where(and_(ASSETS.c.phash.is_not(None), ASSETS.c.id > last))
            .order_by(ASSETS.c.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield from ((r[0], r[1], r[2]) for r in rows)
        last = rows[-1][0]


def insert_assets(session: Session, rows: list[dict[str, Any]]) -> tuple[dict[str, int], set[str]]:
    """Insert assets by sha256 (existing ones untouched); return ({sha256: id}, sha256s that were new)."""
    shas = [r["sha256"] for r in rows]
    new = insert_new(session, Asset, rows, key="sha256")  # what this transaction inserted, not a concurrent one
    return ids_by_key(session, Asset, ["sha256"], shas), new


def cluster_of(session: Session, asset_id: int) -> int | None:
    return session.scalar(select(ASSETS.c.cluster_id).where(ASSETS.c.id == asset_id))


def new_cluster(session: Session, representative: int) -> int:
    result = session.execute(insert(CLUSTERS).values(representative_asset_id=representative))
    return result.inserted_primary_key[0]


def set_clusters(session: Session, assignments: dict[int, int]) -> None:
    if assignments:
        stmt = update(ASSETS).where(ASSETS.c.id == bindparam("asset")).values(cluster_id=bindparam("cluster"))
        session.execute(stmt, [{"asset": a, "cluster": c} for a, c in assignments.items()])


def upsert_items(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert or update items of ONE source, keyed by (source_id, canonical_url); return {url: id}."""
    sources = {row["source_id"] for row in rows}
    if len(sources) > 1:
        raise ValueError(f"upsert_items takes the items of one source; found sources {sorted(sources)}")
    ids = upsert_returning_ids(session, Item, rows, conflict=["source_id", "canonical_url"], update=list(ITEM_UPDATE))
    return {url: item_id for (_, url), item_id in ids.items()}


def upsert_links(session: Session, downloaded: list[dict[str, Any]], seen: list[dict[str, Any]]) -> None:
    """Links whose image was fetched this run (full provenance) and links only seen again (last_seen)."""
    upsert(session, ItemAsset, downloaded, conflict=["item_id", "url"], update=list(LINK_FULL_UPDATE))
    upsert(session, ItemAsset, seen, conflict=["item_id", "url"], update=list(LINK_SEEN_UPDATE))


def upsert_rejections(session: Session, rows: list[dict[str, Any]]) -> None:
    upsert(session, ImageRejection, rows, conflict=["source_id", "url"],
           update=["reason", "detail", "last_seen_at", "crawl_run_id"])
