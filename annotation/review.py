"""The DB side of agreement: current annotations per task and annotator, the project table, consensus.

`consensus_targets` is what the export stage calls: one target list per labeled sample.
"""
from __future__ import annotations

from typing import Any

from storage.agreement import AgreementTable, agreement, consensus
from annotation.projects import load_project
from storage.engine import session_scope
from storage.labels import current_annotations


def annotations_by_task(store, project_name: str) -> dict[str, dict[Any, list[dict[str, Any]]]]:
    """{sample_key: {annotator: targets}} from the newest valid, not deleted, not cancelled revisions.

    A ground-truth annotation, when a task has one, is kept under the annotator key "ground_truth".
    """
    project = load_project(store, project_name)
    out: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    with session_scope(store.sessions) as session:
        for task, ann in current_annotations(session, project.id):
            if not ann.valid or ann.was_cancelled:
                continue
            who = "ground_truth" if ann.ground_truth else (ann.annotator or ann.annotator_id or ann.ls_annotation_id)
            out.setdefault(task.sample_key, {})[who] = list(ann.targets)  # later revisions/annotations win
    return out


def project_agreement(store, project_name: str, threshold: float = 0.5) -> AgreementTable:
    tasks = {k: {w: t for w, t in v.items() if w != "ground_truth"} for k, v in
             annotations_by_task(store, project_name).items()}
    return agreement(tasks, threshold)


def consensus_targets(store, project_name: str, threshold: float = 0.5) -> dict[str, list[dict[str, Any]]]:
    """sample_key -> targets: the ground truth if marked, the only annotation, or the consensus."""
    out = {}
    for key, by in annotations_by_task(store, project_name).items():
        if "ground_truth" in by:
            out[key] = by["ground_truth"]
        elif len(by) == 1:
            out[key] = next(iter(by.values()))
        else:
            out[key] = consensus(by, threshold).targets
    return out
