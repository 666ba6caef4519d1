"""COCO *uncompressed* RLE for binary masks, in pure numpy.

Runs are counted in column-major (Fortran) order and start with a run of zeros, exactly as
pycocotools does: ``{"size": [h, w], "counts": [zeros, ones, zeros, ...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from augment.errors import TargetError


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """Encode a 2-D mask (any dtype; non-zero is foreground) as uncompressed COCO RLE."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise TargetError(
            f"encode_rle expects a 2-D (h, w) mask, found shape {mask.shape}; pass one instance mask at a time"
        )
    h, w = mask.shape
    flat = mask.ravel(order="F") != 0
    if flat.size == 0:
        return {"size": [int(h), int(w)], "counts": [0]}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs.insert(0, 0)
    return {"size": [int(h), int(w)], "counts": [int(r) for r in runs]}


def decode_rle(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode uncompressed COCO RLE into an (h, w) uint8 mask of 0/1."""
    try:
        h, w = (int(v) for v in rle["size"])
        counts = np.asarray(rle["counts"], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise TargetError(
            "mask rle must be {'size': [h, w], 'counts': [int, ...]} (uncompressed COCO RLE); "
            f"found {_short(rle)} ({exc}); compressed string counts must be decoded with pycocotools first"
        ) from None
    if counts.ndim != 1 or (counts.size and counts.min() < 0) or int(counts.sum()) != h * w:
        raise TargetError(
            f"mask rle counts must be non-negative run lengths summing to h*w = {h * w}, "
            f"found sum {int(counts.sum()) if counts.ndim == 1 else 'n/a'}; re-encode the mask with encode_rle"
        )
    values = np.zeros(counts.size, dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, counts)
    return flat.reshape((w, h)).T.copy()


def mask_bbox(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """Tight pixel-area box ``(x_min, y_min, x_max, y_max)`` of a mask, or None when it is empty."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
