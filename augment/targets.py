"""Check targets against the internal annotation schema, clip float overshoot, and pack them for albumentations.

Targets are plain dicts (see ``augment/__init__.py``). Coordinates a hair outside the image
(``x_max = width + 1e-6``) are clipped and reported, never a crash; malformed targets raise ``TargetError``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from augment.errors import TargetError
from augment.geometry import clip_polygon, polygon_area
from augment.masks import decode_rle, mask_bbox
from augment.policy import LabelSet

TYPES = ("choice", "bbox", "polygon", "keypoints", "mask", "span")
#: keypoints this far outside the image (px) are clamped in; farther ones are dropped with their label
POINT_TOLERANCE = 1.0
_EDGE = 1e-4  # keypoints are visible for 0 <= x < width: a clamped point sits this far inside


@dataclass
class Report:
    """What augment did to one sample's labels; ``to_dict`` is JSON-ready."""

    seed: int
    applied: list[str] = field(default_factory=list)
    mirrored: bool = False
    swapped: dict[str, str] = field(default_factory=dict)
    clipped: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    dropped_points: list[dict[str, Any]] = field(default_factory=list)
    tightened: list[int] = field(default_factory=list)
    drawn_seed: int | None = None  # the seed of the draw that was kept (differs from seed after re-draws)
    redrawn: int = 0  # draws thrown away because no transform was applied on them
    params: list[dict[str, Any]] = field(default_factory=list)  # per applied transform: name and sampled params
    steps: list[dict[str, Any]] = field(default_factory=list)  # the same, losslessly, for replay (augment.replay)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "drawn_seed": self.seed if self.drawn_seed is None else self.drawn_seed,
                "redrawn": self.redrawn, "unaugmented": not self.applied, "params": self.params,
                "applied": self.applied, "mirrored": self.mirrored,
                "swapped": dict(sorted(self.swapped.items())), "clipped": self.clipped, "dropped": self.dropped,
                "dropped_points": self.dropped_points, "tightened": self.tightened, "steps": self.steps}


@dataclass
class Prepared:
    """Validated targets of one sample, grouped by instance, ready to pack."""

    items: list[dict[str, Any]]
    groups: dict[Hashable, list[int]]
    failed: dict[Hashable, str] = field(default_factory=dict)
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    point_ok: dict[int, list[bool]] = field(default_factory=dict)


@dataclass
class Packed:
    """albumentations inputs plus the tables that map each row back to its target."""

    bboxes: np.ndarray
    bbox_rows: list[tuple[int, str]]
    keypoints: np.ndarray
    point_rows: list[tuple[int, int]]
    masks: list[np.ndarray]
    mask_rows: list[int]


def prepare(targets: Sequence[Mapping[str, Any]], width: int, height: int, labels: LabelSet,
            report: Report) -> Prepared:
    """Validate every target, clip overshoot (reported), and note instances that are already empty."""
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise TargetError(f"targets: expected a list of target dicts, found {type(targets).__name__}")
    prep = Prepared(items=[], groups={})
    classes = frozenset(labels.classes) if labels.classes is not None else None
    point_names = frozenset(labels.keypoints) if labels.keypoints is not None else None
    for i, raw in enumerate(targets):
        kind = raw.get("type") if type(raw) is dict or isinstance(raw, Mapping) else None
        if kind not in _PREPARERS:
            found = kind if isinstance(raw, Mapping) else type(raw).__name__
            raise TargetError(f"targets[{i}]: expected a dict whose 'type' is one of {list(TYPES)}, found {found!r}")
        t = dict(raw)
        prep.items.append(t)
        inst = t.get("instance")
        if inst is None:
            key: Hashable = ("target", i)
        elif type(inst) is str or (isinstance(inst, int) and not isinstance(inst, bool)):
            key = ("instance", inst)
        else:
            raise TargetError(f"targets[{i}]: expected 'instance' to be a string id or null, found {inst!r}")
        group = prep.groups.get(key)
        if group is None:
            prep.groups[key] = [i]
        else:
            group.append(i)
        if kind == "span":
            continue
        label = t.get("label")
        if type(label) is not str or not label:
            if not (label is None and kind == "keypoints"):
                raise TargetError(f"targets[{i}]: expected 'label' to be a non-empty string, found {label!r}")
        elif classes is not None and label not in classes:
            raise TargetError(f"targets[{i}]: label {label!r} is not in the policy's label set "
                              f"{list(labels.classes or ())}; add it to labels.classes or fix the annotation")
        reason = _PREPARERS[kind](i, t, width, height, prep, report)
        if point_names is not None and kind == "keypoints" and not point_names.issuperset(t["labels"]):
            unknown = sorted(set(t["labels"]) - point_names)
            raise TargetError(f"targets[{i}].labels: {unknown} are not in the policy's labels.keypoints "
                              f"{list(labels.keypoints or ())}; add them there or fix the annotation")
        if reason and key not in prep.failed:
            prep.failed[key] = f"{kind} {reason}"
    return prep


