"""COCO instances: images/<split>/, annotations/instances_<split>.json (boxes, polygons, keypoints, masks).

Targets sharing an `instance` become one COCO annotation; `harvest_parts` on each annotation records
which target types it came from so the reader can give back exactly those.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from export.canonical import dumps
from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, by_split, num, place_images, sha256_path,
)

KINDS = frozenset({"bbox", "polygon", "keypoints", "mask"})
NO_LABEL = "_unlabeled"


def _objects(targets: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    order: list[list[dict[str, Any]]] = []
    for t in targets:
        if t["type"] not in KINDS:
            continue
        inst = t.get("instance")
        if inst is None:
            order.append([t])
        else:
            if inst not in groups:
                order.append(groups[inst])
            groups[inst].append(t)
    return order


def _extent(parts: list[dict[str, Any]]) -> list[float]:
    """The instance's own box when it has one, else the extent of its polygons, points and masks."""
    box = next((t for t in parts if t["type"] == "bbox"), None)
    if box is not None:
        return [box["x_min"], box["y_min"], box["x_max"], box["y_max"]]
    xs, ys = [], []
    for t in parts:
        if t["type"] == "bbox":
            xs += [t["x_min"], t["x_max"]]
            ys += [t["y_min"], t["y_max"]]
        elif t["type"] in ("polygon", "keypoints"):
            xs += [p[0] for p in t["points"]]
            ys += [p[1] for p in t["points"]]
        elif t["type"] == "mask":
            from pycocotools import mask as mask_utils

            h, w = t["rle"]["size"]
            x, y, bw, bh = mask_utils.toBbox(mask_utils.frPyObjects(t["rle"], h, w)).tolist()
            xs += [x, x + bw]
            ys += [y, y + bh]
    return [min(xs), min(ys), max(xs), max(ys)] if xs else [0.0, 0.0, 0.0, 0.0]


def _keypoint_names(samples: list[Sample]) -> dict[str, list[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        for parts in _objects(s.targets):
            label = next((t.get("label") for t in parts if t.get("label") is not None), NO_LABEL)
            for t in parts:
                if t["type"] == "keypoints":
                    names[label].update(t["labels"])
    return {k: sorted(v) for k, v in names.items()}


def _annotation(parts: list[dict[str, Any]], cat: dict[str, int], kp_names: dict[str, list[str]]) -> dict[str, Any]:
    label = next((t.get("label") for t in parts if t.get("label") is not None), NO_LABEL)
    x0, y0, x1, y1 = _extent(parts)
    ann: dict[str, Any] = {
        "category_id": cat[label], "iscrowd": 0, "bbox": [num(x0), num(y0), num(x1 - x0), num(y1 - y0)],
        "area": num((x1 - x0) * (y1 - y0)), "harvest_parts": [t["type"] for t in parts],
    }
    if parts[0].get("instance") is not None:
        ann["harvest_instance"] = parts[0]["instance"]
    for t in parts:
        if t["type"] == "polygon":
            ann.setdefault("segmentation", []).append([num(v) for p in t["points"] for v in p])
        elif t["type"] == "mask":
            ann["segmentation"] = {"size": list(t["rle"]["size"]), "counts": [int(c) for c in t["rle"]["counts"]]}
        elif t["type"] == "keypoints":
            where = {n: p for n, p in zip(t["labels"], t["points"])}
            flat: list[float] = []
            for n in kp_names[label]:
                flat += [num(where[n][0]), num(where[n][1]), 2] if n in where else [0, 0, 0]
            ann["keypoints"] = flat
            ann["num_keypoints"] = len(where)
            ann["harvest_kp_label"] = t.get("label") is not None
    if "segmentation" in ann and isinstance(ann["segmentation"], list):
        from pycocotools import mask as mask_utils

        h = max(1, int(y1) + 1)
        w = max(1, int(x1) + 1)
        ann["area"] = num(float(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], h, w)))))
    return ann


_CC = {"by": "by", "by-sa": "by-sa", "by-nd": "by-nd", "by-nc": "by-nc", "by-nc-sa": "by-nc-sa", "by-nc-nd": "by-nc-nd"}


def licence_url(name: str) -> str:
    """The deed URL of a Creative Commons licence id like 'CC-BY-4.0' or 'CC0-1.0'; '' for others."""
    low = name.lower()
    if low.startswith("cc0"):
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    parts = low.split("-")
    if parts[0] == "cc" and len(parts) >= 3 and "-".join(parts[1:-1]) in _CC:
        return f"https://creativecommons.org/licenses/{_CC['-'.join(parts[1:-1])]}/{parts[-1]}/"
    return ""


