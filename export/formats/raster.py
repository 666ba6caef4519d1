"""Targets as binary pixel masks (for formats that store masks: VOC segmentation PNGs, CVAT masks)."""
from __future__ import annotations

from typing import Any

import numpy as np


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """COCO uncompressed RLE (column-major runs starting with zeros) -> HxW bool array."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    values = np.arange(counts.size) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")


def polygon_to_mask(points: list[list[float]], h: int, w: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("1", (w, h), 0)
    ImageDraw.Draw(img).polygon([(float(x), float(y)) for x, y in points], fill=1, outline=1)
    return np.asarray(img, dtype=bool)


def target_mask(t: dict[str, Any], h: int, w: int) -> np.ndarray:
    return rle_to_mask(t["rle"]) if t["type"] == "mask" else polygon_to_mask(t["points"], h, w)
