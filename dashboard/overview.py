"""Overview and crawl-run queries: per-source counts (the figures of `harvest status`), runs over time,
drops by reason, what needs attention. Every count is one aggregate query, whatever the store's size."""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import case, distinct, func, or_, select
from sqlalchemy.orm import Session

from dashboard.cache import Memo, uncached
from storage.models import (
    Annotation, Asset, CrawlRun, DatasetVersion, ImageRejection, Item, ItemAsset, LabelingProject, Source, Task,
)

RUNS_PER_SOURCE = 30  # runs shown in the charts over time


def _by_key(session: Session, stmt) -> dict[int, int]:
    return {key: n for key, n in session.execute(stmt)}


def link_counts(session: Session) -> dict[int, tuple[int, int]]:
    """{source id: (images, assets)}: the source's links and the distinct assets they reach.

    SQLite: one join with COUNT(DISTINCT) (a nested loop over the (item, asset) index, cheap there). PostgreSQL
    sorts the joined rows for the DISTINCT: there one join counts the links, and the distinct count is the links
    less, for each asset linked more than once (found from the item_assets.asset_id index alone), its extra
    links within the source - exact, as a source's distinct assets are its links minus, per asset, (its links
    in the source - 1)."""
    joined = select(Item.source_id).join(ItemAsset, ItemAsset.item_id == Item.id).group_by(Item.source_id)
    if session.get_bind().dialect.name == "sqlite":
        return {sid: (n, assets) for sid, n, assets in session.execute(
            joined.add_columns(func.count(), func.count(distinct(ItemAsset.asset_id))))}
    links = _by_key(session, joined.add_columns(func.count()))
    shared = select(ItemAsset.asset_id).group_by(ItemAsset.asset_id).having(func.count() > 1)
    extra = _by_key(session, joined.add_columns(func.count() - func.count(distinct(ItemAsset.asset_id)))
                    .where(ItemAsset.asset_id.in_(shared)))
    return {sid: (n, n - int(extra.get(sid, 0))) for sid, n in links.items()}


def annotation_counts(session: Session, tasks: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int, int]]:
    """{project id: (live annotations, invalid ones, tasks left without a live annotation and not deleted in
    Label Studio)} for the projects holding tasks; `tasks` is {project id: (tasks, tasks deleted in Label Studio)}.

    When one project holds every task, it holds every annotation too (each belongs to one task): its figures
    are read from the annotations' (task, deleted, valid) index alone, without the tasks x annotations join."""
    if len(tasks) != 1:
        # one pass over tasks and their live annotations (a task without one joins one row of NULLs)
        unlabeled = case((Annotation.task_id.is_(None) & Task.ls_deleted_at.is_(None), 1), else_=0)
        return {pid: (n, int(invalid or 0), int(waiting or 0)) for pid, n, invalid, waiting in session.execute(
            select(Task.project_id, func.count(Annotation.task_id),
                   func.sum(case((Annotation.valid.is_(False), 1), else_=0)), func.sum(unlabeled))
            .outerjoin(Annotation, (Annotation.task_id == Task.id) & Annotation.deleted_at.is_(None))
            .group_by(Task.project_id))}
    live = Annotation.deleted_at.is_(None)
    n, invalid = session.execute(select(func.count(), func.sum(case((Annotation.valid.is_(False), 1), else_=0)))
                                 .where(live)).one()
    # DISTINCT in a subquery: read in the index's task order on both backends
    labeled = session.scalar(select(func.count()).select_from(select(Annotation.task_id).where(live).distinct()
                                                              .subquery()))
    (project, (n_tasks, n_gone)), = tasks.items()
    labeled_gone = session.scalar(select(func.count()).where(Task.ls_deleted_at.is_not(None), select(Annotation.id)
                                  .where(Annotation.task_id == Task.id, live).exists())) if n_gone else 0
    return {project: (n, int(invalid or 0), (n_tasks - n_gone) - (labeled - labeled_gone))}


def _in_own_session(engine, compute):
    with Session(engine) as own:
        return compute(own)


