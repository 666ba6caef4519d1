"""The export format registry: one module per format; adding one is a module plus one line below."""
from __future__ import annotations

from importlib import import_module

from export.errors import UnknownFormat
from export.formats.base import Format

_MODULES = (
    "coco",
    "yolo",  # yolo, yolo-seg, yolo-obb
    "yolo_pose",
    "voc",
    "imagefolder",
    "tabular",  # csv and jsonl
    "hf_parquet",
    "webdataset",
    "createml",
    "cvat",
)


def registry() -> dict[str, Format]:
    """Every registered format by name (a module may register more than one, e.g. yolo and yolo-seg)."""
    out: dict[str, Format] = {}
    for name in _MODULES:
        for fmt in import_module(f"export.formats.{name}").FORMATS:
            out[fmt.name] = fmt
    return out


def get_format(name: str) -> Format:
    formats = registry()
    if name not in formats:
        raise UnknownFormat(f"export format {name!r} is unknown; choose one of: {', '.join(sorted(formats))}.")
    return formats[name]
