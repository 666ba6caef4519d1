"""Store what Label Studio holds for a task: a revision per changed result, deletions as marks.

Shared by pull (a task's full annotation list: absent ones are deleted) and the webhook (one
annotation, or a list of deleted ids). Both paths compute the same result hash, so the same
annotation arriving both ways is one revision.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from annotation.convert import ConfigSpec, results_to_targets
from storage.base import utcnow
from storage.label_models import Task
from storage.labels import add_revisions, latest_revisions, live_annotation_ids, mark_deleted, tasks_by_ls_id


@dataclass
class SyncReport:
    tasks: int = 0
    revisions: int = 0
    unchanged: int = 0
    stale: int = 0  # payloads older than the newest stored revision (replays), not stored
    deleted: int = 0
    invalid: list[str] = field(default_factory=list)  # "task T annotation A: problem"
    unknown_tasks: list[int] = field(default_factory=list)
    deleted_tasks: list[str] = field(default_factory=list)  # sample keys whose task is gone from Label Studio
    relabeled: int = 0  # new revisions of unchanged results because the label map changed
    label_map: dict[str, str] | None = None  # the label map, when this pull applied a changed one

    def merge(self, other: SyncReport) -> None:
        self.tasks += other.tasks
        self.revisions += other.revisions
        self.unchanged += other.unchanged
        self.stale += other.stale
        self.deleted += other.deleted
        self.invalid += other.invalid
        self.unknown_tasks += other.unknown_tasks
        self.deleted_tasks += other.deleted_tasks
        self.relabeled += other.relabeled


def result_hash(result: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _user(value: Any) -> int | None:
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, int) else None


def revision_row(task_id: int, ann: dict[str, Any], spec: ConfigSpec, revision: int, via: str,
                 users: dict[int, str]) -> tuple[dict[str, Any], list[str]]:
    targets, problems = results_to_targets(ann.get("result") or [], spec)
    annotator_id = _user(ann.get("completed_by"))
    row = {
        "task_id": task_id, "ls_annotation_id": int(ann["id"]), "revision": revision,
        "annotator": users.get(annotator_id) if annotator_id is not None else None, "annotator_id": annotator_id,
        "created_at": parse_time(ann.get("created_at")), "updated_at": parse_time(ann.get("updated_at")),
        "lead_time": ann.get("lead_time"), "was_cancelled": bool(ann.get("was_cancelled")),
        "ground_truth": bool(ann.get("ground_truth")), "deleted_at": None,
        "result": ann.get("result") or [], "targets": targets, "result_hash": result_hash(ann.get("result") or []),
        "valid": not problems, "problems": problems, "received_via": via, "received_at": utcnow(),
    }
    return row, problems


def is_stale(ann: dict[str, Any], digest: str, newest) -> bool:
    """A replayed or late payload: Label Studio's `updated_at` is older than the newest stored revision's
    (or the same moment and the same result, e.g. a replay after a deletion). It is not stored: what it
    holds is a state Label Studio itself has replaced, so the newest revision stays the newest."""
    moment, known = parse_time(ann.get("updated_at")), newest.updated_at
    if moment is None or known is None:
        return False
    moment, known = _utc(moment), _utc(known)
    return moment < known or (moment == known and digest == newest.result_hash)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def apply_tasks(session: Session, project_id: int, spec: ConfigSpec, tasks: list[dict[str, Any]], *,
                via: str, complete: bool, users: dict[int, str], relabel: bool = False) -> SyncReport:
    """Store the annotations of LS tasks ({"id", "annotations": [...], "updated_at"}).

    `complete`: the list is everything the task holds, so stored annotations missing from it are deleted.
    `relabel`: the project's label map changed, so an unchanged result whose conversion now differs gets
    a new revision (same raw result, targets and problems under the new map, received via "label-map").
    """
    report = SyncReport()
    rows_by_ls = tasks_by_ls_id(session, project_id, [t["id"] for t in tasks])
    latest = latest_revisions(session, [r.id for r in rows_by_ls.values()])
    live = live_annotation_ids(session, [r.id for r in rows_by_ls.values()]) if complete else {}
    new_rows, gone, touched = [], [], []
    for task in tasks:
        row = rows_by_ls.get(task["id"])
        if row is None:
            report.unknown_tasks.append(task["id"])
            continue
        report.tasks += 1
        seen = set()
        for ann in task.get("annotations") or []:
            ls_id = int(ann["id"])
            seen.add(ls_id)
            before = latest.get((row.id, ls_id))
            digest = result_hash(ann.get("result") or [])
            if before is not None and before.result_hash == digest and before.deleted_at is None:
                if relabel:
                    rev, problems = revision_row(row.id, ann, spec, before.revision + 1, "label-map", users)
                    if rev["targets"] != list(before.targets or []) or problems != list(before.problems or []):
                        new_rows.append(rev)
                        report.relabeled += 1
                        report.invalid += [f"task {task['id']} annotation {ls_id}: {p}" for p in problems]
                        continue
                report.unchanged += 1
                continue
            if before is not None and is_stale(ann, digest, before):
                report.stale += 1
                continue
            rev, problems = revision_row(row.id, ann, spec, (before.revision + 1) if before else 1, via, users)
            new_rows.append(rev)
            report.invalid += [f"task {task['id']} annotation {ls_id}: {p}" for p in problems]
        if complete:
            gone += [(row.id, ls_id) for ls_id in sorted(live.get(row.id, set()) - seen)]
        if task.get("updated_at"):
            touched.append({"id": row.id, "ls_updated_at": parse_time(task["updated_at"])})
    report.revisions = add_revisions(session, new_rows)
    report.deleted = len(gone)
    mark_deleted(session, gone, utcnow())
    if touched:
        session.execute(update(Task), touched)
    return report
