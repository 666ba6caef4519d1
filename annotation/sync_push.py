"""Push samples to Label Studio: bulk imports, idempotent across re-runs and crashes.

Order of operations: (1) convert and validate every pre-annotation; (2) if pending rows were left
by an earlier run, or Label Studio holds a different number of tasks than harvest recorded, list
the project's tasks' `harvest_sample` keys once; (3) batch by batch: record a Task row per new
sample as pending (ls_task_id NULL) and commit, adopt rows whose key Label Studio already holds,
import the rest in one request, and record the task ids (Label Studio imports batch k while harvest
records batch k-1 and prepares k+1). A crash anywhere leaves pending rows that (2) reconciles.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from annotation.client import LabelStudioClient
from annotation.connect import client_for
from annotation.convert import spec_from_config, targets_to_results
from annotation.errors import ConversionError
from annotation.media import image_urls
from annotation.projects import load_project
from storage.base import utcnow
from storage.collect_models import Asset
from storage.engine import session_scope
from storage.label_models import Prediction
from storage.labels import (add_pending_tasks, count_tasks, mark_pushed, new_image_samples, new_text_samples,
                            pending_tasks, task_ids)
from storage.targets import TargetError, validate_target
from storage.upsert import upsert

KEY = "harvest_sample"
PREDICTION_KEY = ("task_id", "model_version")  # unique: a re-run or an adopted task records a prediction once


@dataclass
class PushReport:
    new: int = 0  # samples recorded as tasks in this run
    imported: int = 0  # tasks sent to Label Studio in this run
    adopted: int = 0  # pending tasks found already in Label Studio (an earlier run crashed)
    predictions: int = 0
    batches: int = 0
    reconciled: bool = False
    problems: list[str] = field(default_factory=list)


def sample_key(kind: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{'asset' if kind == 'image' else 'item'}:{key}"
    return key


def ls_predictions(raw: dict[str, Any] | list[dict[str, Any]] | None, spec, interface, width, height,
                   labels: set[str], key: str) -> list[dict[str, Any]]:
    """Internal targets (or {"model_version", "score", "targets"}) -> validated LS prediction dicts."""
    if not raw:
        return []
    groups = raw if isinstance(raw, list) and raw and isinstance(raw[0], dict) and "targets" in raw[0] else [raw]
    versions = [str(g.get("model_version", "harvest")) if isinstance(g, dict) else "harvest" for g in groups]
    if len(set(versions)) < len(versions):
        raise ConversionError(f"prediction for {key}: expected one prediction per model_version, found versions "
                              f"{versions}; give each prediction of a sample its own model_version")
    out = []
    for group in groups:
        targets = group["targets"] if isinstance(group, dict) else group
        try:
            for target in targets:
                validate_target(target, labels)
        except TargetError as exc:
            raise ConversionError(f"prediction for {key}: {exc}") from None
        result = targets_to_results(targets, spec, width, height)
        errors = interface.validate_prediction({"result": result}, return_errors=True)
        if errors:
            raise ConversionError(f"prediction for {key} does not fit the label config: {errors}")
        meta = group if isinstance(group, dict) else {}
        out.append({"model_version": str(meta.get("model_version", "harvest")), "score": meta.get("score"),
                    "result": result, "targets": targets})
    return out


def ordered_new_keys(store, project, order: list[str]) -> list[str]:
    """The project's new samples (no task yet), the keys of `order` first in that order, the rest by id."""
    with session_scope(store.sessions) as session:
        if project.options.get("kind", "image") == "text":
            new = [f"item:{i.id}" for i in new_text_samples(session, project, None)]
        else:
            new = [f"asset:{a.id}" for a in new_image_samples(session, project, None)]
    rank = {k: i for i, k in enumerate(order)}
    return sorted(new, key=lambda k: rank.get(k, len(rank)))  # stable: unranked samples keep id order


