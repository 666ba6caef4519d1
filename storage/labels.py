"""Label-stage queries and batched writes: candidate samples, task bookkeeping, annotation revisions."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from storage.collect_models import Asset, Item, ItemAsset
from storage.label_models import Annotation, LabelingProject, Task
from storage.upsert import upsert


def project_by_name(session: Session, name: str) -> LabelingProject | None:
    return session.scalar(select(LabelingProject).where(LabelingProject.name == name))


def project_by_ls_id(session: Session, ls_project_id: int) -> LabelingProject | None:
    return session.scalar(select(LabelingProject).where(LabelingProject.ls_project_id == ls_project_id))


def new_image_samples(session: Session, project: LabelingProject, limit: int | None) -> list[Asset]:
    """Image assets (of the project's source, if any) that have no task in this project yet, by id."""
    taken = select(Task.asset_id).where(Task.project_id == project.id, Task.asset_id.is_not(None))
    stmt = select(Asset).where(Asset.mime.like("image/%"), Asset.id.not_in(taken)).order_by(Asset.id)
    if project.source_id is not None:
        linked = (select(ItemAsset.asset_id).join(Item, Item.id == ItemAsset.item_id)
                  .where(Item.source_id == project.source_id))
        stmt = stmt.where(Asset.id.in_(linked))
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def new_text_samples(session: Session, project: LabelingProject, limit: int | None) -> list[Item]:
    """Items with text (of the project's source, if any) that have no task in this project yet, by id."""
    taken = select(Task.item_id).where(Task.project_id == project.id, Task.item_id.is_not(None))
    stmt = select(Item).where(Item.text.is_not(None), Item.text != "", Item.id.not_in(taken)).order_by(Item.id)
    if project.source_id is not None:
        stmt = stmt.where(Item.source_id == project.source_id)
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def add_pending_tasks(session: Session, rows: list[dict[str, Any]]) -> int:
    """Record tasks before they are imported (ls_task_id NULL = pending); existing keys are left alone."""
    return upsert(session, Task, rows, conflict=("project_id", "sample_key"))


def task_ids(session: Session, project_id: int, sample_keys: list[str]) -> dict[str, int]:
    """sample_key -> task row id within one project (uses the (project_id, sample_key) unique index)."""
    out: dict[str, int] = {}
    for start in range(0, len(sample_keys), 5000):
        stmt = select(Task.sample_key, Task.id).where(Task.project_id == project_id,
                                                      Task.sample_key.in_(sample_keys[start:start + 5000]))
        out.update(dict(session.execute(stmt).all()))
    return out


def pending_tasks(session: Session, project_id: int) -> list[Row]:
    """(id, sample_key, data) of the project's tasks not imported yet, by id (plain rows, no ORM objects)."""
    stmt = (select(Task.id, Task.sample_key, Task.data)
            .where(Task.project_id == project_id, Task.ls_task_id.is_(None)).order_by(Task.id))
    return list(session.execute(stmt))


def count_tasks(session: Session, project_id: int, *, pushed: bool) -> int:
    done = Task.ls_task_id.is_not(None) if pushed else Task.ls_task_id.is_(None)
    return session.scalar(select(func.count(Task.id)).where(Task.project_id == project_id, done)) or 0


def mark_pushed(session: Session, pushed: Iterable[tuple[int, int]], when: datetime) -> None:
    """Set (task row id, LS task id) pairs as pushed, in one executemany."""
    rows = [{"tid": tid, "ls_id": ls_id} for tid, ls_id in pushed]
    if rows:
        table = Task.__table__
        stmt = update(table).where(table.c.id == bindparam("tid")).values(ls_task_id=bindparam("ls_id"),
                                                                          pushed_at=when)
        session.connection().execute(stmt, rows)


def tasks_by_ls_id(session: Session, project_id: int, ls_ids: Iterable[int]) -> dict[int, Task]:
    ls_ids = list(set(ls_ids))
    out: dict[int, Task] = {}
    for start in range(0, len(ls_ids), 5000):
        stmt = select(Task).where(Task.project_id == project_id, Task.ls_task_id.in_(ls_ids[start:start + 5000]))
        out.update({t.ls_task_id: t for t in session.scalars(stmt)})
    return out


def latest_revisions(session: Session, task_ids: Iterable[int]) -> dict[tuple[int, int], Annotation]:
    """(task row id, LS annotation id) -> newest stored revision, for the annotations of these tasks.

    Keyed by task as well: Label Studio's annotation ids restart after a server reset.
    """
    ids = list(set(task_ids))
    out: dict[tuple[int, int], Annotation] = {}
    for start in range(0, len(ids), 5000):
        stmt = (select(Annotation).where(Annotation.task_id.in_(ids[start:start + 5000]))
                .order_by(Annotation.task_id, Annotation.ls_annotation_id, Annotation.revision))
        out.update({(a.task_id, a.ls_annotation_id): a for a in session.scalars(stmt)})
    return out


def live_annotation_ids(session: Session, task_ids: Iterable[int]) -> dict[int, set[int]]:
    """task row id -> LS annotation ids stored for it and not marked deleted."""
    ids = list(set(task_ids))
    out: dict[int, set[int]] = {t: set() for t in ids}
    for start in range(0, len(ids), 5000):
        stmt = select(Annotation.task_id, Annotation.ls_annotation_id).where(
            Annotation.task_id.in_(ids[start:start + 5000]), Annotation.deleted_at.is_(None)).distinct()
        for task_id, ls_id in session.execute(stmt):
            out[task_id].add(ls_id)
    return out


def add_revisions(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert revision rows; a revision number already stored (webhook and pull racing) is skipped."""
    return upsert(session, Annotation, rows, conflict=("task_id", "ls_annotation_id", "revision"))


def mark_deleted(session: Session, pairs: Iterable[tuple[int, int]], when: datetime) -> None:
    """Mark the revisions of (task row id, LS annotation id) pairs deleted, in one executemany."""
    rows = [{"tid": tid, "lid": lid} for tid, lid in set(pairs)]
    if rows:
        table = Annotation.__table__
        stmt = (update(table).where(table.c.task_id == bindparam("tid"), table.c.ls_annotation_id == bindparam("lid"),
                                    table.c.deleted_at.is_(None)).values(deleted_at=when))
        session.connection().execute(stmt, rows)


def mark_deleted_in_project(session: Session, project_id: int, ls_annotation_ids: Iterable[int],
                            when: datetime) -> int:
    """Mark these LS annotation ids deleted within one project's tasks only; returns the revisions marked."""
    ids = list(set(ls_annotation_ids))
    if not ids:
        return 0
    tasks = select(Task.id).where(Task.project_id == project_id)
    result = session.execute(update(Annotation).where(Annotation.ls_annotation_id.in_(ids),
                                                      Annotation.task_id.in_(tasks),
                                                      Annotation.deleted_at.is_(None)).values(deleted_at=when))
    return result.rowcount or 0


def current_annotations(session: Session, project_id: int) -> list[tuple[Task, Annotation]]:
    """Every task's newest, not deleted revisions of each of its annotations."""
    stmt = (select(Task, Annotation).join(Annotation, Annotation.task_id == Task.id)
            .where(Task.project_id == project_id).order_by(Task.id, Annotation.ls_annotation_id, Annotation.revision))
    latest: dict[tuple[int, int], tuple[Task, Annotation]] = {}
    for task, ann in session.execute(stmt):
        latest[(task.id, ann.ls_annotation_id)] = (task, ann)
    return [(t, a) for t, a in latest.values() if a.deleted_at is None]
