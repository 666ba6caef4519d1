"""Tables of the label stage: labeling projects, tasks, annotation revisions and predictions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, utcnow


class LabelingProject(Base):
    """A Label Studio project created by harvest from a template."""

    __tablename__ = "labeling_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(80))
    labels: Mapped[list[Any]] = mapped_column(default=list)
    label_config: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    ls_url: Mapped[str | None] = mapped_column(String(512))
    ls_project_id: Mapped[int | None]
    webhook_id: Mapped[int | None]
    pull_cursor: Mapped[datetime | None]  # newest task updated_at seen by pull (Label Studio's clock)
    pull_checked_at: Mapped[datetime | None]  # Label Studio's time just before the last pull's task query
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tasks: Mapped[list[Task]] = relationship(back_populates="project")


class Task(Base):
    """One sample of a project, idempotently mapped to one Label Studio task."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project_id", "sample_key"),
        UniqueConstraint("project_id", "ls_task_id"),
        Index("ix_tasks_project_asset", "project_id", "asset_id"),
        Index("ix_tasks_project_deleted", "project_id", "ls_deleted_at"),  # tasks and deleted ones per project
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: (project_id, ls_deleted_at) and (project_id, asset_id) start with it
    project_id: Mapped[int] = mapped_column(ForeignKey("labeling_projects.id", ondelete="CASCADE"))
    sample_key: Mapped[str] = mapped_column(String(100))  # "asset:<id>" or "item:<id>"
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), index=True)
    ls_task_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pushed_at: Mapped[datetime | None]
    ls_updated_at: Mapped[datetime | None]
    ls_deleted_at: Mapped[datetime | None]  # set when a pull finds the task gone from Label Studio (never erased)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[LabelingProject] = relationship(back_populates="tasks")
    annotations: Mapped[list[Annotation]] = relationship(back_populates="task")


class Annotation(Base):
    """One revision of one Label Studio annotation. Rows are only added; deletion is a mark."""

    __tablename__ = "annotations"
    # scoped by task: Label Studio's annotation ids restart after a server reset
    __table_args__ = (
        UniqueConstraint("task_id", "ls_annotation_id", "revision"),
        # covering indexes of the dashboard's counts: per task (live, valid, cancelled, ground truth) and per
        # annotator (with the figures of the labeling page)
        Index("ix_annotations_task_state", "task_id", "deleted_at", "valid", "was_cancelled", "ground_truth"),
        Index("ix_annotations_annotator_stats", "annotator", "deleted_at", "task_id", "was_cancelled", "lead_time",
              "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique (task_id, ls_annotation_id, revision) and ix_annotations_task_state start with it
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    ls_annotation_id: Mapped[int] = mapped_column(BigInteger, index=True)
    revision: Mapped[int] = mapped_column(default=1)
    annotator: Mapped[str | None] = mapped_column(String(320))
    annotator_id: Mapped[int | None]
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    lead_time: Mapped[float | None] = mapped_column(Float)
    was_cancelled: Mapped[bool] = mapped_column(default=False)
    ground_truth: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None]
    result: Mapped[list[Any]] = mapped_column(default=list)
    targets: Mapped[list[Any]] = mapped_column(default=list)
    result_hash: Mapped[str] = mapped_column(String(64))
    valid: Mapped[bool] = mapped_column(default=True)  # False: the result contradicts the label config
    problems: Mapped[list[Any]] = mapped_column(default=list)  # why it is invalid, one message per region
    received_via: Mapped[str] = mapped_column(String(20), default="pull")  # pull|webhook
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(back_populates="annotations")


class AnnotationLabel(Base):
    """The labels one annotation revision's targets name, one row each (with the task's asset and the
    revision's annotator, which never change).

    Written by the database itself (triggers of migration 0007 on `annotations`), whoever inserts the
    revision; never written by the application. Whether a revision is current (newest, not deleted) is
    decided when reading, so a new revision or a deletion needs no update here."""

    __tablename__ = "annotation_labels"
    __table_args__ = (Index("ix_annotation_labels_label_asset", "label", "asset_id"),)

    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(Text, primary_key=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    annotator: Mapped[str | None] = mapped_column(String(320))


class Prediction(Base):
    """A pre-annotation sent to Label Studio with a task."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("task_id", "model_version"),)  # the idempotency key of a push

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))  # the unique key starts with it
    ls_prediction_id: Mapped[int | None] = mapped_column(BigInteger)
    model_version: Mapped[str] = mapped_column(String(200))
    score: Mapped[float | None] = mapped_column(Float)
    result: Mapped[list[Any]] = mapped_column(default=list)
    targets: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
