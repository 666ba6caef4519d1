"""Turn albumentations' output back into targets: keep or drop whole instances, swap mirrored labels,
tighten boxes after warps, and keep keypoints in their semantic order."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from augment.geometry import bounds, clip_polygon, polygon_area, tidy, union_bounds
from augment.masks import encode_rle, mask_bbox
from augment.policy import Policy
from augment.targets import Packed, Prepared, Report

AREA_TYPES = frozenset({"bbox", "polygon", "mask"})


@dataclass
class Moved:
    """albumentations' results, indexed by target: boxes that survived its filter, points, masks."""

    boxes: dict[tuple[int, str], tuple[float, float, float, float]]
    points: dict[int, dict[int, tuple[float, float, bool]]]
    masks: dict[int, np.ndarray]
    width: int
    height: int
    sent: frozenset[tuple[int, str]] = frozenset()


def collect(packed: Packed, out: Mapping[str, Any], width: int, height: int) -> Moved:
    """Index albumentations' output rows by the targets they came from.

    Coordinates are rounded to 1e-4 px (float32 noise) in one vectorized pass; boxes are clipped to the
    image; each point carries albumentations' visibility (0 <= x < width, 0 <= y < height) of its raw value.
    """
    raw_boxes = np.asarray(out["bboxes"], dtype=np.float64).reshape(-1, 4)
    box_rows = np.clip(np.round(raw_boxes, 4), 0.0, [width, height, width, height]).tolist()
    boxes = {packed.bbox_rows[int(r)]: tuple(b) for r, b in zip(_list(out["bbox_ids"]), box_rows)}
    raw = np.asarray(out["keypoints"], dtype=np.float64).reshape(-1, 2)
    limit = np.array([width, height], dtype=np.float64)
    visible = ((raw >= 0.0) & (raw < limit)).all(axis=1).tolist()
    rounded = np.round(raw, 4)
    rows = np.where(rounded < limit, rounded, raw).tolist()  # rounding must not push a point out
    points: dict[int, dict[int, tuple[float, float, bool]]] = {}
    point_rows = packed.point_rows
    for r, (x, y), vis in zip(_list(out["keypoint_ids"]), rows, visible):
        m, j = point_rows[int(r)]
        points.setdefault(m, {})[j] = (x, y, vis)
    masks = {m: np.asarray(mask).reshape(height, width) for m, mask in zip(packed.mask_rows, out.get("masks", []))}
    return Moved(boxes=boxes, points=points, masks=masks, width=width, height=height,
                 sent=frozenset(packed.bbox_rows))


def _list(value: Any) -> list[Any]:
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


def assemble(prep: Prepared, moved: Moved, policy: Policy, mirrored: bool, warp: bool,
             report: Report) -> list[dict[str, Any]]:
    """Output targets in input order, minus dropped instances (each reported with its reason)."""
    built: dict[int, dict[str, Any]] = {}
    for key, members in prep.groups.items():
        polygons = {m: _polygon(prep.items[m], m, moved) for m in members if prep.items[m]["type"] == "polygon"}
        reason = prep.failed.get(key) or _verdict(prep, members, moved, polygons, policy)
        if reason:
            report.dropped.append(_drop_entry(key, members, prep, reason))
            continue
        tight = _tight_box(members, prep, moved, polygons) if warp else None
        for m in members:
            out = _emit(prep, m, moved, polygons, tight, policy, mirrored, report)
            if out is not None:
                built[m] = out
    return [built[i] for i in sorted(built)]


def _polygon(t: Mapping[str, Any], m: int, moved: Moved) -> tuple[list[tuple[float, float]], float, float, bool] | None:
    """(vertices clipped to the image, unclipped area, visible area, whether clipping changed them), or None."""
    got = moved.points.get(m, {})
    n = len(t["points"])
    if len(got) != n:
        return None
    full = [(got[j][0] + 0.5, got[j][1] + 0.5) for j in range(n)]
    w, h = moved.width, moved.height
    area = polygon_area(full)
    if all(0.0 <= x <= w and 0.0 <= y <= h for x, y in full):
        return full, area, area, False
    clipped = clip_polygon(full, w, h)
    return clipped, area, polygon_area(clipped), True


