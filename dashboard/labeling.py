"""Labeling progress per project: counts in SQL; agreement and disagreements over the newest tasks."""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from storage.agreement import agreement
from storage.models import Annotation, LabelingProject, Task

AGREEMENT_TASKS = 2000  # agreement is computed over at most this many of the newest multi-annotator tasks


def progress(session: Session) -> list[dict[str, Any]]:
    """Per project: tasks, labeled (a current, not cancelled annotation), reviewed (a ground-truth one)."""
    alive = Annotation.deleted_at.is_(None)
    tasks = dict(session.execute(select(Task.project_id, func.count()).group_by(Task.project_id)).all())
    gone = dict(session.execute(select(Task.project_id, func.count()).where(Task.ls_deleted_at.is_not(None))
                                .group_by(Task.project_id)).all())
    labeled = dict(session.execute(
        select(Task.project_id, func.count(distinct(Task.id))).join(Annotation, Annotation.task_id == Task.id)
        .where(alive, Annotation.was_cancelled.is_(False)).group_by(Task.project_id)).all())
    reviewed = dict(session.execute(
        select(Task.project_id, func.count(distinct(Task.id))).join(Annotation, Annotation.task_id == Task.id)
        .where(alive, Annotation.ground_truth.is_(True)).group_by(Task.project_id)).all())
    out = []
    for p in session.scalars(select(LabelingProject).order_by(LabelingProject.name)):
        out.append({"project": p, "tasks": tasks.get(p.id, 0), "labeled": labeled.get(p.id, 0),
                    "reviewed": reviewed.get(p.id, 0), "deleted_in_ls": gone.get(p.id, 0),
                    "ls_link": f"{p.ls_url.rstrip('/')}/projects/{p.ls_project_id}"
                    if p.ls_url and p.ls_url.startswith(("http://", "https://")) and p.ls_project_id else None})
    return out


def annotators(session: Session, project_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Annotation.annotator, func.count(Annotation.id), func.count(distinct(Annotation.task_id)),
               func.avg(Annotation.lead_time), func.max(Annotation.updated_at),
               func.sum(case((Annotation.was_cancelled.is_(True), 1), else_=0)))
        .join(Task, Task.id == Annotation.task_id)
        .where(Task.project_id == project_id, Annotation.deleted_at.is_(None))
        .group_by(Annotation.annotator).order_by(Annotation.annotator)).all()
    return [{"annotator": r[0] or "(unknown)", "revisions": r[1], "tasks": r[2], "lead_time": r[3], "last": r[4],
             "cancelled": int(r[5] or 0)} for r in rows]


def current_by_task(session: Session, project_id: int, limit: int = AGREEMENT_TASKS
                    ) -> dict[int, dict[str, tuple[int, list[dict[str, Any]]]]]:
    """{task id: {annotator: (annotation id, targets)}} of the newest tasks with two or more annotators,
    from each annotation's newest revision (not deleted, not cancelled, valid; ground truth kept apart)."""
    alive = (Annotation.deleted_at.is_(None), Annotation.was_cancelled.is_(False), Annotation.valid.is_(True),
             Annotation.ground_truth.is_(False))
    multi = (select(Annotation.task_id).join(Task, Task.id == Annotation.task_id)
             .where(Task.project_id == project_id, *alive).group_by(Annotation.task_id)
             .having(func.count(distinct(Annotation.annotator)) >= 2)
             .order_by(Annotation.task_id.desc()).limit(limit))
    task_ids = list(session.scalars(multi))
    if not task_ids:
        return {}
    newest = (select(Annotation.task_id, Annotation.ls_annotation_id, func.max(Annotation.revision).label("rev"))
              .where(Annotation.task_id.in_(task_ids)).group_by(Annotation.task_id, Annotation.ls_annotation_id)
              .subquery())
    rows = session.execute(
        select(Annotation.task_id, Annotation.annotator, Annotation.id, Annotation.targets)
        .join(newest, (newest.c.task_id == Annotation.task_id)
              & (newest.c.ls_annotation_id == Annotation.ls_annotation_id) & (newest.c.rev == Annotation.revision))
        .where(*alive).order_by(Annotation.task_id, Annotation.id))
    out: dict[int, dict[str, tuple[int, list[dict[str, Any]]]]] = {}
    for task_id, who, ann_id, targets in rows:
        out.setdefault(task_id, {})[who or f"annotation {ann_id}"] = (ann_id, list(targets))
    return {t: by for t, by in out.items() if len(by) >= 2}


def project_agreement(session: Session, project_id: int) -> dict[str, Any]:
    """Kappa / box F1 and the disagreement list over the newest multi-annotator tasks."""
    by_task = current_by_task(session, project_id)
    table = agreement({t: {w: targets for w, (_, targets) in by.items()} for t, by in by_task.items()})
    tasks = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(list(table.review))))} if table.review else {}
    disagreements = [{"task": tasks[t], "problems": problems, "annotations": by_task[t]}
                     for t, problems in sorted(table.review.items(), reverse=True) if t in tasks]
    return {"table": table, "disagreements": disagreements, "computed_over": len(by_task), "limit": AGREEMENT_TASKS}


def review_queue(session: Session, project_id: int, disagreements: list[dict[str, Any]], limit: int = 200
                 ) -> dict[str, Any]:
    """Tasks a reviewer should open: disagreements without a ground-truth answer, invalid annotations."""
    decided = set(session.scalars(select(Annotation.task_id).join(Task, Task.id == Annotation.task_id).where(
        Task.project_id == project_id, Annotation.ground_truth.is_(True), Annotation.deleted_at.is_(None))))
    open_ = [d for d in disagreements if d["task"].id not in decided]
    invalid = session.execute(
        select(Annotation, Task).join(Task, Task.id == Annotation.task_id)
        .where(Task.project_id == project_id, Annotation.valid.is_(False), Annotation.deleted_at.is_(None))
        .order_by(Annotation.id.desc()).limit(limit)).all()
    return {"disagreements": open_[:limit], "open": len(open_), "invalid": invalid}
