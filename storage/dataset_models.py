"""Tables of the export stage: immutable dataset versions, their members, and exports."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, utcnow


class DatasetVersion(Base):
    """A frozen dataset: members, frozen annotation revisions, split, policy, seed, content hash."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("labeling_projects.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id", ondelete="SET NULL"))
    seed: Mapped[int] = mapped_column(default=0)
    split_ratios: Mapped[list[Any]] = mapped_column(default=list)
    group_by: Mapped[str | None] = mapped_column(String(200))
    revision_rule: Mapped[str] = mapped_column(String(40), default="latest")
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_text: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[dict[str, Any] | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[VersionMember]] = relationship(back_populates="version")


class VersionMember(Base):
    """One sample of a version with the exact annotation revision and targets it was frozen with."""

    __tablename__ = "version_members"
    __table_args__ = (
        UniqueConstraint("version_id", "sample_key"),
        Index("ix_version_members_version_split", "version_id", "split", "asset_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True)
    sample_key: Mapped[str] = mapped_column(String(100))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    annotation_ids: Mapped[list[Any]] = mapped_column(default=list)
    split: Mapped[str] = mapped_column(String(10))
    group_key: Mapped[str | None] = mapped_column(String(512))
    targets: Mapped[list[Any]] = mapped_column(default=list)
    annotators: Mapped[list[Any]] = mapped_column(default=list)
    # frozen at creation so a re-crawl never changes what an export of this version says
    sha256: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)

    version: Mapped[DatasetVersion] = relationship(back_populates="members")


class MemberLabel(Base):
    """The labels one version member's frozen targets name, one row each (members never change).

    Written by the database itself (a trigger of migration 0007 on `version_members`)."""

    __tablename__ = "member_labels"
    __table_args__ = (Index("ix_member_labels_version_label_asset", "version_id", "label", "asset_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("version_members.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(Text, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))


class Export(Base):
    """One export of a version to a format, with the hash of its manifest."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(2048))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    file_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
