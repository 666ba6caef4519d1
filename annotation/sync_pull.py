"""Pull annotations incrementally: only tasks whose `updated_at` moved since the last cursor.

Any annotation create, update or delete bumps its task's `updated_at`, so one filtered task query
finds every change; its cost grows with the number of changed tasks, not the project size. The
cursor is Label Studio's own newest `updated_at` (no clock skew). A write still in flight when we
read could carry an older `updated_at`, so the next pull re-reads an OVERLAP window before the
cursor, unless the previous pull started (by Label Studio's Date header) more than OVERLAP after
the cursor: then every such write had committed before it read. Tasks seen twice are harmless:
unchanged results add no revision.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from annotation.client import LabelStudioClient
from annotation.connect import client_for
from annotation.convert import spec_from_config
from annotation.projects import load_project
from annotation.sync import SyncReport, apply_tasks, parse_time
from storage.base import utcnow
from storage.engine import session_scope
from storage.label_models import LabelingProject

OVERLAP = timedelta(seconds=0.5)  # an annotation save commits within ~0.1 s
PAGE = 500


def user_emails(client: LabelStudioClient) -> dict[int, str]:
    users = client.list_users()
    users = users.get("results", users) if isinstance(users, dict) else users
    return {u["id"]: u.get("email") or u.get("username") for u in users}


def mark_deleted_tasks(store, client: LabelStudioClient, project, moment) -> list[str]:
    """Mark (never erase) pushed tasks that Label Studio no longer holds; one task-id listing of the project.

    Only tasks pushed before the listing starts are judged, so a push running meanwhile is never mistaken
    for a deletion. The mark stays; the sample leaves later versions ("task deleted in Label Studio").
    """
    from sqlalchemy import select

    from storage.label_models import Task

    with session_scope(store.sessions) as session:
        pushed = dict(session.execute(select(Task.id, Task.ls_task_id).where(
            Task.project_id == project.id, Task.ls_task_id.is_not(None), Task.ls_deleted_at.is_(None))).all())
    held = {t["id"] for t in client.iter_tasks(project.ls_project_id, fields="task_only", page_size=5000)}
    gone = [tid for tid, ls_id in pushed.items() if ls_id not in held]
    if not gone:
        return []
    with session_scope(store.sessions) as session:
        rows = list(session.scalars(select(Task).where(Task.id.in_(gone))))
        for task in rows:
            task.ls_deleted_at = moment or utcnow()
        return sorted(t.sample_key for t in rows)


def pull(store, project_name: str, *, client: LabelStudioClient | None = None, full: bool = False,
         overlap: timedelta = OVERLAP, progress: Callable[[int, int | None], None] | None = None) -> SyncReport:
    """Store every annotation revision changed since the last pull (all of them with `full`);
    `progress(tasks read, None)` is called after each stored batch."""
    project = load_project(store, project_name)
    spec = spec_from_config(project.label_config, (project.options or {}).get("label_map"))
    own = client is None
    client = client or client_for(store.settings)
    report = SyncReport()
    try:
        users = user_emails(client)  # also reads the server's clock before the task query
        checked_at = client.last_date
        since = project.pull_cursor
        if full or since is None:
            since = None
        elif project.pull_checked_at is None or project.pull_checked_at - since < overlap:
            since = since - overlap
        cursor = project.pull_cursor
        seen: set[int] = set()
        batch: list[dict] = []

        def flush() -> None:
            with session_scope(store.sessions) as session:
                report.merge(apply_tasks(session, project.id, spec, batch, via="pull", complete=True, users=users))
            batch.clear()
            if progress is not None:
                progress(len(seen), None)

        for task in client.tasks_updated_since(project.ls_project_id, since):
            if task["id"] in seen:
                continue
            seen.add(task["id"])
            batch.append(task)
            moment = parse_time(task.get("updated_at"))
            if moment and (cursor is None or moment > cursor):
                cursor = moment
            if len(batch) >= PAGE:
                flush()
        if batch:
            flush()
        report.deleted_tasks = mark_deleted_tasks(store, client, project, checked_at)
        with session_scope(store.sessions) as session:
            row = session.get(LabelingProject, project.id)
            row.pull_cursor, row.pull_checked_at = cursor, checked_at
    finally:
        if own:
            client.close()
    return report
