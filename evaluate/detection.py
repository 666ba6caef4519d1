"""Detection metrics with pycocotools: COCO mAP, AP50, AP by object size, per-class AP/AR, and the
per-image errors (false positives, false negatives, class confusions). Pure: internal targets in.

One COCOeval.evaluate() runs per call; slices re-accumulate its per-image results for a subset of
images (pycocotools' own accumulate(p) indexes subsets wrongly, so the subset is cut here).
"""
from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

AREAS = ("all", "small", "medium", "large")


def boxes(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in targets if t.get("type") == "bbox"]


def _coco(images: list[dict[str, Any]], anns: list[dict[str, Any]], cats: list[dict[str, Any]]) -> COCO:
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns, "categories": cats}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


@dataclass
class DetectionEval:
    """A finished COCOeval over `keys` (image ids 1..n in that order) and how to summarise subsets."""

    keys: list[str]
    classes: list[str]
    evaluator: COCOeval
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self, keys: list[str] | None = None) -> dict[str, Any]:
        """mAP, AP50, AP75, AP by size, AR@100 and per-class AP/AR over all images or a subset."""
        ev = self.evaluator if keys is None else self._subset(keys)
        with contextlib.redirect_stdout(io.StringIO()):
            ev.accumulate()
        prec, rec = ev.eval["precision"], ev.eval["recall"]  # [T, R, K, A, M], [T, K, A, M]; M=2 is maxDets 100

        def mean(a: np.ndarray) -> float | None:
            a = a[a > -1]
            return float(a.mean()) if a.size else None

        out: dict[str, Any] = {"mAP": mean(prec[:, :, :, 0, 2]), "AP50": mean(prec[0, :, :, 0, 2]),
                               "AP75": mean(prec[5, :, :, 0, 2]), "AR100": mean(rec[:, :, 0, 2])}
        for a, name in enumerate(AREAS[1:], start=1):
            out[f"AP_{name}"] = mean(prec[:, :, :, a, 2])
        out["per_class"] = {c: {"AP": mean(prec[:, :, k, 0, 2]), "AP50": mean(prec[0, :, k, 0, 2]),
                                "AR": mean(rec[:, k, 0, 2])} for k, c in enumerate(self.classes)}
        out["images"] = len(self.keys if keys is None else keys)
        return out

    def _subset(self, keys: list[str]) -> COCOeval:
        pos = {k: i for i, k in enumerate(self.keys)}
        chosen = sorted(pos[k] for k in keys if k in pos)
        src = self.evaluator
        n_img, n_area = len(self.keys), len(src._paramsEval.areaRng)
        ev = copy.copy(src)
        ev.params = copy.deepcopy(src.params)
        ev.params.imgIds = [i + 1 for i in chosen]
        ev._paramsEval = copy.deepcopy(ev.params)
        ev.evalImgs = [src.evalImgs[k * n_area * n_img + a * n_img + i]
                       for k in range(len(src._paramsEval.catIds)) for a in range(n_area) for i in chosen]
        return ev


def evaluate_detection(truth: dict[str, list[dict[str, Any]]], predicted: dict[str, list[dict[str, Any]]],
                       sizes: dict[str, tuple[int | None, int | None]], classes: list[str] | None = None,
                       score_threshold: float = 0.5) -> DetectionEval:
    """COCO evaluation of `predicted` boxes against `truth` boxes for the images in `truth`."""
    keys = sorted(truth)
    found = {t["label"] for k in keys for t in boxes(truth[k])} | {
        t["label"] for k in keys for t in boxes(predicted.get(k, []))}
    classes = sorted(set(classes or []) | found)
    cat = {c: i + 1 for i, c in enumerate(classes)}
    images, gts, dts = [], [], []
    for i, key in enumerate(keys, start=1):
        w, h = sizes.get(key, (None, None))
        images.append({"id": i, "width": w or 0, "height": h or 0})
        for t in boxes(truth[key]):
            bw, bh = t["x_max"] - t["x_min"], t["y_max"] - t["y_min"]
            gts.append({"id": len(gts) + 1, "image_id": i, "category_id": cat[t["label"]], "iscrowd": 0,
                        "bbox": [t["x_min"], t["y_min"], bw, bh], "area": bw * bh})
        for t in boxes(predicted.get(key, [])):
            bw, bh = t["x_max"] - t["x_min"], t["y_max"] - t["y_min"]
            dts.append({"id": len(dts) + 1, "image_id": i, "category_id": cat[t["label"]], "iscrowd": 0,
                        "bbox": [t["x_min"], t["y_min"], bw, bh], "area": bw * bh,
                        "score": float(t.get("score", 1.0))})
    cats = [{"id": i, "name": c} for c, i in cat.items()]
    ev = COCOeval(_coco(images, gts, cats), _coco(images, dts, cats), "bbox")
    ev.params.imgIds = list(range(1, len(keys) + 1))
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
    result = DetectionEval(keys, classes, ev)
    result.errors = image_errors(truth, predicted, keys, score_threshold)
    return result


def iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    ix = max(0.0, min(a["x_max"], b["x_max"]) - max(a["x_min"], b["x_min"]))
    iy = max(0.0, min(a["y_max"], b["y_max"]) - max(a["y_min"], b["y_min"]))
    inter = ix * iy
    union = ((a["x_max"] - a["x_min"]) * (a["y_max"] - a["y_min"]) + (b["x_max"] - b["x_min"]) * (b["y_max"] - b["y_min"])
             - inter)
    return inter / union if union > 0 else 0.0


def image_errors(truth: dict[str, list[dict[str, Any]]], predicted: dict[str, list[dict[str, Any]]], keys: list[str],
                 score_threshold: float = 0.5, iou_threshold: float = 0.5) -> dict[str, dict[str, Any]]:
    """Per image at IoU 0.5 and score >= threshold: greedy matches by score, then what is left over.

    A left-over prediction overlapping a left-over ground-truth box of another class is a confusion;
    other left-over predictions are false positives, other left-over ground truth false negatives.
    """
    out = {}
    for key in keys:
        gt = boxes(truth[key])
        dt = sorted((t for t in boxes(predicted.get(key, [])) if t.get("score", 1.0) >= score_threshold),
                    key=lambda t: -t.get("score", 1.0))
        free = list(range(len(gt)))
        fps = []
        for d in dt:
            best = max(((iou(d, gt[g]), g) for g in free if gt[g]["label"] == d["label"]), default=(0.0, None))
            if best[0] >= iou_threshold:
                free.remove(best[1])
            else:
                fps.append(d)
        confusions, false_pos = [], []
        for d in fps:
            best = max(((iou(d, gt[g]), g) for g in free), default=(0.0, None))
            if best[0] >= iou_threshold:
                free.remove(best[1])
                confusions.append({"truth": gt[best[1]], "predicted": d})
            else:
                false_pos.append(d)
        out[key] = {"false_positives": false_pos, "false_negatives": [gt[g] for g in free], "confusions": confusions}
    return out


def worst(errors: dict[str, dict[str, Any]], n: int = 20) -> list[dict[str, Any]]:
    """The `n` images with the most errors (ties by sample id), with their counts."""
    rows = [{"id": k, "false_positives": len(e["false_positives"]), "false_negatives": len(e["false_negatives"]),
             "confusions": len(e["confusions"]), **{"errors": e}} for k, e in errors.items()]
    for r in rows:
        r["total"] = r["false_positives"] + r["false_negatives"] + r["confusions"]
    rows = [r for r in rows if r["total"]]
    return sorted(rows, key=lambda r: (-r["total"], r["id"]))[:n]
