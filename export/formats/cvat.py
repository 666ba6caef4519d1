"""CVAT for images 1.1 (project layout): annotations.xml and images/<split>/<file>.

Each split is a task of the project (`<subset>`), each image carries `subset`; shapes: `box` (a rotated
box as CVAT's `rotation` about its centre), `polygon`, `mask` (CVAT's RLE over its bounding rectangle,
row-major, starting with a run of zeros), `points` for keypoints (point names in the `point_names`
attribute, in the same order), and `tag` for whole-image choices. Parts of one instance share a `group_id`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, by_split, id_from_file_name, place_images, rotated_corners, sha256_path,
)
from export.formats.raster import rle_to_mask
from export.formats.voc import palette

KINDS = frozenset({"bbox", "polygon", "mask", "keypoints", "choice"})


def _f(v: float) -> str:
    return f"{float(v):.2f}"


def _points(points: list[list[float]]) -> str:
    return ";".join(f"{_f(x)},{_f(y)}" for x, y in points)


def _rotated(corners: list[list[float]]) -> tuple[float, float, float, float, float]:
    """(xtl, ytl, xbr, ybr, rotation) of the unrotated box turned `rotation` degrees clockwise about its centre."""
    (x0, y0), (x1, y1), _, (x3, y3) = corners
    cx, cy = sum(p[0] for p in corners) / 4, sum(p[1] for p in corners) / 4
    w, h = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0)) % 360
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, angle


def _mask_attrs(rle: dict[str, Any]) -> dict[str, str] | None:
    full = rle_to_mask(rle)
    ys, xs = np.nonzero(full)
    if not xs.size:
        return None
    left, top, right, bottom = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    flat = full[top:bottom, left:right].flatten().astype(np.int8)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"rle": ", ".join(str(c) for c in counts), "left": str(left), "top": str(top),
            "width": str(right - left), "height": str(bottom - top)}


def _meta(root: ET.Element, classes: list[str], splits: list[str]) -> None:
    project = ET.SubElement(ET.SubElement(root, "meta"), "project")
    ET.SubElement(project, "id").text = "0"
    ET.SubElement(project, "name").text = "harvest"
    labels = ET.SubElement(project, "labels")
    pal = palette()
    for i, c in enumerate(classes, start=1):
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = c
        ET.SubElement(label, "color").text = "#{:02x}{:02x}{:02x}".format(*pal[3 * i:3 * i + 3])
        ET.SubElement(label, "type").text = "any"
        attr = ET.SubElement(ET.SubElement(label, "attributes"), "attribute")
        for tag, text in (("name", "point_names"), ("mutable", "False"), ("input_type", "text"),
                          ("default_value", ""), ("values", "")):
            ET.SubElement(attr, tag).text = text
    tasks = ET.SubElement(project, "tasks")
    for n, split in enumerate(splits):
        task = ET.SubElement(tasks, "task")
        ET.SubElement(task, "id").text = str(n)
        ET.SubElement(task, "name").text = split
        ET.SubElement(task, "subset").text = split


def _shapes(image: ET.Element, s: Sample) -> None:
    groups: dict[str, int] = {}
    corners = rotated_corners(s.targets)
    for t in s.targets:
        inst = t.get("instance")
        attrs = {"label": t.get("label") or "", "source": "manual", "occluded": "0", "z_order": "0"}
        if inst is not None:
            attrs["group_id"] = str(groups.setdefault(inst, len(groups) + 1))
        kind = t["type"]
        if kind == "choice":
            ET.SubElement(image, "tag", {"label": t["label"], "source": "manual"})
        elif kind == "bbox":
            if inst in corners:
                x0, y0, x1, y1, rot = _rotated(corners[inst])
                ET.SubElement(image, "box", {**attrs, "xtl": _f(x0), "ytl": _f(y0), "xbr": _f(x1), "ybr": _f(y1),
                                             "rotation": _f(rot)})
            else:
                ET.SubElement(image, "box", {**attrs, "xtl": _f(t["x_min"]), "ytl": _f(t["y_min"]),
                                             "xbr": _f(t["x_max"]), "ybr": _f(t["y_max"])})
        elif kind == "polygon" and inst not in corners:
            ET.SubElement(image, "polygon", {**attrs, "points": _points(t["points"])})
        elif kind == "mask":
            mask = _mask_attrs(t["rle"])
            if mask is not None:
                ET.SubElement(image, "mask", {**attrs, **mask})
        elif kind == "keypoints":
            el = ET.SubElement(image, "points", {**attrs, "points": _points(t["points"])})
            ET.SubElement(el, "attribute", {"name": "point_names"}).text = ";".join(t["labels"])


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    for s in samples:
        if s.file_name is None:
            raise FormatError(f"CVAT for images holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
    place_images(samples, out, lambda s: f"images/{s.split}", ctx)
    per_split = {sp: items for sp, items in by_split(samples).items() if items}
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    _meta(root, ctx.classes, list(per_split))
    n = 0
    for split, items in per_split.items():
        for s in items:
            image = ET.SubElement(root, "image", {"id": str(n), "name": s.file_name, "subset": split,
                                                  "width": str(s.width), "height": str(s.height)})
            _shapes(image, s)
            n += 1
    ET.indent(root, space="  ")
    (out / "annotations.xml").write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _parse_points(text: str) -> list[list[float]]:
    return [[float(v) for v in p.split(",")] for p in text.split(";") if p]


def read(root: Path) -> list[ReadSample]:
    """Boxes, polygons, keypoints and choices back (masks and rotations are checked by the consumer tests)."""
    doc = ET.parse(root / "annotations.xml").getroot()
    out = []
    for image in doc.iter("image"):
        targets: list[dict[str, Any]] = []
        for el in image:
            label = el.get("label")
            if el.tag == "tag":
                targets.append({"type": "choice", "label": label})
            elif el.tag == "box" and "rotation" not in el.attrib:
                targets.append({"type": "bbox", "label": label, **{k: float(el.get(a)) for k, a in (
                    ("x_min", "xtl"), ("y_min", "ytl"), ("x_max", "xbr"), ("y_max", "ybr"))}})
            elif el.tag == "polygon":
                targets.append({"type": "polygon", "label": label, "points": _parse_points(el.get("points"))})
            elif el.tag == "points":
                names = (el.findtext("attribute") or "").split(";")
                targets.append({"type": "keypoints", "label": label or None, "labels": names,
                                "points": _parse_points(el.get("points"))})
        split = image.get("subset")
        name = image.get("name")
        out.append(ReadSample(id_from_file_name(name), split, targets, sha256_path(root / "images" / split / name)))
    return out


FORMATS = [Format("cvat", "CVAT for images 1.1 XML (boxes, rotated boxes, polygons, masks, keypoints, tags)", KINDS,
                  write, read, exact=frozenset({"bbox", "polygon", "keypoints", "choice"}), rotated=True)]
