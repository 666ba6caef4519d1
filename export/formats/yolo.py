"""YOLO in the Ultralytics layout: images/<split>/, labels/<split>/*.txt, data.yaml (detect or segment).

`yolo` writes boxes (`cls cx cy w h`), `yolo-seg` writes polygons (`cls x1 y1 x2 y2 ...`), all
normalized to [0, 1] by the stored image size. data.yaml has no `path`, so Ultralytics resolves the
folders next to data.yaml (pass it by absolute path) and the tree does not depend on where it was written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, id_from_file_name, place_images, sha256_path,
)


def _f(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.6f}"


def _lines(s: Sample, kind: str, index: dict[str, int]) -> list[str]:
    if not s.width or not s.height:
        raise FormatError(f"YOLO needs the image size; sample {s.id} has width/height {s.width}/{s.height}.")
    w, h = s.width, s.height
    lines = []
    for t in s.targets:
        if t["type"] != kind:
            continue
        if kind == "bbox":
            cx, cy = (t["x_min"] + t["x_max"]) / 2 / w, (t["y_min"] + t["y_max"]) / 2 / h
            bw, bh = (t["x_max"] - t["x_min"]) / w, (t["y_max"] - t["y_min"]) / h
            lines.append(" ".join([str(index[t["label"]]), _f(cx), _f(cy), _f(bw), _f(bh)]))
        else:
            coords = [_f(v / (w if i % 2 == 0 else h)) for p in t["points"] for i, v in enumerate(p)]
            lines.append(" ".join([str(index[t["label"]]), *coords]))
    return lines


def _writer(kind: str):
    def write(samples: list[Sample], out: Path, ctx: Context) -> None:
        index = {name: i for i, name in enumerate(ctx.classes)}
        for s in samples:
            if s.file_name is None:
                raise FormatError(f"YOLO holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
        place_images(samples, out, lambda s: f"images/{s.split}", ctx)
        for split in SPLITS:  # every split folder exists, so data.yaml always names train, val and test
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for s in samples:
            label_file = out / "labels" / s.split / (s.file_name.rsplit(".", 1)[0] + ".txt")
            lines = _lines(s, kind, index)
            label_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        data: dict[str, Any] = {sp: f"images/{sp}" for sp in SPLITS}
        data["nc"] = len(ctx.classes)
        data["names"] = dict(enumerate(ctx.classes))
        data["task"] = "detect" if kind == "bbox" else "segment"
        text = yaml.safe_dump(data, sort_keys=True, allow_unicode=True, default_flow_style=False)
        (out / "data.yaml").write_text(text, encoding="utf-8")
    return write


def _image_sizes(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def read(root: Path) -> list[ReadSample]:
    data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8"))
    names = {int(k): v for k, v in data["names"].items()}
    out = []
    for split in SPLITS:
        folder = root / "images" / split
        if split not in data or not folder.is_dir():
            continue
        for image in sorted(folder.iterdir()):
            w, h = _image_sizes(image)
            targets = []
            label_file = root / "labels" / split / (image.stem + ".txt")
            for line in label_file.read_text(encoding="utf-8").splitlines():
                cls, *vals = line.split()
                v = [float(x) for x in vals]
                if data["task"] == "detect":
                    cx, cy, bw, bh = v
                    targets.append({"type": "bbox", "x_min": (cx - bw / 2) * w, "y_min": (cy - bh / 2) * h,
                                    "x_max": (cx + bw / 2) * w, "y_max": (cy + bh / 2) * h, "label": names[int(cls)]})
                else:
                    pts = [[v[i] * w, v[i + 1] * h] for i in range(0, len(v), 2)]
                    targets.append({"type": "polygon", "points": pts, "label": names[int(cls)]})
            out.append(ReadSample(id_from_file_name(image.name), split, targets, sha256_path(image)))
    return out


FORMATS = [
    Format("yolo", "Ultralytics YOLO detection (boxes) with data.yaml", frozenset({"bbox"}), _writer("bbox"), read),
    Format("yolo-seg", "Ultralytics YOLO segmentation (polygons) with data.yaml", frozenset({"polygon"}),
           _writer("polygon"), read),
]