_REAL = (int, float, np.integer, np.floating)
_PAIR_TYPES = (list, tuple)
_FLOATS = (float, int)


def _number(value: Any, i: int, field: str) -> float:
    if (type(value) is float or type(value) is int) and math.isfinite(value):  # fast path for JSON numbers
        return float(value)
    if isinstance(value, _REAL) and not isinstance(value, bool) and math.isfinite(float(value)):
        return float(value)
    raise TargetError(f"targets[{i}].{field}: expected a finite number, found {value!r}")


def _prepare_bbox(i: int, t: dict[str, Any], w: int, h: int, prep: Prepared, report: Report) -> str | None:
    box = []
    for key, limit in (("x_min", w), ("y_min", h), ("x_max", w), ("y_max", h)):
        value = _number(t.get(key), i, key)
        if value < 0.0 or value > limit:
            clipped = min(max(value, 0.0), float(limit))
            report.clipped.append({"target": i, "type": "bbox", "field": key, "from": value, "to": clipped})
            value = clipped
        box.append(value)
    t["x_min"], t["y_min"], t["x_max"], t["y_max"] = box
    if box[2] <= box[0] or box[3] <= box[1]:
        return "has no area inside the image (x_min >= x_max or y_min >= y_max after clipping)"
    return None


def _points(value: Any, i: int, minimum: int) -> list[list[float]]:
    if type(value) is np.ndarray:
        value = value.tolist()
    pts: list[list[float]] = []
    ok = type(value) in _PAIR_TYPES and len(value) >= minimum
    if ok:
        for p in value:
            if type(p) not in _PAIR_TYPES or len(p) != 2:
                ok = False
                break
            x, y = p
            if type(x) in _FLOATS and type(y) in _FLOATS and math.isfinite(x) and math.isfinite(y):
                pts.append([float(x), float(y)])
                continue
            try:
                pts.append([_number(x, i, "points"), _number(y, i, "points")])
            except TargetError:
                ok = False
                break
    if not ok:
        raise TargetError(f"targets[{i}].points: expected a list of at least {minimum} finite [x, y] pairs, "
                          f"found {value!r:.200}")
    return pts


def _prepare_polygon(i: int, t: dict[str, Any], w: int, h: int, prep: Prepared, report: Report) -> str | None:
    pts = _points(t.get("points"), i, 3)
    if not all(0.0 <= x <= w and 0.0 <= y <= h for x, y in pts):
        clipped = clip_polygon(pts, w, h)
        report.clipped.append({"target": i, "type": "polygon", "field": "points",
                               "from": len(pts), "to": len(clipped)})
        pts = [[x, y] for x, y in clipped]
    t["points"] = pts
    if len(pts) < 3 or polygon_area(pts) <= 0.0:
        return "has no area inside the image"
    return None


