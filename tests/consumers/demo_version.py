"""The demo's v1, frozen straight from the demo site's images and ground truth (no crawl, no Label Studio),
with every target type a format can hold derived from each ground-truth box:

- the box itself (``bbox``), and the image's whole-image class (``choice``: the label of its largest box);
- a ``polygon``: the pentagon through the box's top midpoint, right/left edges at mid-height and bottom corners;
- a ``mask``: the box's inner rectangle, inset by a quarter, as COCO RLE;
- ``keypoints`` top/bottom/left/right (the box's edge midpoints; left and right swap under a flip);
- on every third object a rotated box instead of box and polygon: the box's corners turned 15 degrees about
  its centre, with their axis-aligned extent as the box (what Label Studio's rotated rectangles become).

All parts of one object share an ``instance`` id. `EXPECTED` is the hand-derivation those tests compare with.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

from tests.export.samples import rect_rle

POINTS = ["top", "bottom", "left", "right"]
POLICY = """\
version: 1
name: consumers
labels:
  classes: [ball, crate, bottle, arrow_left, arrow_right]
  swap: {arrow_left: arrow_right}
  keypoints: [top, bottom, left, right]
  keypoint_swap: {left: right}
transforms:
  - HorizontalFlip: {p: 0.5}
  - RandomBrightnessContrast: {p: 0.5}
bbox_params: {min_visibility: 0.3, min_area: 16}
budget: {multiplier: 1}
"""


@dataclass
class Truth:
    """What the test version holds, per sample key: image size and the derived targets."""

    samples: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count(self, kind: str, split: str | None = None) -> int:
        return sum(1 for s in self.samples.values() if split in (None, s["split"])
                   for t in s["targets"] if t["type"] == kind)


def rotated(x0: float, y0: float, x1: float, y1: float, degrees: float) -> list[list[float]]:
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    r = math.radians(degrees)
    corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
    return [[cx + dx * math.cos(r) - dy * math.sin(r), cy + dx * math.sin(r) + dy * math.cos(r)] for dx, dy in corners]


def derived(box: dict[str, Any], n: int, w: int, h: int) -> list[dict[str, Any]]:
    x0, y0, x1, y1, label = box["x_min"], box["y_min"], box["x_max"], box["y_max"], box["label"]
    inst = f"o{n}"
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    qx, qy = (x1 - x0) / 4, (y1 - y0) / 4
    out = [
        {"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "label": label, "instance": inst},
        {"type": "polygon", "points": [[mx, y0], [x1, my], [x1, y1], [x0, y1], [x0, my]], "label": label, "instance": inst},
        {"type": "mask", "rle": rect_rle(h, w, int(x0 + qx), int(y0 + qy), int(x1 - qx), int(y1 - qy)), "label": label,
         "instance": inst},
        {"type": "keypoints", "points": [[mx, y0], [mx, y1], [x0, my], [x1, my]], "labels": list(POINTS),
         "label": label, "instance": inst},
    ]
    if n % 3 == 0:  # a rotated box: its corner polygon (as Label Studio's rotated rectangles become)
        corners = rotated(x0, y0, x1, y1, 15)
        inside = all(0 <= x <= w and 0 <= y <= h for x, y in corners)
        if inside:
            xs, ys = [p[0] for p in corners], [p[1] for p in corners]
            out[0].update(x_min=min(xs), y_min=min(ys), x_max=max(xs), y_max=max(ys))
            out[1] = {"type": "polygon", "points": corners, "label": label, "instance": inst}
    return out


def build(store: Any, site_seed: int = 0, limit: int | None = None) -> Truth:
    """Put the demo's valid, distinct images with derived targets into `store` as project `demo`."""
    from harvest.demo.site.site import DemoSite
    from tests.export.factory import Factory

    site = DemoSite(site_seed)
    f = Factory(store)
    project = f.project("demo", template="image-bbox", labels=site.labels + POINTS)
    truth = Truth()
    seen: set[str] = set()
    n = 0
    for path, boxes in site.ground_truth().items():
        if not boxes:
            continue
        body = site.resource(path).body
        with Image.open(io.BytesIO(body)) as img:
            if img.getexif().get(0x0112, 1) != 1:  # EXIF-rotated: the store would transpose; keep the test plain
                continue
            w, h = ImageOps.exif_transpose(img).size
            fmt = img.format
        key = store.blobs.put(body)
        if key in seen:
            continue
        seen.add(key)
        from storage.models import Asset, ItemAsset

        item = f.item(page_url=f"http://127.0.0.1:8000{path}.html")
        asset = Asset(sha256=key, mime=f"image/{fmt.lower()}", width=w, height=h, bytes=len(body),
                      blob_path=store.blobs.relpath(key))
        f.session.add(asset)
        f.session.flush()
        f.session.add(ItemAsset(item_id=item.id, asset_id=asset.id, url=f"http://127.0.0.1:8000{path}", fetched_at=item.fetched_at))
        targets: list[dict[str, Any]] = []
        for box in boxes:
            targets += derived(box, n, w, h)
            n += 1
        largest = max(boxes, key=lambda b: (b["x_max"] - b["x_min"]) * (b["y_max"] - b["y_min"]))
        targets.append({"type": "choice", "label": largest["label"]})
        task = f.task(project, asset)
        f.annotate(task, targets)
        truth.samples[f"sha256:{key}"] = {"width": w, "height": h, "targets": targets, "split": None}
        if limit and len(truth.samples) >= limit:
            break
    f.commit()
    f.close()
    return truth


def freeze(store: Any, truth: Truth, name: str = "v1", policy: bool = True) -> None:
    """create_version as the demo does it (split 0.8/0.1/0.1, seed 0, grouped by page), with POLICY."""
    from export import create_version
    from storage import datasets as q

    create_version(store, name, "demo", split=(0.8, 0.1, 0.1), seed=0, group_by="page",
                   policy_text=POLICY if policy else None)
    with store.sessions() as session:
        version = q.version_by_name(session, name)
        for m in q.member_rows(session, version.id):
            truth.samples[f"sha256:{m.sha256}"]["split"] = m.split
