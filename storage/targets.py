"""The internal annotation model as plain JSON-compatible dicts, and their validation.

All coordinates are absolute pixels of the stored (EXIF-transposed) image, origin top-left.

- ``{"type": "choice", "label": str}``
- ``{"type": "bbox", "x_min", "y_min", "x_max", "y_max": float, "label": str, "instance": str | None}``
- ``{"type": "polygon", "points": [[x, y], ...], "label": str, "instance": str | None}``
- ``{"type": "keypoints", "points": [[x, y], ...], "labels": [str, ...], "label": str | None,
  "instance": str | None}``
- ``{"type": "mask", "rle": {"size": [h, w], "counts": [int, ...]}, "label": str, "instance": str | None}``
  (COCO uncompressed RLE: column-major runs, starting with a run of zeros)
- ``{"type": "span", "start": int, "end": int, "label": str, "text": str | None}``

Targets sharing an ``instance`` id describe one object (its box, polygon, keypoints and mask).
Extra keys (``score``, ``id``) are allowed and kept.
"""
from __future__ import annotations

from typing import Any

TYPES = ("choice", "bbox", "polygon", "keypoints", "mask", "span")


class TargetError(ValueError):
    """A target does not follow the internal annotation model."""


def _need(target: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in target:
        raise TargetError(f"{target.get('type')} target needs {key!r}; found keys {sorted(target)}")
    value = target[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TargetError(f"{target.get('type')} target field {key!r} must be {kind}; found {value!r}")
    return value


def _points(target: dict[str, Any]) -> list[list[float]]:
    points = _need(target, "points", list)
    for p in points:
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)):
            raise TargetError(f"{target['type']} points must be [x, y] pairs; found {p!r}")
    return points


def validate_target(target: dict[str, Any], labels: set[str] | None = None) -> dict[str, Any]:
    """Check one target's shape (and its label against `labels` when given); return it unchanged."""
    if not isinstance(target, dict) or target.get("type") not in TYPES:
        raise TargetError(f"target must be a dict with type in {TYPES}; found {target!r}")
    kind = target["type"]
    num = (int, float)
    if kind == "bbox":
        x0, y0 = _need(target, "x_min", num), _need(target, "y_min", num)
        x1, y1 = _need(target, "x_max", num), _need(target, "y_max", num)
        if x1 < x0 or y1 < y0:
            raise TargetError(f"bbox needs x_min <= x_max and y_min <= y_max; found {(x0, y0, x1, y1)}")
    elif kind == "polygon":
        if len(_points(target)) < 3:
            raise TargetError(f"polygon needs at least 3 points; found {len(target['points'])}")
    elif kind == "keypoints":
        pts, names = _points(target), _need(target, "labels", list)
        if len(pts) != len(names):
            raise TargetError(f"keypoints need one label per point; found {len(pts)} points, {len(names)} labels")
    elif kind == "mask":
        rle = _need(target, "rle", dict)
        size, counts = rle.get("size"), rle.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and isinstance(counts, list)):
            raise TargetError(f"mask rle must be {{'size': [h, w], 'counts': [...]}}; found {rle!r}")
        if sum(counts) != size[0] * size[1]:
            raise TargetError(f"mask rle counts sum to {sum(counts)}, expected h*w = {size[0] * size[1]}")
    elif kind == "span":
        start, end = _need(target, "start", int), _need(target, "end", int)
        if not 0 <= start <= end:
            raise TargetError(f"span needs 0 <= start <= end; found start={start}, end={end}")
    label = target.get("label")
    if kind != "keypoints" or label is not None:
        _need(target, "label", str)
    if labels is not None:
        used = [target["label"]] if target.get("label") is not None else []
        if kind == "keypoints":
            used += list(target["labels"])
        unknown = [u for u in used if u not in labels]
        if unknown:
            raise TargetError(f"unknown label(s) {unknown} in {kind} target; the label set is {sorted(labels)}")
    return target


def target_labels(targets: list[dict[str, Any]]) -> list[str]:
    """Object/class labels of a list of targets (keypoint point names excluded), in order."""
    return [t["label"] for t in targets if t.get("label") is not None]
