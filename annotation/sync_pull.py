"""Pull annotations: the first (or a --full) pull reads every pushed task through Label Studio's JSON
export in chunks; later pulls read only tasks whose `updated_at` moved since the last cursor.

Any annotation create, update or delete bumps its task's `updated_at`, so one filtered task query
finds every change; its cost grows with the number of changed tasks, not the project size. The
cursor is Label Studio's own newest `updated_at` (no clock skew). A write still in flight when we
read could carry an older `updated_at`, so the next pull re-reads an OVERLAP window before the
cursor, unless the previous pull started (by Label Studio's Date header) more than OVERLAP after
the cursor: then every such write had committed before it read. Tasks seen twice are harmless:
unchanged results add no revision.
"""
from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
EXPORT_CHUNK = 900  # task ids per export request (Django refuses more than 1000 query fields)
EXPORT_WORKERS = 2  # export requests in flight while harvest stores the previous chunk


def user_emails(client: LabelStudioClient) -> dict[int, str]:
    users = client.list_users()
    users = users.get("results", users) if isinstance(users, dict) else users
    return {u["id"]: u.get("email") or u.get("username") for u in users}


def mark_deleted_tasks(store, client: LabelStudioClient, project, moment) -> list[str]:
    """Mark (never erase) pushed tasks that Label Studio no longer holds; one task-id listing of the project.

    Only tasks pushed before the listing starts are judged, so a push running meanwhile is never mistaken
    for a deletion. When Label Studio holds exactly as many tasks as harvest pushed, the listing is skipped
    (a deletion hidden by a task imported outside harvest at the same time is found by the next full pull). The mark stays; the sample leaves later versions ("task deleted in Label Studio").
    """
    pushed = _pushed(store, project)
    if client.get_project(project.ls_project_id).get("task_number") == len(pushed):
        return []  # as many tasks as harvest pushed and did not see deleted: the listing would find none
    held = {t["id"] for t in client.iter_tasks(project.ls_project_id, fields="task_only", page_size=5000)}
    return _mark_gone(store, [tid for ls_id, tid in pushed.items() if ls_id not in held], moment)


def _pushed(store, project) -> dict[int, int]:
    """LS task id -> task row id for the project's pushed tasks not marked deleted."""
    from sqlalchemy import select

    from storage.label_models import Task

    with session_scope(store.sessions) as session:
        return dict(session.execute(select(Task.ls_task_id, Task.id).where(
            Task.project_id == project.id, Task.ls_task_id.is_not(None), Task.ls_deleted_at.is_(None))).all())


