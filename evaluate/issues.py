"""Likely label errors from a model's out-of-sample predictions, ranked with cleanlab.

Boxes: cleanlab.object_detection scores every labeled box for a swapped class and a bad location,
and every confident predicted box for an overlooked (missing) label; a sample's score is cleanlab's
label quality score, and its suspect region is the box with the lowest of those per-box scores.
Classes: cleanlab.filter.find_label_issues over the predicted class probabilities.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from evaluate.classification import label_of
from evaluate.detection import boxes, iou

ISSUES = ("swap", "badloc", "overlooked")


def _label_arrays(targets: list[dict[str, Any]], index: dict[str, int]) -> dict[str, np.ndarray]:
    bs = boxes(targets)
    return {"bboxes": np.array([[b["x_min"], b["y_min"], b["x_max"], b["y_max"]] for b in bs], dtype=np.float32).reshape(-1, 4),
            "labels": np.array([index[b["label"]] for b in bs], dtype=np.int64)}


def _pred_arrays(targets: list[dict[str, Any]], index: dict[str, int]) -> list[np.ndarray]:
    per: list[list[list[float]]] = [[] for _ in index]
    for b in boxes(targets):
        if b["label"] in index:
            per[index[b["label"]]].append([b["x_min"], b["y_min"], b["x_max"], b["y_max"], float(b.get("score", 1.0))])
    return [np.array(p, dtype=np.float32).reshape(-1, 5) for p in per]


def _nearest(box: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    best = max(candidates, key=lambda c: iou(box, c), default=None)
    return best if best is not None and iou(box, best) > 0 else None


def detection_issues(labels: dict[str, list[dict[str, Any]]], predicted: dict[str, list[dict[str, Any]]],
                     classes: list[str]) -> list[dict[str, Any]]:
    """Every sample with its cleanlab label quality score (low = likely wrong), lowest first, with the
    suspect region (issue type, the labeled or missing box, and the model's box next to it)."""
    from cleanlab.object_detection.rank import (
        compute_badloc_box_scores, compute_overlooked_box_scores, compute_swap_box_scores, get_label_quality_scores,
    )

    keys = sorted(labels)
    index = {c: i for i, c in enumerate(classes)}
    lab = [_label_arrays(labels[k], index) for k in keys]
    pred = [_pred_arrays(predicted.get(k, []), index) for k in keys]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        scores = get_label_quality_scores(lab, pred, verbose=False)
        per_box = {"swap": compute_swap_box_scores(labels=lab, predictions=pred),
                   "badloc": compute_badloc_box_scores(labels=lab, predictions=pred),
                   "overlooked": compute_overlooked_box_scores(labels=lab, predictions=pred)}
    out = []
    for i, key in enumerate(keys):
        given = boxes(labels[key])
        model = sorted(boxes(predicted.get(key, [])), key=lambda b: -b.get("score", 1.0))
        model_flat = [b for c in classes for b in boxes(predicted.get(key, [])) if b["label"] == c]  # cleanlab's order
        best: tuple[float, str, int] | None = None
        for issue in ISSUES:
            vals = np.nan_to_num(np.asarray(per_box[issue][i], dtype=float), nan=1.0)
            if vals.size:
                j = int(vals.argmin())
                if best is None or vals[j] < best[0]:
                    best = (float(vals[j]), issue, j)
        row: dict[str, Any] = {"id": key, "score": float(scores[i]), "issue": None, "region": None, "prediction": None,
                               "box_score": None}
        if best is not None:
            value, issue, j = best
            row.update(issue=issue, box_score=value)
            if issue == "overlooked":
                row["prediction"] = model_flat[j] if j < len(model_flat) else None
                row["region"] = row["prediction"]
            else:
                row["region"] = given[j]
                row["prediction"] = _nearest(given[j], model)
        out.append(row)
    return sorted(out, key=lambda r: (r["score"], r["id"]))


def class_issues(labels: dict[str, list[dict[str, Any]]], predicted: dict[str, list[dict[str, Any]]],
                 classes: list[str]) -> list[dict[str, Any]]:
    """Samples whose given class cleanlab finds likely wrong (find_label_issues), lowest quality first.

    Each prediction's choice targets carry per-class scores; classes without a score share what is left.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    keys = [k for k in sorted(labels) if label_of(labels[k]) in classes]
    index = {c: i for i, c in enumerate(classes)}
    probs = np.zeros((len(keys), len(classes)))
    for r, k in enumerate(keys):
        for t in predicted.get(k, []):
            if t.get("type") == "choice" and t["label"] in index:
                probs[r, index[t["label"]]] = max(probs[r, index[t["label"]]], float(t.get("score", 1.0)))
        rest = max(0.0, 1.0 - probs[r].sum())
        empty = probs[r] == 0
        if empty.any():
            probs[r, empty] = rest / empty.sum()
        probs[r] = np.clip(probs[r], 1e-6, None)
        probs[r] /= probs[r].sum()
    given = np.array([index[label_of(labels[k])] for k in keys])
    flagged = set(np.flatnonzero(find_label_issues(given, probs)).tolist())
    quality = get_label_quality_scores(given, probs)
    out = [{"id": k, "score": float(quality[r]), "issue": "wrong_class" if r in flagged else None,
            "region": {"type": "choice", "label": classes[given[r]]},
            "prediction": {"type": "choice", "label": classes[int(probs[r].argmax())], "score": float(probs[r].max())}}
           for r, k in enumerate(keys)]
    return sorted(out, key=lambda r: (r["score"], r["id"]))
