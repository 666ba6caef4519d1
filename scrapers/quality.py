"""Cheap image-quality measures, computed once per stored image inside the ingest worker.

Pure functions over bytes or arrays (OpenCV + numpy). The measures follow CleanVision's definitions
(blur: variance of the Laplacian; dark/bright: grey-level statistics; low information: histogram
entropy; odd aspect ratio; grayscale: colourfulness), on a thumbnail of at most THUMB px per side:
JPEGs are decoded straight at 1/2..1/8 scale by libjpeg, so the cost per image stays small.
"""
from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
from PIL import Image

THUMB = 256
DARK, BRIGHT = 20, 235


def measure_array(rgb: np.ndarray, width: int, height: int) -> dict[str, float]:
    """Measures of an RGB (or greyscale) uint8 array; `width`/`height` are the stored image's size."""
    if rgb.ndim == 2:
        grey, colour = rgb, 0.0
    else:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
        rg, yb = r - g, 0.5 * (r + g) - b
        colour = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / grey.size
    return {
        "blur": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        "brightness": float(grey.mean()),
        "dark_fraction": float(hist[:DARK].sum() / grey.size),
        "bright_fraction": float(hist[BRIGHT + 1:].sum() / grey.size),
        "entropy": float(-(p * np.log2(p)).sum()),
        "aspect": float(width / height) if height else 0.0,
        "colourfulness": colour,
    }


def measure_bytes(data: bytes) -> dict[str, float]:
    """Measures of an encoded image (already validated by the ingest checks)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if image.format == "JPEG":
            image.draft("RGB", (THUMB, THUMB))
        image.load()
        if max(image.size) > THUMB:
            image = image.reduce(max(1, max(image.size) // THUMB))
        mode = "L" if image.mode in ("L", "LA", "I;16", "I", "1") else "RGB"
        array = np.asarray(image.convert(mode))
    return measure_array(array, width, height)


def safe_measure(data: bytes) -> dict[str, Any] | None:
    """measure_bytes, or None when the image cannot be measured (quality is never a reason to fail ingest)."""
    try:
        return measure_bytes(data)
    except Exception:  # noqa: BLE001 - a measurement problem must not reject an image that passed validation
        return None


def measure_missing(store: Any, limit: int | None = None, redo: bool = False) -> int:
    """Measure stored images that have no quality row yet (all of them with `redo`); returns how many."""
    from sqlalchemy import select

    from storage.collect_models import Asset
    from storage.engine import session_scope
    from storage.eval_models import AssetQuality
    from storage.quality import insert_quality

    with store.sessions() as session:
        stmt = select(Asset.id, Asset.sha256).where(Asset.mime.like("image/%")).order_by(Asset.id)
        if not redo:
            stmt = stmt.where(~select(AssetQuality.asset_id).where(AssetQuality.asset_id == Asset.id).exists())
        todo = list(session.execute(stmt.limit(limit) if limit else stmt))
    done = 0
    for start in range(0, len(todo), 500):
        rows = []
        for asset_id, sha in todo[start:start + 500]:
            path = store.blobs.root / store.blobs.relpath(sha)
            measures = safe_measure(path.read_bytes()) if path.is_file() else None
            if measures is not None:
                rows.append({"asset_id": asset_id, **measures})
        with session_scope(store.sessions) as session:
            done += insert_quality(session, rows, replace=redo)
    return done
