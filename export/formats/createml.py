"""CreateML object detection JSON (the layout Roboflow exports): <split>/<file> and <split>/_annotations.createml.json.

Each entry is {"image": file, "annotations": [{"label", "coordinates": {"x", "y", "width", "height"}}]}
with x, y the box centre in pixels of the stored image. Every split folder and file exists.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from export.canonical import dumps
from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, by_split, id_from_file_name, labels_file, num, place_images, sha256_path,
)

FILE = "_annotations.createml.json"


def _entry(s: Sample) -> dict[str, Any]:
    boxes = [t for t in s.targets if t["type"] == "bbox"]
    return {"image": s.file_name, "annotations": [
        {"label": t["label"], "coordinates": {"x": num((t["x_min"] + t["x_max"]) / 2), "y": num((t["y_min"] + t["y_max"]) / 2),
                                              "width": num(t["x_max"] - t["x_min"]), "height": num(t["y_max"] - t["y_min"])}}
        for t in boxes]}


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    for s in samples:
        if s.file_name is None:
            raise FormatError(f"CreateML holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
    place_images(samples, out, lambda s: s.split, ctx)
    for split, items in by_split(samples).items():
        (out / split).mkdir(parents=True, exist_ok=True)
        (out / split / FILE).write_text(dumps([_entry(s) for s in items], indent=2) + "\n", encoding="utf-8")
    (out / "classes.txt").write_text(labels_file(ctx.classes), encoding="utf-8")


def read(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        path = root / split / FILE
        if not path.is_file():
            continue
        for entry in json.loads(path.read_text(encoding="utf-8")):
            targets = []
            for a in entry["annotations"]:
                c = a["coordinates"]
                targets.append({"type": "bbox", "label": a["label"], "x_min": c["x"] - c["width"] / 2,
                                "y_min": c["y"] - c["height"] / 2, "x_max": c["x"] + c["width"] / 2,
                                "y_max": c["y"] + c["height"] / 2})
            out.append(ReadSample(id_from_file_name(entry["image"]), split, targets,
                                  sha256_path(root / split / entry["image"])))
    return out


FORMATS = [Format("createml", "CreateML JSON object detection (boxes), the Roboflow layout", frozenset({"bbox"}),
                  write, read)]