def _prepare_keypoints(i: int, t: dict[str, Any], w: int, h: int, prep: Prepared, report: Report) -> str | None:
    pts = _points(t.get("points"), i, 0)
    names = t.get("labels")
    if type(names) not in _PAIR_TYPES or len(names) != len(pts) or not all(type(n) is str and n for n in names):
        raise TargetError(f"targets[{i}].labels: expected one non-empty name per point ({len(pts)}), "
                          f"found {names!r}")
    ok = []
    xmax, ymax = w - _EDGE, h - _EDGE
    for j, (x, y) in enumerate(pts):
        if 0.0 <= x <= xmax and 0.0 <= y <= ymax:
            ok.append(True)
            continue
        cx = min(max(x, 0.0), xmax)
        cy = min(max(y, 0.0), ymax)
        inside = abs(cx - x) <= POINT_TOLERANCE and abs(cy - y) <= POINT_TOLERANCE
        if inside:
            report.clipped.append({"target": i, "type": "keypoints", "field": names[j], "from": [x, y],
                                   "to": [cx, cy]})
        else:
            report.dropped_points.append({"target": i, "labels": [names[j]],
                                          "reason": "outside the image before augmentation"})
        pts[j] = [cx, cy]
        ok.append(inside)
    t["points"], t["labels"] = pts, list(names)
    prep.point_ok[i] = ok
    return None


def _prepare_mask(i: int, t: dict[str, Any], w: int, h: int, prep: Prepared, report: Report) -> str | None:
    rle = t.get("rle")
    if not isinstance(rle, Mapping):
        raise TargetError(f"targets[{i}].rle: expected {{'size': [h, w], 'counts': [...]}}, found {rle!r:.100}")
    mask = decode_rle(rle)
    if mask.shape != (h, w):
        raise TargetError(f"targets[{i}].rle: mask size {list(mask.shape)} does not match the image [{h}, {w}] (h, w); "
                          "re-encode the mask at the image size")
    prep.masks[i] = mask
    return "is empty" if mask_bbox(mask) is None else None


def _pass(i: int, t: dict[str, Any], w: int, h: int, prep: Prepared, report: Report) -> str | None:
    return None


_PREPARERS = {"bbox": _prepare_bbox, "polygon": _prepare_polygon, "keypoints": _prepare_keypoints,
              "mask": _prepare_mask, "choice": _pass, "span": _pass}


def pack(prep: Prepared) -> Packed:
    """Rows for albumentations. Polygon vertices travel as keypoints shifted by -0.5 px, so that flips,
    rot90 and rotations move them exactly as box corners (albumentations treats keypoints as pixel centres).
    Masks without a box or polygon in their instance also send their extent box, for the visibility filter."""
    boxes, bbox_rows, points, point_rows, masks, mask_rows = [], [], [], [], [], []
    for key, members in prep.groups.items():
        if key in prep.failed:
            continue
        has_outline = any(prep.items[m]["type"] in ("bbox", "polygon") for m in members)
        for m in members:
            t = prep.items[m]
            if t["type"] == "bbox":
                boxes.append((t["x_min"], t["y_min"], t["x_max"], t["y_max"]))
                bbox_rows.append((m, "bbox"))
            elif t["type"] == "polygon":
                for j, (x, y) in enumerate(t["points"]):
                    points.append((x - 0.5, y - 0.5))
                    point_rows.append((m, j))
            elif t["type"] == "keypoints":
                for j, (x, y) in enumerate(t["points"]):
                    if prep.point_ok[m][j]:
                        points.append((x, y))
                        point_rows.append((m, j))
            elif t["type"] == "mask":
                masks.append(prep.masks[m])
                mask_rows.append(m)
                if not has_outline:
                    boxes.append(mask_bbox(prep.masks[m]))
                    bbox_rows.append((m, "extent"))
    return Packed(bboxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4), bbox_rows=bbox_rows,
                  keypoints=np.asarray(points, dtype=np.float64).reshape(-1, 2), point_rows=point_rows,
                  masks=masks, mask_rows=mask_rows)
