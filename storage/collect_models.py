"""Tables of the collect stage: sources, crawl runs, items, assets and near-duplicate clusters."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, utcnow


class Source(Base):
    """A configured site (a spider): one row per `[sources.NAME]`."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), default="config")  # "config" or "spider"
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    runs: Mapped[list[CrawlRun]] = relationship(back_populates="source")


class CrawlRun(Base):
    """One crawl of one source. At most one run per source may be `running` (a partial unique index)."""

    __tablename__ = "crawl_runs"
    __table_args__ = (
        Index(
            "uq_crawl_runs_one_running",
            "source_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|succeeded|empty|failed|cancelled
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual|schedule
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship(back_populates="runs")


class Item(Base):
    """One scraped record (a detail page, or a text document) with its provenance. Items belong to their
    source: the same URL crawled by two sources is two items, each with its own licence and attribution."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "canonical_url"),
        Index("ix_items_licence_source", "licence", "source_id"),  # items without licence, the licence menu
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    canonical_url: Mapped[str] = mapped_column(String(2048), index=True)
    page_url: Mapped[str] = mapped_column(String(2048))
    referrer: Mapped[str | None] = mapped_column(String(2048))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    gone_at: Mapped[datetime | None]
    http_status: Mapped[int | None]
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    robots_decision: Mapped[str | None] = mapped_column(String(40))  # allowed|disallowed|not-checked
    licence: Mapped[str | None] = mapped_column(String(512))
    attribution: Mapped[str | None] = mapped_column(String(1024))
    title: Mapped[str | None] = mapped_column(String(1024))
    text: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    last_crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))

    links: Mapped[list[ItemAsset]] = relationship(back_populates="item")


class NearDupCluster(Base):
    """Assets whose perceptual hashes lie within the Hamming threshold of each other."""

    __tablename__ = "near_dup_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    representative_asset_id: Mapped[int | None]  # the first asset stored in the cluster
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Asset(Base):
    """Stored content, once per sha256 (images EXIF-transposed at ingest)."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    mime: Mapped[str] = mapped_column(String(100))
    width: Mapped[int | None]
    height: Mapped[int | None]
    bytes: Mapped[int] = mapped_column(BigInteger)
    phash: Mapped[int | None] = mapped_column(BigInteger, index=True)  # 64-bit pHash as signed int
    blob_path: Mapped[str] = mapped_column(String(512))
    # Pillow's mode of the downloaded original ("I;16", "CMYK", ...; null before 0003): when it is not the
    # stored image's, the blob is a normalized 8-bit copy. frames > 1: an animation, its first frame stored.
    source_mode: Mapped[str | None] = mapped_column(String(16))
    frames: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("near_dup_clusters.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    links: Mapped[list[ItemAsset]] = relationship(back_populates="asset")


class ItemAsset(Base):
    """The link between an item and an asset it shows, with the image URL's own provenance."""

    __tablename__ = "item_assets"
    __table_args__ = (
        UniqueConstraint("item_id", "url"),
        Index("ix_item_assets_item_asset", "item_id", "asset_id"),  # images and assets per source, from the index
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: (item_id, asset_id) and the unique (item_id, url) start with it
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048), index=True)
    position: Mapped[int] = mapped_column(default=0)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    http_status: Mapped[int | None]
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    # what the page says about this image: a label source for image-text datasets
    alt: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)  # <figcaption>, or the record's `caption` field

    item: Mapped[Item] = relationship(back_populates="links")
    asset: Mapped[Asset] = relationship(back_populates="links")


class ImageRejection(Base):
    """An image URL the crawl refused (not an image, truncated, too small, a bomb, ...), kept so that a
    re-crawl need not download it again and so that a missing image can be explained."""

    __tablename__ = "image_rejections"
    __table_args__ = (UniqueConstraint("source_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
