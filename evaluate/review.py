"""Label issues of a version for review: select the top-N suspect samples (pure selection over the
store), and a thin push that shows each in Label Studio with the suspect region and the model's box.

The push goes through the review queue that adjudication uses (annotation/review_queue.py): two
predictions on each sample's existing Label Studio task — `issue:<MODEL>` (the suspect region as
labeled, or the missing box) and `<MODEL>` (what the model predicted there) — converted and validated
by the push machinery, recorded once per (task, model version). The reviewer submits the corrected
annotation and marks it as ground truth; once pulled, it decides the sample in later versions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluate import data
from evaluate.errors import EvaluateError
from evaluate.issues import class_issues, detection_issues
from evaluate.report import kind_of


@dataclass(frozen=True)
class Suspect:
    sample_key: str
    task_id: int | None
    score: float
    issue: str | None
    region: dict[str, Any] | None
    prediction: dict[str, Any] | None


def label_issues(store: Any, version: str, model: str, split: str = "all") -> list[dict[str, Any]]:
    """The samples of the version (or split) the model predicted on, ranked by cleanlab's label quality,
    lowest first (a sample the model never saw is no suspect, whatever its rank)."""
    members = data.members(store, version, split)
    kind = kind_of(members)
    labels = {m.key: m.targets for m in members}
    predicted = data.predictions(store, model, list(labels))
    classes = sorted({t["label"] for m in members for t in m.targets if isinstance(t.get("label"), str)})
    ranked = detection_issues(labels, predicted, classes) if kind == "detection" else class_issues(labels, predicted, classes)
    task_of = {m.key: m.task_id for m in members}
    ranked = [r for r in ranked if r["id"] in predicted]
    for r in ranked:
        r["task_id"] = task_of.get(r["id"])
    return ranked


def suspects(store: Any, version: str, model: str, top: int = 30, split: str = "all") -> list[Suspect]:
    """The `top` samples most likely mislabeled, with the suspect region and the model's prediction."""
    return [Suspect(r["id"], r["task_id"], r["score"], r["issue"], r["region"], r["prediction"])
            for r in label_issues(store, version, model, split)[:top]]


def _clean(target: dict[str, Any] | None) -> list[dict[str, Any]]:
    if target is None:
        return []
    return [{k: v for k, v in target.items() if k not in ("score", "instance")}]


def review_groups(found: list[Suspect], model: str) -> dict[str, list[dict[str, Any]]]:
    """sample key -> the prediction groups the review queue shows: `issue:<MODEL>` (the suspect region as
    labeled, scored by its label quality) and `<MODEL>` (what the model predicted there)."""
    out = {}
    for s in found:
        groups = [{"model_version": f"issue:{model}", "score": s.score, "targets": _clean(s.region)},
                  {"model_version": model, "score": (s.prediction or {}).get("score"), "targets": _clean(s.prediction)}]
        out[s.sample_key] = [g for g in groups if g["targets"]]
    return out


def default_version(store: Any, model: str) -> str:
    """The one dataset version the model's predictions were imported for; an error naming them otherwise."""
    from sqlalchemy import select

    from storage.dataset_models import DatasetVersion
    from storage.eval_models import ModelPrediction

    with store.sessions() as session:
        names = sorted(set(session.scalars(select(DatasetVersion.name).join(
            ModelPrediction, ModelPrediction.version_id == DatasetVersion.id).where(ModelPrediction.model == model))))
    if len(names) != 1:
        raise EvaluateError(f"model {model!r} has predictions for {len(names)} dataset version(s) {names}; expected "
                            "exactly one to pick by default. Name it with --version V (or import predictions first: "
                            "`harvest predictions import V FILE --model NAME`).")
    return names[0]


def push_for_review(store: Any, project_name: str, found: list[Suspect], model: str, client: Any = None) -> int:
    """Send the suspects to the project's review queue (annotation/review_queue.py): each task shows the
    suspect region and the prediction. Returns how many tasks show them; every suspect must have a task."""
    from annotation.projects import load_project
    from annotation.review_queue import send_for_review
    from storage.label_models import Task

    project = load_project(store, project_name)
    with store.sessions() as session:
        tasks = {t.sample_key: t.ls_task_id for t in session.query(Task).filter(Task.project_id == project.id)}
    missing = [s.sample_key for s in found if tasks.get(s.sample_key) is None]
    if missing:
        raise EvaluateError(f"{len(missing)} suspects (e.g. {missing[0]}) have no Label Studio task in project "
                            f"{project_name!r}; push the project first (`harvest label push`).")
    return send_for_review(store, project_name, review_groups(found, model),
                           reason=f"label issues found with model {model}", client=client).tasks
