"""Ultralytics YOLO pose: `cls cx cy w h x1 y1 v1 ... xK yK vK` per object, data.yaml with `kpt_shape` and `flip_idx`.

Keypoint order is the policy's `labels.keypoints` when it has one, else the project's label order of the
point names (ctx.options["keypoint_names"]); `flip_idx` comes from the policy's keypoint swap map
(ctx.options["keypoint_swap"]), so Ultralytics' fliplr mirrors left and right points as harvest does.
A missing point is `0 0 0`; a visible one has v = 2. An object's box is the box of its instance, else
the extent of its points.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from export.formats.base import Context, Format, ReadSample, Sample
from export.formats.yolo import f6, read_tree, write_tree


def point_names(samples: list[Sample], ctx: Context) -> list[str]:
    given = list(ctx.options.get("keypoint_names") or [])
    seen = sorted({n for s in samples for t in s.targets if t["type"] == "keypoints" for n in t["labels"]} - set(given))
    return given + seen


def _objects(s: Sample) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """(box, keypoints) pairs: joined by instance; a lone box or lone keypoints is its own object."""
    pairs: dict[Any, list[Any]] = {}
    order: list[list[Any]] = []
    for t in s.targets:
        if t["type"] not in ("bbox", "keypoints"):
            continue
        inst = t.get("instance")
        slot = pairs.get(inst) if inst is not None else None
        if slot is None or slot[0 if t["type"] == "bbox" else 1] is not None:
            slot = [None, None]
            order.append(slot)
            if inst is not None:
                pairs[inst] = slot
        slot[0 if t["type"] == "bbox" else 1] = t
    return [tuple(p) for p in order]


def _line(s: Sample, box: dict[str, Any] | None, kps: dict[str, Any] | None, index: dict[str, int],
          names: list[str]) -> str:
    w, h = s.width, s.height
    where = dict(zip(kps["labels"], kps["points"])) if kps else {}
    if box is not None:
        x0, y0, x1, y1 = box["x_min"], box["y_min"], box["x_max"], box["y_max"]
    else:
        xs, ys = [p[0] for p in where.values()], [p[1] for p in where.values()]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    label = (box or {}).get("label") or kps.get("label")
    out = [str(index[label]), f6((x0 + x1) / 2 / w), f6((y0 + y1) / 2 / h), f6((x1 - x0) / w), f6((y1 - y0) / h)]
    for n in names:
        out += [f6(where[n][0] / w), f6(where[n][1] / h), "2"] if n in where else ["0", "0", "0"]
    return " ".join(out)


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    names = point_names(samples, ctx)
    swap = dict(ctx.options.get("keypoint_swap") or {})
    position = {n: i for i, n in enumerate(names)}
    flip_idx = [position.get(swap.get(n, n), i) for i, n in enumerate(names)]
    index = {c: i for i, c in enumerate(ctx.classes)}
    extra = {"kpt_shape": [len(names), 3], "flip_idx": flip_idx, "kpt_names": {0: names}}
    write_tree(samples, out, ctx, "pose", lambda s: [_line(s, b, k, index, names) for b, k in _objects(s)], extra)


def read(root: Path) -> list[ReadSample]:
    import yaml

    data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8"))
    names = data["kpt_names"][0]

    def parse(v: list[float], label: str, w: int, h: int) -> list[dict[str, Any]]:
        cx, cy, bw, bh = v[:4]
        box = {"type": "bbox", "x_min": (cx - bw / 2) * w, "y_min": (cy - bh / 2) * h,
               "x_max": (cx + bw / 2) * w, "y_max": (cy + bh / 2) * h, "label": label}
        flat = v[4:]
        seen = [(n, [flat[3 * i] * w, flat[3 * i + 1] * h]) for i, n in enumerate(names) if flat[3 * i + 2] > 0]
        if not seen:
            return [box]
        return [box, {"type": "keypoints", "points": [p for _, p in seen], "labels": [n for n, _ in seen], "label": label}]

    return read_tree(root, parse)


FORMATS = [Format("yolo-pose", "Ultralytics YOLO pose (boxes with keypoints; kpt_shape, flip_idx) with data.yaml",
                  frozenset({"bbox", "keypoints"}), write, read)]
