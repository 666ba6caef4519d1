"""How a model's file names its samples and classes, resolved through an export of the version.

COCO results name images by the `image_id` of the export's annotations/instances_<split>.json and
classes by its `category_id`; YOLO txt files are named like the exported images and name classes by
their index in data.yaml. The export's manifest.json says which sample each exported file is.

Exports name samples by content ("sha256:<hex>", "url:<canonical url>"), never by database ids;
``resolve_keys`` turns those ids into the store's sample keys through the version's members.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evaluate.errors import NoExport
from export.formats.base import id_from_file_name
from export.manifest import MANIFEST


@dataclass
class ExportIndex:
    """What an export directory tells about ids: manifest samples, file stems, COCO ids, class ids."""

    root: Path
    samples: dict[str, dict[str, Any]]  # manifest sample id -> record
    stems: dict[str, str] = field(default_factory=dict)  # exported file stem -> sample id
    coco_images: dict[str, dict[int, str]] = field(default_factory=dict)  # split -> image_id -> sample id
    coco_classes: dict[int, str] = field(default_factory=dict)  # category_id -> class name
    yolo_classes: dict[int, str] = field(default_factory=dict)  # class index -> class name


def load_index(root: Path) -> ExportIndex:
    """Read the manifest (and the COCO / YOLO id tables when present) of the export at `root`."""
    path = root / MANIFEST
    if not path.is_file():
        raise NoExport(f"{root} has no {MANIFEST}; pass --export with a directory written by `harvest dataset export`.")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    samples = {s["id"]: s for s in manifest.get("samples", [])}
    index = ExportIndex(root, samples)
    for entry in manifest.get("files", []):
        name = entry["path"].rsplit("/", 1)[-1]
        if entry["path"].startswith("images/"):
            try:
                sid = id_from_file_name(name)
            except Exception:  # noqa: BLE001 - files not named by harvest (README, labels) name no sample
                continue
            if sid in samples:
                index.stems[name.rsplit(".", 1)[0]] = sid
    classes = manifest.get("classes")  # a class-id table in the manifest wins over the format's own files
    for ann in sorted((root / "annotations").glob("instances_*.json")) if (root / "annotations").is_dir() else []:
        doc = json.loads(ann.read_text(encoding="utf-8"))
        split = ann.stem.removeprefix("instances_")
        index.coco_images[split] = {img["id"]: img["harvest_id"] for img in doc.get("images", [])}
        index.coco_classes.update({c["id"]: c["name"] for c in doc.get("categories", [])})
    if (root / "data.yaml").is_file():
        data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8")) or {}
        names = data.get("names") or {}
        items = names.items() if isinstance(names, dict) else enumerate(names)
        index.yolo_classes = {int(k): str(v) for k, v in items}
    if isinstance(classes, dict):
        table = {int(k): str(v) for k, v in classes.items()}
        index.coco_classes = index.coco_classes or table
        index.yolo_classes = index.yolo_classes or table
    return index


def store_keys(store: Any, version: str) -> dict[str, str]:
    """Content key (an export's sample id) -> the store's sample key, for every member of `version`."""
    from export.versions import member_content_key
    from storage import datasets as q

    with store.sessions() as session:
        row = q.version_by_name(session, version)
        if row is None:
            return {}
        return {member_content_key(m): m.sample_key for m in q.version_members(session, row.id)}


def resolve_keys(index: ExportIndex, keys: dict[str, str]) -> ExportIndex:
    """The same index with sample ids as the store's sample keys (ids not in `keys`, e.g. of an older
    export that named samples by sample key already, stay as they are)."""
    def key(sid: str) -> str:
        base, sep, k = sid.partition("#")
        return keys.get(base, base) + sep + k if base in keys else sid

    index.samples = {key(k): v for k, v in index.samples.items()}
    index.stems = {stem: key(sid) for stem, sid in index.stems.items()}
    index.coco_images = {sp: {i: key(sid) for i, sid in ids.items()} for sp, ids in index.coco_images.items()}
    return index
