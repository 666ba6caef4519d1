"""Parsers of prediction files into internal targets with scores (pure: files in, dicts out).

- COCO results JSON: a list of {image_id, category_id, bbox: [x, y, w, h], score} (the official format).
- Ultralytics / YOLO txt: one file per image, `cls cx cy w h conf` normalised to [0, 1] (save_txt + save_conf).
- harvest JSONL: one {"id": SAMPLE_ID, "targets": [internal targets with "score"]} per line, any target type.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evaluate.errors import PredictionFileError
from evaluate.mapping import ExportIndex
from storage.targets import TargetError, validate_target


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_coco(path: Path, index: ExportIndex, split: str) -> dict[str, list[dict[str, Any]]]:
    """COCO results -> {sample id: [bbox targets]} via the export's instances_<split>.json ids."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PredictionFileError(f"{path} is not JSON ({exc}); COCO results are a JSON list of detections.") from None
    if not isinstance(records, list):
        raise PredictionFileError(f"{path}: COCO results must be a JSON list of {{image_id, category_id, bbox, score}}; "
                                  f"found a {type(records).__name__}.")
    images = index.coco_images.get(split)
    if images is None:
        raise PredictionFileError(f"the export at {index.root} has no annotations/instances_{split}.json to resolve "
                                  f"image_id; export the version as coco, or pass --split with one of "
                                  f"{sorted(index.coco_images) or 'none'}.")
    out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in images.values()}
    for n, rec in enumerate(records):
        where = f"{path} record {n}"
        if not isinstance(rec, dict) or not {"image_id", "category_id", "bbox", "score"} <= set(rec):
            raise PredictionFileError(f"{where}: expected keys image_id, category_id, bbox, score; found {rec!r:.200}.")
        bbox, score = rec["bbox"], rec["score"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_num(v) for v in bbox)) or bbox[2] < 0 or bbox[3] < 0:
            raise PredictionFileError(f"{where}: bbox must be [x, y, width, height] with width, height >= 0; found {bbox!r}.")
        if not _num(score):
            raise PredictionFileError(f"{where}: score must be a number; found {score!r}.")
        sid = images.get(rec["image_id"])
        if sid is None:
            raise PredictionFileError(f"{where}: image_id {rec['image_id']!r} is not an image of the {split} split of "
                                      f"the export at {index.root}; predict on that export's images (or fix --split).")
        label = index.coco_classes.get(rec["category_id"])
        if label is None:
            raise PredictionFileError(f"{where}: category_id {rec['category_id']!r} is not one of the export's categories "
                                      f"{sorted(index.coco_classes.items())}.")
        x, y, w, h = (float(v) for v in bbox)
        out[sid].append({"type": "bbox", "x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h, "label": label,
                         "score": float(score)})
    return out


def parse_yolo(path: Path, index: ExportIndex, sizes: dict[str, tuple[int, int]],
               expected: list[str]) -> dict[str, list[dict[str, Any]]]:
    """A folder of Ultralytics txt files (or one file) -> {sample id: [bbox targets]}.

    `expected` are the sample ids the prediction run covered: those without a file predicted nothing.
    """
    if not index.yolo_classes:
        raise PredictionFileError(f"the export at {index.root} has no data.yaml class names to resolve YOLO class "
                                  "indices; pass --export with a yolo export of the version.")
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    if not files:
        raise PredictionFileError(f"{path} holds no .txt files; pass the `labels` folder Ultralytics wrote "
                                  "with save_txt=True, save_conf=True.")
    out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in expected}
    for file in files:
        sid = index.stems.get(file.stem)
        if sid is None:
            raise PredictionFileError(f"{file}: no exported image of the export at {index.root} is named {file.stem}.*; "
                                      "predict on that export's images.")
        width, height = sizes[sid]
        boxes = out.setdefault(sid, [])
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                values = [float(v) for v in parts]
            except ValueError:
                values = []
            if len(values) != 6 or not values[0].is_integer() or not all(math.isfinite(v) for v in values):
                raise PredictionFileError(f"{file} line {n}: expected `cls cx cy w h conf` (6 numbers, save_conf=True); "
                                          f"found {line!r}.")
            cls, cx, cy, w, h, conf = values
            label = index.yolo_classes.get(int(cls))
            if label is None:
                raise PredictionFileError(f"{file} line {n}: class {int(cls)} is not in the export's data.yaml names "
                                          f"{index.yolo_classes}.")
            boxes.append({"type": "bbox", "x_min": (cx - w / 2) * width, "y_min": (cy - h / 2) * height,
                          "x_max": (cx + w / 2) * width, "y_max": (cy + h / 2) * height, "label": label,
                          "score": conf})
    return out


def parse_jsonl(path: Path, labels: set[str] | None, known: set[str]) -> dict[str, list[dict[str, Any]]]:
    """harvest JSONL -> {sample id: targets}; every target needs a numeric `score` (1.0 is fine)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PredictionFileError(f"{where}: not JSON ({exc}).") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not isinstance(rec.get("targets"), list):
                raise PredictionFileError(f'{where}: expected {{"id": "asset:12", "targets": [...]}}; found {line.strip()[:200]!r}.')
            if rec["id"] not in known:
                raise PredictionFileError(f"{where}: sample {rec['id']!r} is neither a member of this version nor a "
                                          "stored sample (asset:ID or item:ID).")
            for t in rec["targets"]:
                try:
                    validate_target(t, labels)
                except TargetError as exc:
                    raise PredictionFileError(f"{where}: {exc}") from None
                if not _num(t.get("score", 1.0)):
                    raise PredictionFileError(f"{where}: score must be a number; found {t.get('score')!r}.")
            out[rec["id"]] = [{**t, "score": float(t.get("score", 1.0))} for t in rec["targets"]]
    return out
