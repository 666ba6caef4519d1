"""ImageFolder for classification: <split>/<class>/<file>, one class per image; labels.json maps folders to labels.

Every class has its folder in every split (empty when a split has none of it), so torchvision, Ultralytics
and Hugging Face number the classes the same way in every split. classes.txt lists the project's class ids.
"""
from __future__ import annotations

import json
from pathlib import Path

from export.canonical import dumps
from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, id_from_file_name, labels_file, place_images, safe_part,
    sha256_path,
)


def _folders(classes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for label in classes:
        name, n = safe_part(label), 1
        while name in taken:
            n += 1
            name = f"{safe_part(label)}-{n}"
        taken.add(name)
        out[label] = name
    return out


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    folders = _folders(ctx.classes)
    label_of = {}
    for s in samples:
        chosen = sorted({t["label"] for t in s.targets if t["type"] == "choice"})
        if s.file_name is None or len(chosen) != 1:
            raise FormatError(
                f"ImageFolder holds exactly one class per image; sample {s.id} has "
                f"{'no image' if s.file_name is None else chosen}. Export multi-label or other data with jsonl, csv or coco."
            )
        label_of[s.id] = chosen[0]
    place_images(samples, out, lambda s: f"{s.split}/{folders[label_of[s.id]]}", ctx)
    for split in SPLITS:
        for folder in folders.values():
            (out / split / folder).mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text(labels_file(ctx.classes), encoding="utf-8")
    (out / "labels.json").write_text(dumps({v: k for k, v in folders.items()}, indent=2) + "\n", encoding="utf-8")


def read(root: Path) -> list[ReadSample]:
    labels = json.loads((root / "labels.json").read_text(encoding="utf-8"))
    out = []
    for split in SPLITS:
        if not (root / split).is_dir():
            continue
        for folder in sorted((root / split).iterdir()):
            for image in sorted(folder.iterdir()):
                out.append(ReadSample(id_from_file_name(image.name), split,
                                      [{"type": "choice", "label": labels[folder.name]}], sha256_path(image)))
    return out


FORMATS = [Format("imagefolder", "ImageFolder classification: <split>/<class>/<image>", frozenset({"choice"}),
                  write, read, exclusive=True)]