def _counts_of_tasks(session: Session) -> tuple[dict[int, int], dict[int, tuple[int, int, int]], dict[int, int]]:
    """(tasks per project, annotation_counts, items without licence per source)."""
    no_licence = _by_key(session, select(Item.source_id, func.count()).where(
        or_(Item.licence.is_(None), Item.licence == "")).group_by(Item.source_id))
    task_rows = {pid: (n, gone) for pid, n, gone in session.execute(
        select(Task.project_id, func.count(), func.count(Task.ls_deleted_at)).group_by(Task.project_id))}
    return {pid: n for pid, (n, _) in task_rows.items()}, annotation_counts(session, task_rows), no_licence


def store_counts(session: Session) -> dict[str, Any]:
    """The figures of `harvest status`: {"sources": source id -> counts, "totals": the `all` row and the
    number of versions}. A few GROUP BY queries, each read from a covering index; the totals are the
    sums of the groups (every run, item, link, task and annotation belongs to exactly one source or project)."""
    # on PostgreSQL the links' join, the largest of these queries, runs meanwhile on a second connection (a
    # server process of its own; on SQLite a second thread gained nothing, measured)
    engine = session.get_bind()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_in_own_session, engine, link_counts) if engine.dialect.name == "postgresql" else None
        runs = _by_key(session, select(CrawlRun.source_id, func.count()).group_by(CrawlRun.source_id))
        items = _by_key(session, select(Item.source_id, func.count()).group_by(Item.source_id))
        rest = _counts_of_tasks(session)
        links = pending.result() if pending is not None else link_counts(session)
    tasks, anns, no_licence = rest
    project_source = dict(session.execute(select(LabelingProject.id, LabelingProject.source_id)).all())
    per_source: dict[int, dict[str, int]] = {}
    for sid in set(runs) | set(items) | set(session.scalars(select(Source.id))):
        pids = [pid for pid, psid in project_source.items() if psid == sid]
        per_source[sid] = {"runs": runs.get(sid, 0), "items": items.get(sid, 0),
                           "images": links.get(sid, (0, 0))[0], "assets": links.get(sid, (0, 0))[1],
                           "tasks": sum(tasks.get(p, 0) for p in pids),
                           "annotations": sum(anns.get(p, (0, 0, 0))[0] for p in pids),
                           "no_licence": no_licence.get(sid, 0)}
    totals = {"runs": sum(runs.values()), "items": sum(items.values()), "images": sum(n for n, _ in links.values()),
              "assets": session.scalar(select(func.count(Asset.id))), "tasks": sum(tasks.values()),
              "annotations": sum(a[0] for a in anns.values()), "invalid": sum(a[1] for a in anns.values()),
              "waiting": sum(a[2] for a in anns.values()),
              "versions": session.scalar(select(func.count(DatasetVersion.id)))}
    return {"sources": per_source, "totals": totals}


def next_run(schedule: str | None, now: datetime) -> datetime | None:
    if not schedule:
        return None
    from croniter import croniter

    try:
        return croniter(schedule, now).get_next(datetime)
    except (ValueError, KeyError):
        return None