def _by_keys(session, model, keys: list[str]) -> list[Any]:
    ids = [int(k.split(":", 1)[1]) for k in keys]
    found = {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _task_rows(store, project, limit: int | None, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows for the next `limit` new samples, by id, or exactly the samples `keys` (in that order)."""
    from storage.collect_models import Item

    rows = []
    with session_scope(store.sessions) as session:
        if project.options.get("kind", "image") == "text":
            items = _by_keys(session, Item, keys) if keys is not None else new_text_samples(session, project, limit)
            for item in items:
                key = f"item:{item.id}"
                rows.append({"project_id": project.id, "sample_key": key, "asset_id": None, "item_id": item.id,
                             "data": {"text": item.text, KEY: key}})
            return rows
        assets = _by_keys(session, Asset, keys) if keys is not None else new_image_samples(session, project, limit)
    for asset, url in zip(assets, image_urls(store, assets)):  # local files, or signed media URLs
        key = f"asset:{asset.id}"
        rows.append({"project_id": project.id, "sample_key": key, "asset_id": asset.id, "item_id": None,
                     "data": {"image": url, KEY: key, "width": asset.width, "height": asset.height}})
    return rows


def held_keys(client: LabelStudioClient, project) -> dict[str, int]:
    """harvest_sample -> LS task id for every task Label Studio holds in the project (one listing)."""
    held: dict[str, int] = {}
    for task in client.iter_tasks(project.ls_project_id, fields="task_only", page_size=5000):
        key = (task.get("data") or {}).get(KEY)
        if key is not None:
            held.setdefault(key, task["id"])
    return held


def _sizes(store, keys: list[str]) -> dict[str, tuple[int | None, int | None]]:
    ids = [int(k.split(":", 1)[1]) for k in keys if k.startswith("asset:") and k.split(":", 1)[1].isdigit()]
    with session_scope(store.sessions) as session:
        rows = session.execute(select(Asset.id, Asset.width, Asset.height).where(Asset.id.in_(ids))) if ids else []
        return {f"asset:{i}": (w, h) for i, w, h in rows}


def _batches(store, project, limit: int | None, size: int,
             order: list[str] | None = None) -> Iterator[list[tuple[int, str, dict]]]:
    """Pending rows left by earlier runs, then new samples recorded as pending one batch at a time
    (by id, or with `order`'s keys first)."""
    with session_scope(store.sessions) as session:
        left = [(r.id, r.sample_key, r.data) for r in pending_tasks(session, project.id)]
    for i in range(0, len(left), size):
        yield left[i:i + size]
    queue = ordered_new_keys(store, project, order) if order is not None else None
    remaining = limit
    while remaining is None or remaining > 0:
        step = size if remaining is None else min(size, remaining)
        if queue is not None:
            keys, queue = queue[:step], queue[step:]
            rows = _task_rows(store, project, None, keys) if keys else []
        else:
            rows = _task_rows(store, project, step)
        if not rows:
            return
        with session_scope(store.sessions) as session:
            add_pending_tasks(session, rows)
            ids = task_ids(session, project.id, [r["sample_key"] for r in rows])
        if remaining is not None:
            remaining -= len(rows)
        yield [(ids[r["sample_key"]], r["sample_key"], r["data"]) for r in rows]


def push(store, project_name: str, predictions: dict[Any, Any] | None = None, limit: int | None = None, *,
         client: LabelStudioClient | None = None, batch_size: int | None = None,
         on_batch: Callable[[int], None] | None = None,
         progress: Callable[[int, int | None], None] | None = None,
         order: list[str] | None = None) -> PushReport:
    """Send the project's samples that Label Studio does not hold yet, with optional pre-annotations.

    `predictions` maps a sample key ("asset:12", "item:3", or an asset/item id) to a list of internal
    targets, or to a list of {"model_version", "score", "targets"} dicts. `order` (sample keys) picks
    which new samples go first, and so which `limit` of them; the others follow by id.
    """
    project = load_project(store, project_name)
    kind = project.options.get("kind", "image")
    spec = spec_from_config(project.label_config)
    from label_studio_sdk.label_interface import LabelInterface

    interface = LabelInterface(project.label_config)
    labels = set(project.labels)
    wanted = {sample_key(kind, k): v for k, v in (predictions or {}).items()}
    sizes = _sizes(store, list(wanted))  # convert and validate every prediction before anything is written
    converted = {k: ls_predictions(v, spec, interface, *sizes.get(k, (None, None)), labels, k)
                 for k, v in wanted.items()}
    report = PushReport()
    own = client is None
    client = client or client_for(store.settings)
    size = batch_size or store.settings.labelstudio.batch_size
    try:
        with session_scope(store.sessions) as session:
            leftovers = count_tasks(session, project.id, pushed=False)
            known = count_tasks(session, project.id, pushed=True)
        total = min(leftovers, limit) if limit is not None else leftovers  # for `progress(done, total)`
        held: dict[str, int] = {}
        sent: set[str] = set()
        if leftovers or client.get_project(project.ls_project_id).get("task_number") != known:
            held, report.reconciled = held_keys(client, project), True

        def prediction_rows(batch: list[tuple[int, str, dict]]) -> list[dict[str, Any]]:
            return [{"task_id": tid, "model_version": p["model_version"], "score": p["score"],
                     "result": p["result"], "targets": p["targets"]}
                    for tid, key, _ in batch for p in converted.get(key, [])]

        def record(future: Future, batch: list[tuple[int, str, dict]]) -> None:
            ids = future.result()
            with session_scope(store.sessions) as session:
                mark_pushed(session, [(tid, ls_id) for (tid, _, _), ls_id in zip(batch, ids)], utcnow())
                rows = prediction_rows(batch)
                upsert(session, Prediction, rows, conflict=PREDICTION_KEY)
            report.imported += len(batch)
            report.predictions += len(rows)
            sent.update(key for _, key, _ in batch)
            report.batches += 1
            if on_batch is not None:
                on_batch(report.batches)
            if progress is not None:
                progress(report.imported + report.adopted, total)

        # Label Studio imports batch k while harvest records batch k-1 and prepares batch k+1
        in_flight: tuple[Future, list] | None = None
        with ThreadPoolExecutor(max_workers=1) as pool:
            for batch in _batches(store, project, limit, size, order):
                adopt = [(tid, held[key]) for tid, key, _ in batch if key in held]
                if adopt:  # imported (with its predictions) by a run that crashed before recording it
                    adopted = [b for b in batch if b[1] in held]
                    with session_scope(store.sessions) as session:
                        mark_pushed(session, adopt, utcnow())
                        upsert(session, Prediction, prediction_rows(adopted), conflict=PREDICTION_KEY)
                    report.adopted += len(adopt)
                    sent.update(key for _, key, _ in adopted)
                    batch = [b for b in batch if b[1] not in held]
                if not batch:
                    continue
                payload = [{"data": data} for _, _, data in batch]  # data[harvest_sample]: the idempotency key
                for task, (_, key, _) in zip(payload, batch):
                    if converted.get(key):
                        task["predictions"] = [{k: p[k] for k in ("model_version", "score", "result")}
                                               for p in converted[key]]
                future = pool.submit(client.import_tasks, project.ls_project_id, payload)
                if in_flight is not None:
                    record(*in_flight)
                in_flight = (future, batch)
            if in_flight is not None:
                record(*in_flight)
        report.problems += [f"prediction for {k} not sent: the sample was not pushed in this run (already in "
                            "Label Studio, or beyond --limit)" for k in sorted(converted) if converted[k] and k not in sent]
    finally:
        if own:
            client.close()
    return report
