"""Labeling progress per project: counts in SQL; agreement and disagreements over the newest tasks."""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from storage.agreement import agreement
from storage.models import Annotation, LabelingProject, Task

AGREEMENT_TASKS = 2000  # agreement is computed over at most this many of the newest multi-annotator tasks


def only_project(session: Session) -> int | None:
    """The project holding every task, if one does (two index seeks): its annotations are then the table's
    annotations, and its counts need no join of annotations to tasks."""
    low, high = session.execute(select(func.min(Task.project_id), func.max(Task.project_id))).one()
    return low if low is not None and low == high else None


def _in_project(project_id: int, sole: int | None) -> list:
    """WHERE conditions on Annotation restricting it to the project's tasks (none when the project holds all)."""
    if sole == project_id:
        return []
    return [Annotation.task_id.in_(select(Task.id).where(Task.project_id == project_id))]


def progress(session: Session) -> list[dict[str, Any]]:
    """Per project: tasks, labeled (a current, not cancelled annotation), reviewed (a ground-truth one).

    One pass over the live annotations grouped by task (the (task, deleted, valid, cancelled, ground truth)
    index), joined to the tasks only when there is more than one project."""
    alive = Annotation.deleted_at.is_(None)
    counts = session.execute(select(Task.project_id, func.count(), func.count(Task.ls_deleted_at))
                             .group_by(Task.project_id)).all()
    tasks, gone = {pid: n for pid, n, _ in counts}, {pid: n for pid, _, n in counts}
    per_task = (select(Annotation.task_id,
                       func.max(case((Annotation.was_cancelled.is_(False), 1), else_=0)).label("labeled"),
                       func.max(case((Annotation.ground_truth.is_(True), 1), else_=0)).label("reviewed"))
                .where(alive).group_by(Annotation.task_id).subquery())
    sole = counts[0][0] if len(counts) == 1 else None  # one project holds every task
    if sole is not None:
        n_labeled, n_reviewed = session.execute(
            select(func.sum(per_task.c.labeled), func.sum(per_task.c.reviewed))).one()
        labeled, reviewed = {sole: int(n_labeled or 0)}, {sole: int(n_reviewed or 0)}
    else:
        rows = session.execute(select(Task.project_id, func.sum(per_task.c.labeled), func.sum(per_task.c.reviewed))
                               .join(per_task, per_task.c.task_id == Task.id).group_by(Task.project_id)).all()
        labeled = {pid: int(n or 0) for pid, n, _ in rows}
        reviewed = {pid: int(n or 0) for pid, _, n in rows}
    out = []
    for p in session.scalars(select(LabelingProject).order_by(LabelingProject.name)):
        out.append({"project": p, "tasks": tasks.get(p.id, 0), "labeled": labeled.get(p.id, 0),
                    "reviewed": reviewed.get(p.id, 0), "deleted_in_ls": gone.get(p.id, 0),
                    "ls_link": f"{p.ls_url.rstrip('/')}/projects/{p.ls_project_id}"
                    if p.ls_url and p.ls_url.startswith(("http://", "https://")) and p.ls_project_id else None})
    return out


def annotators(session: Session, project_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Annotation.annotator, func.count(), func.count(distinct(Annotation.task_id)),
               func.avg(Annotation.lead_time), func.max(Annotation.updated_at),
               func.sum(case((Annotation.was_cancelled.is_(True), 1), else_=0)))
        .where(Annotation.deleted_at.is_(None), *_in_project(project_id, only_project(session)))
        .group_by(Annotation.annotator).order_by(Annotation.annotator)).all()
    return [{"annotator": r[0] or "(unknown)", "revisions": r[1], "tasks": r[2], "lead_time": r[3], "last": r[4],
             "cancelled": int(r[5] or 0)} for r in rows]


def current_by_task(session: Session, project_id: int, limit: int = AGREEMENT_TASKS
                    ) -> dict[int, dict[str, tuple[int, list[dict[str, Any]]]]]:
    """{task id: {annotator: (annotation id, targets)}} of the newest tasks with two or more annotators,
    from each annotation's newest revision (not deleted, not cancelled, valid; ground truth kept apart)."""
    alive = (Annotation.deleted_at.is_(None), Annotation.was_cancelled.is_(False), Annotation.valid.is_(True),
             Annotation.ground_truth.is_(False))
    # newest tasks first, grouped in the index's task order: the scan stops after `limit` groups
    multi = (select(Annotation.task_id).where(*alive, *_in_project(project_id, only_project(session)))
             .group_by(Annotation.task_id).having(func.count(distinct(Annotation.annotator)) >= 2)
             .order_by(Annotation.task_id.desc()).limit(limit))
    task_ids = list(session.scalars(multi))
    if not task_ids:
        return {}
    # every revision of those tasks' annotations; the newest of each is picked here, then kept if alive
    newest: dict[tuple[int, int], tuple] = {}
    for row in session.execute(
            select(Annotation.task_id, Annotation.ls_annotation_id, Annotation.revision, Annotation.id,
                   Annotation.annotator, Annotation.targets, Annotation.deleted_at.is_(None)
                   & Annotation.was_cancelled.is_(False) & Annotation.valid.is_(True)
                   & Annotation.ground_truth.is_(False))
            .where(Annotation.task_id.in_(task_ids))):
        key = (row[0], row[1])
        if key not in newest or row[2] > newest[key][2]:
            newest[key] = row
    out: dict[int, dict[str, tuple[int, list[dict[str, Any]]]]] = {}
    for task_id, _, _, ann_id, who, targets, ok in sorted(newest.values(), key=lambda r: (r[0], r[3])):
        if ok:
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
    listed = [d["task"].id for d in disagreements]
    decided = set(session.scalars(select(Annotation.task_id).where(
        Annotation.task_id.in_(listed), Annotation.ground_truth.is_(True), Annotation.deleted_at.is_(None)))) \
        if listed else set()
    open_ = [d for d in disagreements if d["task"].id not in decided]
    invalid = session.execute(
        select(Annotation, Task).join(Task, Task.id == Annotation.task_id)
        .where(Task.project_id == project_id, Annotation.valid.is_(False), Annotation.deleted_at.is_(None))
        .order_by(Annotation.id.desc()).limit(limit)).all()
    return {"disagreements": open_[:limit], "open": len(open_), "invalid": invalid}
