"""Cheap image-quality measures, computed once per stored image inside the ingest worker.

Pure functions over images (OpenCV + numpy). The measures follow CleanVision's choices (blur: variance
of the Laplacian; dark/bright: grey-level statistics; low information: histogram entropy; odd aspect
ratio; grayscale: colourfulness) on a copy of at most THUMB px per side. At ingest they reuse the
JPEG draft that validation decodes anyway (libjpeg's DCT scaling, in YCbCr: no colour conversion),
because a second decode would cost as much as the whole ingest check.
"""
from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
from PIL import Image

THUMB = 256
DARK, BRIGHT = 20, 235


def measure_planes(grey: np.ndarray, chroma: tuple[np.ndarray, np.ndarray] | None, width: int,
                   height: int) -> dict[str, float]:
    """Measures from the luma plane (uint8) and the Cb/Cr planes (None for a greyscale image).

    Colourfulness is measured in YCbCr, as the spread and offset of the chroma planes around neutral
    (128): about 0 for grey pixels whatever the file's mode, tens for coloured photos.
    """
    if max(grey.shape) > THUMB:  # the same scale for every image, so blur thresholds mean the same
        f = THUMB / max(grey.shape)
        size = (max(1, round(grey.shape[1] * f)), max(1, round(grey.shape[0] * f)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        chroma = None if chroma is None else tuple(cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in chroma)
    colour = 0.0
    if chroma is not None:
        (mb,), (sb,) = cv2.meanStdDev(chroma[0])
        (mr,), (sr,) = cv2.meanStdDev(chroma[1])
        colour = float(np.hypot(sb, sr) + 0.3 * np.hypot(mb - 128, mr - 128))
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    n = grey.size
    p = hist[hist > 0] / n
    # 16-bit Laplacian: a 3x3 sum of 8-bit values fits exactly, and the statistics are the float ones
    _, (lap_std,) = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S))
    return {
        "blur": float(lap_std[0] ** 2),
        "brightness": float(np.dot(hist, np.arange(256)) / n),
        "dark_fraction": float(hist[:DARK].sum() / n),
        "bright_fraction": float(hist[BRIGHT + 1:].sum() / n),
        "entropy": float(-(p * np.log2(p)).sum()),
        "aspect": float(width / height) if height else 0.0,
        "colourfulness": colour,
    }


def measure_ycc(pixels: np.ndarray, width: int, height: int) -> dict[str, float]:
    """Measures of YCbCr pixels (height x width x 3, uint8), shrunk to THUMB as three planes at once:
    the same numbers as `measure_planes` of each plane (INTER_AREA works per channel), one copy fewer."""
    if max(pixels.shape[:2]) > THUMB:
        f = THUMB / max(pixels.shape[:2])
        size = (max(1, round(pixels.shape[1] * f)), max(1, round(pixels.shape[0] * f)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    y, cb, cr = cv2.split(pixels)
    return measure_planes(y, (cb, cr), width, height)


def measure_image(image: Image.Image, width: int, height: int) -> dict[str, float]:
    """Measures of a decoded image in any mode (the ingest pass hands over its YCbCr JPEG draft)."""
    if image.mode in ("L", "LA", "1", "I", "I;16", "F"):
        grey = np.asarray(image.convert("L"))
        return measure_planes(grey, None, width, height)
    ycc = image if image.mode == "YCbCr" else image.convert("RGB").convert("YCbCr")
    return measure_ycc(np.asarray(ycc), width, height)


def measure_bytes(data: bytes) -> dict[str, float]:
    """Measures of an encoded image, decoded as the ingest pass decodes it (JPEG draft in YCbCr)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if image.format == "JPEG":
            image.draft("YCbCr", (THUMB, THUMB))
        image.load()
        return measure_image(image, width, height)


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
