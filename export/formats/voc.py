"""Pascal VOC: JPEGImages/, Annotations/<stem>.xml, ImageSets/Main/<split>.txt (boxes).

Coordinates are absolute pixels of the stored image as [x_min, y_min, x_max, y_max] (the convention
albumentations calls pascal_voc), written without rounding to integers.
"""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from export.errors import FormatError
from export.formats.base import (
    SPLITS, Context, Format, ReadSample, Sample, by_split, id_from_file_name, num, place_images, sha256_path,
)


def _sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _xml(s: Sample) -> bytes:
    root = ET.Element("annotation")
    _sub(root, "folder", "JPEGImages")
    _sub(root, "filename", s.file_name)
    _sub(_sub(root, "source"), "database", s.id)
    size = _sub(root, "size")
    _sub(size, "width", s.width)
    _sub(size, "height", s.height)
    _sub(size, "depth", 3)
    _sub(root, "segmented", 0)
    for t in s.targets:
        if t["type"] != "bbox":
            continue
        obj = _sub(root, "object")
        _sub(obj, "name", t["label"])
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", 0)
        _sub(obj, "difficult", 0)
        bb = _sub(obj, "bndbox")
        for key, tag in (("x_min", "xmin"), ("y_min", "ymin"), ("x_max", "xmax"), ("y_max", "ymax")):
            _sub(bb, tag, num(t[key]))
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    for s in samples:
        if s.file_name is None:
            raise FormatError(f"Pascal VOC holds images only; sample {s.id} is a text. Export text with jsonl or csv.")
    place_images(samples, out, lambda s: "JPEGImages", ctx)
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    (out / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for split, items in by_split(samples).items():
        for s in items:
            (out / "Annotations" / (s.file_name.rsplit(".", 1)[0] + ".xml")).write_bytes(_xml(s))
        stems = "".join(s.file_name.rsplit(".", 1)[0] + "\n" for s in items)
        (out / "ImageSets" / "Main" / f"{split}.txt").write_text(stems, encoding="utf-8")


def read(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        listing = root / "ImageSets" / "Main" / f"{split}.txt"
        for stem in listing.read_text(encoding="utf-8").split():
            doc = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
            name = doc.findtext("filename")
            targets = []
            for obj in doc.iter("object"):
                bb = obj.find("bndbox")
                targets.append({"type": "bbox", "label": obj.findtext("name"),
                                **{k: float(bb.findtext(tag)) for k, tag in
                                   (("x_min", "xmin"), ("y_min", "ymin"), ("x_max", "xmax"), ("y_max", "ymax"))}})
            out.append(ReadSample(id_from_file_name(name), split, targets, sha256_path(root / "JPEGImages" / name)))
    return out


FORMATS = [Format("voc", "Pascal VOC XML (boxes)", frozenset({"bbox"}), write, read)]
