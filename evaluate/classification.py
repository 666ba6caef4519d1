"""Classification metrics with scikit-learn: accuracy, per-class precision/recall/F1, confusion matrix."""
from __future__ import annotations

from typing import Any

from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

NONE = "(none)"


def label_of(targets: list[dict[str, Any]]) -> str:
    """The class of a sample: its choice with the highest score (the first one when unscored)."""
    choices = [t for t in targets if t.get("type") == "choice"]
    if not choices:
        return NONE
    return max(choices, key=lambda t: t.get("score", 1.0))["label"]


def evaluate_classification(truth: dict[str, list[dict[str, Any]]], predicted: dict[str, list[dict[str, Any]]],
                            classes: list[str] | None = None, keys: list[str] | None = None) -> dict[str, Any]:
    keys = sorted(truth) if keys is None else sorted(keys)
    y_true = [label_of(truth[k]) for k in keys]
    y_pred = [label_of(predicted.get(k, [])) for k in keys]
    labels = sorted(set(classes or []) | set(y_true) | set(y_pred))
    if not keys:
        return {"accuracy": None, "macro_f1": None, "per_class": {}, "confusion": {"labels": labels, "matrix": []},
                "images": 0}
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    matrix = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    per_class = {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                 for i, c in enumerate(labels) if c != NONE}
    supported = [v["f1"] for v in per_class.values() if v["support"]]
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": sum(supported) / len(supported) if supported else None,
            "per_class": per_class, "confusion": {"labels": labels, "matrix": matrix}, "images": len(keys),
            "wrong": [{"id": k, "truth": t, "predicted": q} for k, t, q in zip(keys, y_true, y_pred) if t != q]}