def _verdict(prep: Prepared, members: list[int], moved: Moved, polygons: dict[int, Any], policy: Policy) -> str | None:
    """Why a group must go, or None to keep it. Any failing box, polygon or mask drops the whole instance."""
    f = policy.filters
    for m in members:
        t = prep.items[m]
        if t["type"] == "bbox" and (m, "bbox") not in moved.boxes:
            return (f"bbox kept less than min_visibility={f.min_visibility} of its area or less than "
                    f"min_area={f.min_area} px² inside the image")
        if t["type"] == "polygon":
            if polygons[m] is None:
                return "polygon lost vertices in a transform"
            _, full, visible, _ = polygons[m]
            if visible <= 0.0 or full <= 0.0:
                return "polygon left the image"
            if visible < f.min_area:
                return f"polygon visible area {visible:.1f} px² < min_area={f.min_area}"
            if visible / full < f.min_visibility:
                return f"polygon visible fraction {visible / full:.3f} < min_visibility={f.min_visibility}"
        if t["type"] == "mask":
            if (m, "extent") in moved.sent and (m, "extent") not in moved.boxes:
                return (f"mask extent kept less than min_visibility={f.min_visibility} or min_area={f.min_area} px² "
                        "inside the image")
            area = int(np.count_nonzero(moved.masks[m]))
            if area == 0:
                return "mask left the image"
            if area < f.min_area:
                return f"mask area {area} px² < min_area={f.min_area}"
    if not any(prep.items[m]["type"] in AREA_TYPES for m in members):
        for m in members:
            t = prep.items[m]
            if t["type"] == "keypoints" and t["points"]:
                seen = len(_visible_points(t, m, prep, moved))
                if seen < f.min_visible_points:
                    return f"{seen} keypoint(s) left in the image < min_visible_points={f.min_visible_points}"
    return None


def _visible_points(t: Mapping[str, Any], m: int, prep: Prepared, moved: Moved) -> list[int]:
    got = moved.points.get(m, {})
    return [j for j in range(len(t["points"])) if prep.point_ok[m][j] and j in got and got[j][2]]


def _tight_box(members: list[int], prep: Prepared, moved: Moved,
               polygons: dict[int, Any]) -> tuple[float, float, float, float] | None:
    """After a warp, the instance's box from its polygon(s), else from its mask(s)."""
    outlines = [bounds(p[0]) for p in polygons.values() if p and p[0]]
    if outlines:
        return union_bounds(outlines)
    extents = [b for m in members if prep.items[m]["type"] == "mask" and (b := mask_bbox(moved.masks[m]))]
    return union_bounds(extents) if extents else None


def _emit(prep: Prepared, m: int, moved: Moved, polygons: dict[int, Any], tight: Any, policy: Policy,
          mirrored: bool, report: Report) -> dict[str, Any] | None:
    t = prep.items[m]
    kind, w, h = t["type"], moved.width, moved.height
    out = t  # prepare() made a private copy of every target: fill it in
    if kind == "span":
        return out
    if mirrored and isinstance(t.get("label"), str):
        out["label"] = _swap(t["label"], policy.labels.swap, report)
    if kind == "bbox":
        if tight is not None:
            report.tightened.append(m)
            box = (tidy(tight[0], w), tidy(tight[1], h), tidy(tight[2], w), tidy(tight[3], h))
        else:
            box = moved.boxes[(m, "bbox")]
        out.update(x_min=box[0], y_min=box[1], x_max=box[2], y_max=box[3])
    elif kind == "polygon":
        pts, _, _, clipped = polygons[m]
        out["points"] = [[tidy(x, w), tidy(y, h)] for x, y in pts] if clipped else [[x, y] for x, y in pts]
    elif kind == "mask":
        out["rle"] = encode_rle(moved.masks[m])
    elif kind == "keypoints":
        return _emit_keypoints(t, out, prep.point_ok[m], m, moved, policy, mirrored, report)
    return out


def _emit_keypoints(t: dict[str, Any], out: dict[str, Any], ok: list[bool], m: int, moved: Moved, policy: Policy,
                    mirrored: bool, report: Report) -> dict[str, Any]:
    """Visible points only, labels swapped when mirrored. An instance whose box/polygon/mask survives keeps its
    keypoints target even when every point left the image (then with empty lists), like COCO's num_keypoints=0."""
    names: list[str] = t["labels"]
    got = moved.points.get(m, {})
    kept, lost = [], []
    for j, name in enumerate(names):
        if not ok[j]:
            continue  # already reported: outside the image before augmentation
        x, y, visible = got.get(j, (-1.0, -1.0, False))
        if visible:
            new = _swap(name, policy.labels.keypoint_swap, report) if mirrored else name
            kept.append((new, x, y))
        else:
            lost.append(name)
    if lost:
        report.dropped_points.append({"target": m, "labels": lost, "reason": "left the image"})
    # semantic order: a label keeps its slot; a swapped-in label not in the list takes its partner's slot
    order = {name: i for i, name in reversed(list(enumerate(names)))}
    partner = policy.labels.keypoint_swap
    kept.sort(key=lambda p: order.get(p[0], order.get(partner.get(p[0], ""), len(names))))
    out["points"] = [[x, y] for _, x, y in kept]
    out["labels"] = [name for name, _, _ in kept]
    return out


def _swap(label: str, mapping: Mapping[str, str], report: Report) -> str:
    new = mapping.get(label, label)
    if new != label:
        report.swapped[label] = new
    return new


def _drop_entry(key: Hashable, members: list[int], prep: Prepared, reason: str) -> dict[str, Any]:
    items = [prep.items[m] for m in members]
    return {"instance": key[1] if key[0] == "instance" else None, "targets": members,
            "types": [t["type"] for t in items], "labels": [t.get("label") for t in items], "reason": reason}