def _exported(client: LabelStudioClient, project, ids: list[int], workers: int) -> Iterator[list[dict]]:
    """The tasks `ids`, EXPORT_CHUNK at a time through Label Studio's JSON export, in order; up to
    `workers` chunks are fetched while the caller stores the previous one."""
    chunks = [ids[i:i + EXPORT_CHUNK] for i in range(0, len(ids), EXPORT_CHUNK)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        def fetch(chunk: list[int]) -> list[dict]:
            return client.export_tasks(project.ls_project_id, chunk, annotated_only=True)

        ahead = [pool.submit(fetch, c) for c in chunks[:workers]]
        for n in range(len(chunks)):
            tasks = ahead[n].result()
            if n + workers < len(chunks):
                ahead.append(pool.submit(fetch, chunks[n + workers]))
            ahead[n] = None
            yield tasks


def pull(store, project_name: str, *, client: LabelStudioClient | None = None, full: bool = False,
         overlap: timedelta = OVERLAP, progress: Callable[[int, int | None], None] | None = None,
         workers: int = EXPORT_WORKERS) -> SyncReport:
    """Store every annotation revision changed since the last pull (all of them with `full`, on the first
    pull, or when the project's label map changed); `progress(tasks read, total)` after each stored batch.

    A full pull reads the annotated tasks among those harvest pushed through Label Studio's own JSON export
    (its cheapest full read), in chunks fetched ahead while the previous chunk is stored; a task whose stored
    annotations the export no longer shows has them marked deleted, and when Label Studio holds another
    number of tasks than harvest pushed, one listing names the deleted and the foreign ones. Incremental
    pulls query the tasks whose `updated_at` moved.
    """
    project = load_project(store, project_name)
    options = project.options or {}
    label_map = dict(options.get("label_map") or {})
    relabel = label_map != dict(options.get("label_map_applied") or {})
    spec = spec_from_config(project.label_config, label_map)
    own = client is None
    client = client or client_for(store.settings)
    report = SyncReport()
    try:
        users = user_emails(client)  # also reads the server's clock before the task query
        checked_at = client.last_date
        since = project.pull_cursor
        if full or relabel or since is None:
            since = None
        elif project.pull_checked_at is None or project.pull_checked_at - since < overlap:
            since = since - overlap
        cursor = project.pull_cursor
        seen: set[int] = set()

        def store_batch(batch: list[dict], total: int | None) -> None:
            nonlocal cursor
            for task in batch:
                moment = parse_time(task.get("updated_at"))
                if moment and (cursor is None or moment > cursor):
                    cursor = moment
            with session_scope(store.sessions) as session:
                report.merge(apply_tasks(session, project.id, spec, batch, via="pull", complete=True, users=users,
                                         relabel=relabel))
            if progress is not None:
                progress(len(seen), total)

        if since is None:
            pushed = _pushed(store, project)
            for batch in _exported(client, project, sorted(pushed), workers):
                seen.update(t["id"] for t in batch)
                store_batch(batch, len(pushed))
            held = set(pushed)
            if client.get_project(project.ls_project_id).get("task_number") != len(pushed):
                held = {t["id"] for t in client.iter_tasks(project.ls_project_id, fields="task_only", page_size=5000)}
                report.unknown_tasks = sorted(held - set(pushed))
                report.deleted_tasks = _mark_gone(store, [pushed[i] for i in pushed if i not in held], checked_at)
            emptied = [{"id": i, "annotations": []} for i in _annotated(store, project) if i in held and i not in seen]
            for start in range(0, len(emptied), PAGE):  # every annotation of these was deleted in Label Studio
                store_batch(emptied[start:start + PAGE], len(pushed))
        else:
            batch: list[dict] = []
            for task in client.tasks_updated_since(project.ls_project_id, since):
                if task["id"] in seen:
                    continue
                seen.add(task["id"])
                batch.append(task)
                if len(batch) >= PAGE:
                    store_batch(batch, None)
                    batch = []
            if batch:
                store_batch(batch, None)
            report.deleted_tasks = mark_deleted_tasks(store, client, project, checked_at)
        with session_scope(store.sessions) as session:
            row = session.get(LabelingProject, project.id)
            row.pull_cursor, row.pull_checked_at = cursor, checked_at
            if relabel:
                row.options = {**(row.options or {}), "label_map_applied": label_map}
                report.label_map = label_map
    finally:
        if own:
            client.close()
    return report


def _annotated(store, project) -> set[int]:
    """LS task ids of the project's tasks with a stored annotation not marked deleted."""
    from sqlalchemy import select

    from storage.label_models import Annotation, Task

    with session_scope(store.sessions) as session:
        return set(session.scalars(select(Task.ls_task_id).join(Annotation, Annotation.task_id == Task.id).where(
            Task.project_id == project.id, Annotation.deleted_at.is_(None)).distinct()))


def _mark_gone(store, task_ids: list[int], moment) -> list[str]:
    """Mark these task rows deleted in Label Studio (never erased); their sample keys."""
    from sqlalchemy import select

    from storage.label_models import Task

    if not task_ids:
        return []
    with session_scope(store.sessions) as session:
        rows = list(session.scalars(select(Task).where(Task.id.in_(task_ids))))
        for task in rows:
            task.ls_deleted_at = moment or utcnow()
        return sorted(t.sample_key for t in rows)
