"""`harvest eval`: a model against a version's split, beside the human bound, per slice, worst samples."""
from __future__ import annotations

from typing import Any

from evaluate import data
from evaluate.classification import evaluate_classification
from evaluate.detection import AREAS, evaluate_detection, worst
from evaluate.errors import NotEvaluable
from evaluate.slices import slice_table
from storage.quality import Thresholds


def kind_of(members: list[data.Member]) -> str:
    kinds = {t.get("type") for m in members for t in m.targets}
    if "bbox" in kinds:
        return "detection"
    if "choice" in kinds:
        return "classification"
    raise NotEvaluable(f"the samples hold {sorted(kinds) or 'no'} targets; harvest eval measures boxes (detection) "
                       "and choices (classification).")


def _pairs(annotations: dict[str, dict[str, list[dict[str, Any]]]], keys: set[str]) -> dict[str, tuple[list, list]]:
    """sample -> (first annotator's targets, second annotator's targets) where two annotators labeled it."""
    out = {}
    for key, per in annotations.items():
        names = sorted(per)
        if key in keys and len(names) >= 2:
            out[key] = (per[names[0]], per[names[1]])
    return out


def _scored(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**t, "score": 1.0} for t in targets]


def human_bound(kind: str, pairs: dict[str, tuple[list, list]], sizes: dict[str, tuple], classes: list[str]) -> dict[str, Any]:
    """The metric between two annotators of the same samples, each direction, averaged."""
    if not pairs:
        return {"samples": 0}
    a = {k: p[0] for k, p in pairs.items()}
    b = {k: p[1] for k, p in pairs.items()}
    if kind == "detection":
        ab = evaluate_detection(a, {k: _scored(v) for k, v in b.items()}, sizes, classes).summary()
        ba = evaluate_detection(b, {k: _scored(v) for k, v in a.items()}, sizes, classes).summary()
        return {"samples": len(pairs), "mAP": _avg(ab["mAP"], ba["mAP"]), "AP50": _avg(ab["AP50"], ba["AP50"])}
    ab = evaluate_classification(a, b, classes)
    ba = evaluate_classification(b, a, classes)
    return {"samples": len(pairs), "accuracy": ab["accuracy"], "macro_f1": _avg(ab["macro_f1"], ba["macro_f1"])}


def _avg(x: float | None, y: float | None) -> float | None:
    vals = [v for v in (x, y) if v is not None]
    return sum(vals) / len(vals) if vals else None


def evaluate_version(store: Any, version: str, model: str, split: str = "test", score_threshold: float = 0.5,
                     worst_n: int = 20, min_slice: int = 5, thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """Everything `harvest eval` prints, as a dict (JSON-ready)."""
    members = data.members(store, version, split)
    if not members:
        raise NotEvaluable(f"version {version!r} has no samples in split {split!r}; pick --split train, val, test or all.")
    kind = kind_of(members)
    keys = [m.key for m in members]
    predicted = data.predictions(store, model, keys)
    truth = {m.key: m.targets for m in members}
    sizes = {m.key: (m.width, m.height) for m in members}
    classes = sorted({t["label"] for m in members for t in m.targets if isinstance(t.get("label"), str)})
    pairs = _pairs(data.annotations_by_annotator(store, members), set(keys))
    report: dict[str, Any] = {"version": version, "model": model, "split": split, "kind": kind,
                              "samples": len(members), "unpredicted": sorted(set(keys) - set(predicted))}
    if kind == "detection":
        ev = evaluate_detection(truth, predicted, sizes, classes, score_threshold)
        overall = ev.summary()
        primary, metric = "mAP", (lambda ks: ev.summary(ks)["mAP"])
        same = ev.summary(sorted(pairs)) if pairs else None
        report["worst"] = worst(ev.errors, worst_n)
        report["object_size"] = [{"dimension": "object_size", "group": a, "value": overall[f"AP_{a}"],
                                  "delta": None if overall[f"AP_{a}"] is None or overall["mAP"] is None
                                  else overall[f"AP_{a}"] - overall["mAP"]} for a in AREAS[1:]]
    else:
        overall = evaluate_classification(truth, predicted, classes)
        primary = "accuracy"

        def metric(ks: list[str]) -> float | None:
            return evaluate_classification(truth, predicted, classes, ks)["accuracy"]

        same = evaluate_classification(truth, predicted, classes, sorted(pairs)) if pairs else None
        report["worst"] = overall.pop("wrong")[:worst_n]
    bound = human_bound(kind, pairs, sizes, classes)
    report["overall"] = overall
    report["primary"] = primary
    model_same = same[primary] if same else None
    bound["model_on_same_samples"] = model_same
    bound["gap"] = None if bound.get(primary) is None or model_same is None else bound[primary] - model_same
    report["human_bound"] = bound
    report["slices"] = slice_table(members, metric, overall[primary], min_slice, thresholds)
    return report
