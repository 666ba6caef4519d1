"""Label issues of a version for review: select the top-N suspect samples (pure selection over the
store), and a thin push that shows each in Label Studio with the suspect region and the model's box.

The push adds two predictions to each sample's existing Label Studio task — `issue:<MODEL>` (the
suspect region as labeled, or the missing box) and `<MODEL>` (what the model predicted there) — with
the push machinery's own conversion and validation (annotation/sync_push.ls_predictions), and
records them in the predictions table. A reviewer filters the project by those model versions.
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
    """Every sample of the version (or split) ranked by cleanlab's label quality, lowest first."""
    members = data.members(store, version, split)
    kind = kind_of(members)
    labels = {m.key: m.targets for m in members}
    predicted = data.predictions(store, model, list(labels))
    classes = sorted({t["label"] for m in members for t in m.targets if isinstance(t.get("label"), str)})
    ranked = detection_issues(labels, predicted, classes) if kind == "detection" else class_issues(labels, predicted, classes)
    task_of = {m.key: m.task_id for m in members}
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


def push_for_review(store: Any, project_name: str, found: list[Suspect], model: str, client: Any = None) -> int:
    """Attach the suspect region and the prediction to each suspect's Label Studio task; returns how many."""
    from label_studio_sdk.label_interface import LabelInterface

    from annotation.connect import client_for
    from annotation.convert import spec_from_config
    from annotation.projects import load_project
    from annotation.sync_push import PREDICTION_KEY, ls_predictions
    from storage.engine import session_scope
    from storage.label_models import Prediction, Task
    from storage.upsert import upsert

    project = load_project(store, project_name)
    spec, interface, labels = spec_from_config(project.label_config), LabelInterface(project.label_config), set(project.labels)
    with store.sessions() as session:
        tasks = {t.sample_key: t for t in session.query(Task).filter(Task.project_id == project.id)}
    missing = [s.sample_key for s in found if s.sample_key not in tasks or tasks[s.sample_key].ls_task_id is None]
    if missing:
        raise EvaluateError(f"{len(missing)} suspects (e.g. {missing[0]}) have no Label Studio task in project "
                            f"{project_name!r}; push the project first (`harvest label push`).")
    own = client is None
    client = client or client_for(store.settings)
    sent = 0
    try:
        rows = []
        for s in found:
            task = tasks[s.sample_key]
            groups = [{"model_version": f"issue:{model}", "score": s.score, "targets": _clean(s.region)},
                      {"model_version": model, "score": (s.prediction or {}).get("score"), "targets": _clean(s.prediction)}]
            w, h = (task.data or {}).get("width"), (task.data or {}).get("height")
            for p in ls_predictions([g for g in groups if g["targets"]], spec, interface, w, h, labels, s.sample_key):
                answer = client.request("POST", "/api/predictions/", json={
                    "task": task.ls_task_id, "model_version": p["model_version"], "score": p["score"],
                    "result": p["result"]})
                rows.append({"task_id": task.id, "ls_prediction_id": answer.get("id"), **p})
            sent += 1
        with session_scope(store.sessions) as session:
            if rows:
                upsert(session, Prediction, rows, conflict=list(PREDICTION_KEY),
                       update=["ls_prediction_id", "score", "result", "targets"])
    finally:
        if own:
            client.close()
    return sent
