"""YOLO in the Ultralytics layout: images/<split>/, labels/<split>/*.txt, data.yaml, classes.txt.

`yolo` writes boxes (`cls cx cy w h`), `yolo-seg` polygons (`cls x1 y1 x2 y2 ...`), `yolo-obb` oriented
boxes (`cls x1 y1 ... x4 y4`: a rotated box's corners, else the box's own), all normalized to [0, 1]
by the stored image size; `yolo-pose` is in yolo_pose.py. data.yaml has no `path`, so Ultralytics
resolves the folders next to data.yaml (pass it by absolute path) and the tree does not depend on where
it was written. Class ids are the export's (the project's label order), written in data.yaml and classes.txt.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, id_from_file_name, labels_file, place_images, rotated_corners,
    sha256_path,
)

TASKS = {"bbox": "detect", "polygon": "segment", "obb": "obb", "pose": "pose"}


def f6(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.6f}"


def _lines(s: Sample, kind: str, index: dict[str, int]) -> list[str]:
    w, h = s.width, s.height
    lines = []
    corners = rotated_corners(s.targets) if kind == "obb" else {}
    for t in s.targets:
        if t["type"] != ("bbox" if kind == "obb" else kind):
            continue
        if kind == "bbox":
            cx, cy = (t["x_min"] + t["x_max"]) / 2 / w, (t["y_min"] + t["y_max"]) / 2 / h
            bw, bh = (t["x_max"] - t["x_min"]) / w, (t["y_max"] - t["y_min"]) / h
            lines.append(" ".join([str(index[t["label"]]), f6(cx), f6(cy), f6(bw), f6(bh)]))
            continue
        if kind == "obb":
            points = corners.get(t.get("instance")) or [[t["x_min"], t["y_min"]], [t["x_max"], t["y_min"]],
                                                        [t["x_max"], t["y_max"]], [t["x_min"], t["y_max"]]]
        else:
            points = t["points"]
        coords = [f6(v / (w if i % 2 == 0 else h)) for p in points for i, v in enumerate(p)]
        lines.append(" ".join([str(index[t["label"]]), *coords]))
    return lines


def write_tree(samples: list[Sample], out: Path, ctx: Context, task: str,
               lines: Callable[[Sample], list[str]], extra: dict[str, Any] | None = None) -> None:
    """The shared Ultralytics tree: images and labels per split (every split folder exists), data.yaml."""
    for s in samples:
        if s.file_name is None:
            raise FormatError(f"YOLO holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
        if not s.width or not s.height:
            raise FormatError(f"YOLO needs the image size; sample {s.id} has width/height {s.width}/{s.height}.")
    place_images(samples, out, lambda s: f"images/{s.split}", ctx)
    for split in SPLITS:  # every split folder exists, so data.yaml always names train, val and test
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for s in samples:
        label_file = out / "labels" / s.split / (s.file_name.rsplit(".", 1)[0] + ".txt")
        label_file.write_text("".join(line + "\n" for line in lines(s)), encoding="utf-8")
    data: dict[str, Any] = {sp: f"images/{sp}" for sp in SPLITS}
    data["nc"] = len(ctx.classes)
    data["names"] = dict(enumerate(ctx.classes))
    data["task"] = task
    data.update(extra or {})
    text = yaml.safe_dump(data, sort_keys=True, allow_unicode=True, default_flow_style=None)
    (out / "data.yaml").write_text(text, encoding="utf-8")
    (out / "classes.txt").write_text(labels_file(ctx.classes), encoding="utf-8")


def _writer(kind: str):
    def write(samples: list[Sample], out: Path, ctx: Context) -> None:
        index = {name: i for i, name in enumerate(ctx.classes)}
        write_tree(samples, out, ctx, TASKS[kind], lambda s: _lines(s, kind, index))
    return write


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def read_tree(root: Path, parse: Callable[[list[float], str, int, int], list[dict[str, Any]]]) -> list[ReadSample]:
    data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8"))
    names = {int(k): v for k, v in data["names"].items()}
    out = []
    for split in SPLITS:
        folder = root / "images" / split
        if split not in data or not folder.is_dir():
            continue
        for image in sorted(folder.iterdir()):
            w, h = image_size(image)
            targets = []
            label_file = root / "labels" / split / (image.stem + ".txt")
            for line in label_file.read_text(encoding="utf-8").splitlines():
                cls, *vals = line.split()
                targets += parse([float(x) for x in vals], names[int(cls)], w, h)
            out.append(ReadSample(id_from_file_name(image.name), split, targets, sha256_path(image)))
    return out


def _parse(task: str):
    def parse(v: list[float], label: str, w: int, h: int) -> list[dict[str, Any]]:
        if task == "detect":
            cx, cy, bw, bh = v
            return [{"type": "bbox", "x_min": (cx - bw / 2) * w, "y_min": (cy - bh / 2) * h,
                     "x_max": (cx + bw / 2) * w, "y_max": (cy + bh / 2) * h, "label": label}]
        pts = [[v[i] * w, v[i + 1] * h] for i in range(0, len(v), 2)]
        if task == "segment":
            return [{"type": "polygon", "points": pts, "label": label}]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        box = {"type": "bbox", "x_min": min(xs), "y_min": min(ys), "x_max": max(xs), "y_max": max(ys), "label": label}
        axis_aligned = len({round(x, 3) for x in xs}) <= 2 and len({round(y, 3) for y in ys}) <= 2
        return [box] if axis_aligned else [box, {"type": "polygon", "points": pts, "label": label}]
    return parse


def read(root: Path) -> list[ReadSample]:
    task = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8"))["task"]
    return read_tree(root, _parse(task))


FORMATS = [
    Format("yolo", "Ultralytics YOLO detection (boxes) with data.yaml", frozenset({"bbox"}), _writer("bbox"), read),
    Format("yolo-seg", "Ultralytics YOLO segmentation (polygons) with data.yaml", frozenset({"polygon"}),
           _writer("polygon"), read),
    Format("yolo-obb", "Ultralytics YOLO oriented boxes (rotated boxes, boxes) with data.yaml", frozenset({"bbox"}),
           _writer("obb"), read, rotated=True),
]
