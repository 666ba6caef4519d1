"""Send samples to a reviewer in Label Studio, with the regions to judge shown as predictions.

``send_for_review(store, project, samples, reason)`` is the one entry point, whatever decided that the
samples need a look: annotators who disagree (`harvest label review PROJECT`), or a model whose errors
point at suspect labels. ``samples`` maps a sample key to the prediction groups to show,
``[{"model_version": "review/annotator1", "score": None, "targets": [...]}, ...]`` (internal targets).
Each group becomes one Label Studio prediction on the sample's existing task, recorded once per
(task, model_version), so running it again sends nothing twice. The reviewer opens the task, starts from
a prediction (or from scratch), submits, and marks that annotation as ground truth; once pulled, it decides
the sample in every later version, under every revision rule.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from annotation.client import LabelStudioClient
from annotation.connect import client_for
from annotation.convert import spec_from_config
from annotation.projects import load_project
from annotation.sync_push import ls_predictions
from storage.collect_models import Asset
from storage.engine import session_scope
from storage.label_models import Prediction, Task


@dataclass
class ReviewReport:
    tasks: int = 0  # tasks that now show their review predictions
    predictions: int = 0  # predictions sent in this run
    already: int = 0  # predictions recorded by an earlier run (not sent again)
    reason: str = ""
    task_ids: list[int] = field(default_factory=list)  # Label Studio task ids, for the reviewer's filter
    problems: list[str] = field(default_factory=list)


def send_for_review(store, project_name: str, samples: Mapping[str, Sequence[Mapping[str, Any]]], reason: str, *,
                    client: LabelStudioClient | None = None) -> ReviewReport:
    """Show each sample's prediction groups on its Label Studio task; all are validated before any is sent."""
    from label_studio_sdk.label_interface import LabelInterface

    project = load_project(store, project_name)
    spec, interface, labels = spec_from_config(project.label_config), LabelInterface(project.label_config), set(project.labels)
    report = ReviewReport(reason=reason)
    with session_scope(store.sessions) as session:
        tasks = {t.sample_key: t for t in session.scalars(
            select(Task).where(Task.project_id == project.id, Task.sample_key.in_(list(samples))))}
        sizes = dict(((a.id, (a.width, a.height)) for a in session.scalars(
            select(Asset).where(Asset.id.in_([t.asset_id for t in tasks.values() if t.asset_id])))))
        known = set(session.execute(select(Prediction.task_id, Prediction.model_version)
                                    .where(Prediction.task_id.in_([t.id for t in tasks.values()]))).all())
        for t in tasks.values():
            session.expunge(t)
    todo = []
    for key in sorted(samples):
        task = tasks.get(key)
        if task is None or task.ls_task_id is None:
            report.problems.append(f"{key}: not a task in Label Studio yet; run `harvest label push {project_name}`")
            continue
        groups = [dict(g) for g in samples[key]]
        converted = ls_predictions(groups, spec, interface, *sizes.get(task.asset_id, (None, None)), labels, key)
        todo.append((task, converted))
    own = client is None
    client = client or client_for(store.settings)
    try:
        for task, converted in todo:
            report.tasks += 1
            report.task_ids.append(task.ls_task_id)
            for p in converted:
                if (task.id, p["model_version"]) in known:
                    report.already += 1
                    continue
                made = client.create_prediction(task.ls_task_id, p["result"], p["model_version"], p["score"])
                with session_scope(store.sessions) as session:  # recorded as soon as Label Studio has it
                    session.add(Prediction(task_id=task.id, ls_prediction_id=(made or {}).get("id"),
                                           model_version=p["model_version"], score=p["score"], result=p["result"],
                                           targets=p["targets"]))
                report.predictions += 1
    finally:
        if own:
            client.close()
    return report