def _licenses(samples: list[Sample]) -> dict[str, int]:
    names = sorted({s.meta.get("licence") or "unknown" for s in samples})
    return {n: i for i, n in enumerate(names, start=1)}


def _box_polygon(ann: dict[str, Any]) -> list[list[float | int]]:
    x, y, w, h = ann["bbox"]
    return [[x, y, num(x + w), y, num(x + w), num(y + h), x, num(y + h)]]


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    place_images(samples, out, lambda s: f"images/{s.split}", ctx)
    kp_names = _keypoint_names(samples)
    labels = list(ctx.classes) + sorted(set(kp_names) - set(ctx.classes))
    cat = {name: i + 1 for i, name in enumerate(labels)}  # COCO category id = class id + 1
    cat.setdefault(NO_LABEL, len(cat) + 1)
    categories = [
        {"id": i, "name": n, "supercategory": "object", **({"keypoints": kp_names[n], "skeleton": []} if n in kp_names else {})}
        for n, i in sorted(cat.items(), key=lambda kv: kv[1]) if n != NO_LABEL or n in kp_names
    ]
    lic = _licenses(samples)
    licenses = [{"id": i, "name": n, "url": licence_url(n)} for n, i in lic.items()]
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split, items in by_split(samples).items():
        images, annotations = [], []
        for image_id, s in enumerate(items, start=1):
            if s.file_name is None:
                raise FormatError(f"COCO holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
            images.append({"id": image_id, "file_name": s.file_name, "width": s.width, "height": s.height,
                           "license": lic[s.meta.get("licence") or "unknown"], "coco_url": s.meta.get("source_url") or "",
                           "flickr_url": "", "date_captured": s.meta.get("fetched_at") or "", "harvest_id": s.id})
            for parts in _objects(s.targets):
                ann = _annotation(parts, cat, kp_names)
                if "segmentation" not in ann:  # every consumer (annToMask, torchvision, datumaro) expects the key
                    ann["segmentation"] = _box_polygon(ann)
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
        doc = {"info": {"description": "exported by harvest", "version": "1.0"},
               "licenses": licenses, "images": images, "annotations": annotations, "categories": categories}
        (out / "annotations" / f"instances_{split}.json").write_text(dumps(doc, normalized=True) + "\n", encoding="utf-8")


def _targets_of(ann: dict[str, Any], names: dict[int, str], kp: dict[int, list[str]]) -> list[dict[str, Any]]:
    label = names[ann["category_id"]]
    extra = {"instance": ann["harvest_instance"]} if "harvest_instance" in ann else {}
    out = []
    x, y, w, h = ann["bbox"]
    segm = ann.get("segmentation")
    polygons = iter(segm if isinstance(segm, list) and "polygon" in ann.get("harvest_parts", []) else [])
    for part in ann.get("harvest_parts", ["bbox"]):
        if part == "bbox":
            out.append({"type": "bbox", "x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h, "label": label, **extra})
        elif part == "polygon":
            flat = next(polygons)
            out.append({"type": "polygon", "points": [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)],
                        "label": label, **extra})
        elif part == "mask":
            out.append({"type": "mask", "rle": ann["segmentation"], "label": label, **extra})
        elif part == "keypoints":
            flat = ann["keypoints"]
            pts = [(n, [flat[3 * i], flat[3 * i + 1]]) for i, n in enumerate(kp[ann["category_id"]]) if flat[3 * i + 2] > 0]
            out.append({"type": "keypoints", "points": [p for _, p in pts], "labels": [n for n, _ in pts],
                        "label": label if ann.get("harvest_kp_label", True) else None, **extra})
    return out


def read(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        path = root / "annotations" / f"instances_{split}.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        names = {c["id"]: c["name"] for c in doc["categories"]}
        kp = {c["id"]: c.get("keypoints", []) for c in doc["categories"]}
        per_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for ann in doc["annotations"]:
            per_image[ann["image_id"]].extend(_targets_of(ann, names, kp))
        for img in doc["images"]:
            out.append(ReadSample(img["harvest_id"], split, per_image[img["id"]],
                                  sha256_path(root / "images" / split / img["file_name"])))
    return out


FORMATS = [Format("coco", "COCO instances JSON (boxes, polygons, keypoints, masks)", KINDS, write, read)]