def recent_runs(session: Session, source_id: int, limit: int = RUNS_PER_SOURCE) -> list[CrawlRun]:
    """The source's newest runs, oldest first (for charts over time)."""
    rows = session.scalars(select(CrawlRun).where(CrawlRun.source_id == source_id)
                           .order_by(CrawlRun.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def run_figures(run: CrawlRun) -> dict[str, Any]:
    """The numbers of one run, from its stored stats (missing keys are 0)."""
    st = run.stats or {}
    return {
        "pages": int(st.get("pages", 0)), "items": int(st.get("items", 0)),
        "stored": int(st.get("images_stored", 0)), "duplicates": int(st.get("duplicates", 0)),
        "near_duplicates": int(st.get("near_duplicates", 0)),
        "dropped": sum(int(v) for v in (st.get("dropped") or {}).values()),
        "errors": int(st.get("errors", 0)),
        "failed_pages": sum(int(v) for v in (st.get("pages_failed") or {}).values()),
    }


def overview(session: Session, now: datetime | None = None, memo: Memo | None = None) -> dict[str, Any]:
    """Everything the overview page shows; the full-table aggregates go through `memo`."""
    now = now or datetime.now(timezone.utc)
    memo = memo or uncached(session)
    figures = memo("store counts", store_counts)
    counts = figures["sources"]
    sources = []
    drops: Counter = Counter()
    for src in session.scalars(select(Source).order_by(Source.name)):
        runs = recent_runs(session, src.id)
        last = runs[-1] if runs else None
        for run in runs:
            drops.update({k: int(v) for k, v in ((run.stats or {}).get("dropped") or {}).items()})
        sources.append({"source": src, "counts": counts.get(src.id, {}), "runs": runs, "last": last,
                        "figures": [run_figures(r) for r in runs], "next_run": next_run(src.schedule, now)})
    rejections = memo("rejections", lambda db: dict(db.execute(
        select(ImageRejection.reason, func.count()).group_by(ImageRejection.reason).order_by(ImageRejection.reason)).all()))
    total = figures["totals"]
    return {"sources": sources, "totals": total, "drops": dict(sorted(drops.items())),
            "rejections": rejections, "attention": attention(session, sources, total), "now": now}


def attention(session: Session, sources: list[dict[str, Any]], totals: dict[str, int]) -> list[dict[str, Any]]:
    """What a team lead should look at: failed or empty last runs, samples to review, items without licence."""
    out = []
    for s in sources:
        last = s["last"]
        if last is not None and last.status in ("failed", "empty"):
            out.append({"kind": f"{last.status} run", "text": f"{s['source'].name}: run {last.id} {last.status}"
                        + (f" — {last.error}" if last.error else ""), "href": f"/runs/{last.id}"})
        if s["counts"].get("no_licence"):
            out.append({"kind": "no licence", "text": f"{s['source'].name}: {s['counts']['no_licence']} item(s) "
                        "without a licence", "href": f"/samples?source={s['source'].name}&licence=(none)"})
    if totals["waiting"]:
        out.append({"kind": "unlabeled", "text": f"{totals['waiting']} task(s) without an annotation",
                    "href": "/labeling"})
    latest = session.scalars(select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(1)).first()
    if latest is not None:
        review = int(((latest.stats or {}).get("needs_review") or {}).get("samples", 0))
        if review:
            out.append({"kind": "review", "text": f"{review} sample(s) held out of {latest.name}: annotators "
                        "disagree, waiting for review", "href": "/labeling#review"})
    if totals["invalid"]:
        out.append({"kind": "invalid", "text": f"{totals['invalid']} annotation(s) contradict their label config",
                    "href": "/labeling#review"})
    return out


def run_page(session: Session, run_id: int, page: int, per_page: int = 100) -> dict[str, Any] | None:
    """One crawl run: stats, rejections (paged), HTTP-error and failed URLs, new/unchanged/gone counts."""
    run = session.get(CrawlRun, run_id)
    if run is None:
        return None
    st = run.stats or {}
    rej = (select(ImageRejection).where(ImageRejection.crawl_run_id == run_id)
           .order_by(ImageRejection.reason, ImageRejection.id))
    total = session.scalar(select(func.count()).select_from(ImageRejection).where(ImageRejection.crawl_run_id == run_id))
    new_items = session.scalar(select(func.count(Item.id)).where(Item.crawl_run_id == run_id))
    return {
        "run": run, "source": run.source, "figures": run_figures(run), "stats": st,
        "rejections": session.scalars(rej.limit(per_page).offset(page * per_page)).all(),
        "rejections_total": total, "page": page, "per_page": per_page,
        "dropped": st.get("dropped") or {}, "pages_failed": st.get("pages_failed") or {},
        "failed_urls": st.get("failed_urls") or [],
        "changes": {"new": int(st.get("items_new", 0)), "unchanged": int(st.get("items_unchanged", 0)),
                    "gone": int(st.get("items_gone", 0)), "first seen in this run": new_items},
        "url_policy": st.get("url_policy") or {},
    }
