"""Pascal VOC: JPEGImages/, Annotations/<stem>.xml, ImageSets/Main/<split>.txt and trainval.txt, labelmap.txt;
segmentation (masks and polygons) as SegmentationClass/ and SegmentationObject/ palette PNGs.

Box corners are whole pixels [x_min, y_min, x_max, y_max] of the stored image (rounded), as VOC tools expect;
`truncated` is 1 when a box touches the image border. In the class PNGs a pixel's value is class id + 1
(0 background, 255 the VOC 'void'), in the object PNGs it is the object's number in its XML (1, 2, ...).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from export.errors import FormatError
from export.formats.raster import target_mask
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, by_split, id_from_file_name, place_images, sha256_path,
)

SEG_KINDS = ("polygon", "mask")


def palette() -> list[int]:
    """The Pascal VOC colour map (256 RGB entries, the bit-interleaving of the devkit's labelcolormap)."""
    out = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out += [r, g, b]
    return out


def _sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _px(value: float, limit: int | None) -> int:
    v = int(round(float(value)))
    return max(0, min(v, limit)) if limit else max(0, v)


def _objects(s: Sample) -> list[dict[str, Any]]:
    """One VOC object per box or segment (targets sharing an instance are one object), with its box and segments."""
    out: list[dict[str, Any]] = []
    by_instance: dict[str, dict[str, Any]] = {}
    for t in s.targets:
        if t["type"] not in ("bbox", *SEG_KINDS):
            continue
        inst = t.get("instance")
        obj = by_instance.get(inst) if inst is not None else None
        if obj is None:
            obj = {"label": t["label"], "box": None, "segments": [], "own_box": False}
            out.append(obj)
            if inst is not None:
                by_instance[inst] = obj
        if t["type"] == "bbox":
            obj["box"] = (t["x_min"], t["y_min"], t["x_max"], t["y_max"])
            obj["own_box"] = True
        else:
            obj["segments"].append(t)
    for obj in out:
        if obj["box"] is None:  # a polygon's extent is its vertices', a mask's its pixels'
            xs: list[float] = []
            ys: list[float] = []
            for t in obj["segments"]:
                if t["type"] == "polygon":
                    xs += [p[0] for p in t["points"]]
                    ys += [p[1] for p in t["points"]]
                else:
                    py, px = np.nonzero(_raster(t, s.height, s.width))
                    if px.size:
                        xs += [int(px.min()), int(px.max()) + 1]
                        ys += [int(py.min()), int(py.max()) + 1]
            obj["box"] = (min(xs), min(ys), max(xs), max(ys)) if xs else (0, 0, 0, 0)
    return out


def _raster(t: dict[str, Any], h: int, w: int) -> np.ndarray:
    return target_mask(t, h, w)


def _xml(s: Sample, objects: list[dict[str, Any]], segmented: bool) -> bytes:
    root = ET.Element("annotation")
    _sub(root, "folder", "JPEGImages")
    _sub(root, "filename", s.file_name)
    _sub(_sub(root, "source"), "database", s.id)
    size = _sub(root, "size")
    _sub(size, "width", s.width)
    _sub(size, "height", s.height)
    _sub(size, "depth", 3)
    _sub(root, "segmented", int(segmented))
    for o in objects:
        x0, y0, x1, y1 = (_px(v, lim) for v, lim in zip(o["box"], (s.width, s.height, s.width, s.height)))
        obj = _sub(root, "object")
        _sub(obj, "name", o["label"])
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", int(x0 <= 0 or y0 <= 0 or (s.width and x1 >= s.width) or (s.height and y1 >= s.height)))
        _sub(obj, "difficult", 0)
        _sub(obj, "occluded", 0)
        _sub(obj, "harvest_box", int(o["own_box"]))
        bb = _sub(obj, "bndbox")
        for tag, v in (("xmin", x0), ("ymin", y0), ("xmax", x1), ("ymax", y1)):
            _sub(bb, tag, v)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    img = Image.fromarray(array.astype(np.uint8), mode="P")
    img.putpalette(palette())
    img.save(path, format="PNG", optimize=False, compress_level=9)


def _segmentation(s: Sample, objects: list[dict[str, Any]], index: dict[str, int], out: Path) -> None:
    cls = np.zeros((s.height, s.width), dtype=np.uint8)
    inst = np.zeros((s.height, s.width), dtype=np.uint8)
    for n, o in enumerate(objects, start=1):
        for t in o["segments"]:
            where = _raster(t, s.height, s.width)
            cls[where] = index[o["label"]] + 1
            inst[where] = n
    stem = s.file_name.rsplit(".", 1)[0]
    _png(cls, out / "SegmentationClass" / f"{stem}.png")
    _png(inst, out / "SegmentationObject" / f"{stem}.png")


def labelmap(classes: list[str]) -> str:
    """labelmap.txt as datumaro and CVAT read it: name:r,g,b:parts:actions, background first."""
    pal = palette()
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    for i, c in enumerate(classes, start=1):
        lines.append(f"{c}:{pal[3 * i]},{pal[3 * i + 1]},{pal[3 * i + 2]}::")
    return "\n".join(lines) + "\n"


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    for s in samples:
        if s.file_name is None:
            raise FormatError(f"Pascal VOC holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
    index = {c: i for i, c in enumerate(ctx.classes)}
    place_images(samples, out, lambda s: "JPEGImages", ctx)
    for sub in ("Annotations", "ImageSets/Main", "ImageSets/Segmentation", "SegmentationClass", "SegmentationObject"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    lists: dict[str, dict[str, list[str]]] = {"Main": {}, "Segmentation": {}}
    for split, items in by_split(samples).items():
        lists["Main"][split], lists["Segmentation"][split] = [], []
        for s in items:
            stem = s.file_name.rsplit(".", 1)[0]
            objects = _objects(s)
            segmented = any(o["segments"] for o in objects)
            (out / "Annotations" / f"{stem}.xml").write_bytes(_xml(s, objects, segmented))
            lists["Main"][split].append(stem)
            if segmented:
                _segmentation(s, objects, index, out)
                lists["Segmentation"][split].append(stem)
    for task, per_split in lists.items():
        per_split["trainval"] = sorted(per_split["train"] + per_split["val"])
        for split, stems in per_split.items():
            (out / "ImageSets" / task / f"{split}.txt").write_text("".join(f"{x}\n" for x in stems), encoding="utf-8")
    (out / "labelmap.txt").write_text(labelmap(ctx.classes), encoding="utf-8")


def read(root: Path) -> list[ReadSample]:
    """Boxes back (objects that are only the extent of a segment are skipped)."""
    out = []
    for split in SPLITS:
        listing = root / "ImageSets" / "Main" / f"{split}.txt"
        for stem in listing.read_text(encoding="utf-8").split():
            doc = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
            name = doc.findtext("filename")
            targets = []
            for obj in doc.iter("object"):
                if obj.findtext("harvest_box") == "0":  # the extent of a segment, not a box of its own
                    continue
                bb = obj.find("bndbox")
                targets.append({"type": "bbox", "label": obj.findtext("name"),
                                **{k: float(bb.findtext(tag)) for k, tag in
                                   (("x_min", "xmin"), ("y_min", "ymin"), ("x_max", "xmax"), ("y_max", "ymax"))}})
            out.append(ReadSample(id_from_file_name(name), split, targets, sha256_path(root / "JPEGImages" / name)))
    return out


FORMATS = [Format("voc", "Pascal VOC XML (boxes) with class/object segmentation PNGs (masks, polygons)",
                  frozenset({"bbox", "polygon", "mask"}), write, read, exact=frozenset({"bbox"}), grid=True)]
