"""Targets drawn on stored images with Pillow (boxes, polygons, keypoints, masks), cached once in the data dir.

Targets are absolute pixel coordinates of the stored image; a thumbnail scales the image and the targets
by the same factor, so a drawing always sits in the stored pixel frame.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from storage.blobs import Blobs, check_key

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
           "#fabed4", "#469990", "#dcbeff", "#9a6324", "#800000", "#aaffc3", "#808000", "#000075"]
THUMB = 256


def colour(label: str | None) -> str:
    """A stable colour per label (the same in every page and every thumbnail)."""
    digest = hashlib.sha256((label or "").encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def ink(hex_colour: str) -> str:
    """Text colour readable on `hex_colour`: black on light colours, white on dark (WCAG relative luminance)."""
    def linear(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(hex_colour))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#fff"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """COCO uncompressed RLE (column-major runs, zeros first) -> bool array of shape (h, w)."""
    h, w = rle["size"]
    flat = np.zeros(h * w, dtype=bool)
    pos, value = 0, False
    for run in rle["counts"]:
        if value:
            flat[pos:pos + run] = True
        pos += run
        value = not value
    return flat.reshape((w, h)).T


def draw_targets(image: Image.Image, targets: list[dict[str, Any]], scale: float = 1.0) -> Image.Image:
    """A copy of `image` (RGB) with `targets` drawn; coordinates are multiplied by `scale`."""
    out = image.convert("RGB")
    width = max(1, round(max(out.size) / 160))
    masks = [t for t in targets if t.get("type") == "mask"]
    if masks:
        arr = np.asarray(out).copy()
        for t in masks:
            mask = decode_rle(t["rle"])
            if scale != 1.0:
                mask = np.asarray(Image.fromarray(mask).resize(out.size, Image.Resampling.NEAREST))
            if mask.shape != arr.shape[:2]:
                continue
            arr[mask] = (0.55 * arr[mask] + 0.45 * np.array(rgb(colour(t.get("label"))))).astype(np.uint8)
        out = Image.fromarray(arr)
    pen = ImageDraw.Draw(out)
    for t in targets:
        kind, c = t.get("type"), colour(t.get("label"))
        if kind == "bbox":
            pen.rectangle([t["x_min"] * scale, t["y_min"] * scale, t["x_max"] * scale, t["y_max"] * scale],
                          outline=c, width=width)
        elif kind == "polygon":
            pts = [(x * scale, y * scale) for x, y in t["points"]]
            pen.line(pts + pts[:1], fill=c, width=width)
        elif kind == "keypoints":
            r = max(2, width + 1)
            for x, y in t["points"]:
                pen.ellipse([x * scale - r, y * scale - r, x * scale + r, y * scale + r], fill=c, outline="#ffffff")
    return out


def _cache_name(sha256: str, targets: list[dict[str, Any]], size: int | None) -> str:
    key = json.dumps([sha256, size, targets], sort_keys=True, default=str).encode()
    return hashlib.sha256(key).hexdigest()


def cached_file(cache_dir: Path, name: str, ext: str, make: Callable[[], bytes]) -> Path:
    """`cache_dir/<name[:2]>/<name>.<ext>` (name: a hex digest computed here, never a request's text),
    written atomically by `make()` the first time."""
    if not re.fullmatch(r"[0-9a-f]{64}", name) or ext not in ("png", "jpg"):
        raise ValueError(f"cache names are sha256 hex digests; found {name!r}.{ext}")
    target = Path(cache_dir) / name[:2] / f"{name}.{ext}"
    if target.is_file():
        return target
    data = make()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".draw-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def encode(img: Image.Image, size: int | None) -> bytes:
    """PNG at full size (lossless, for pixel checks), JPEG for thumbnails fitted into size x size."""
    if size is not None and max(img.size) > size:
        scale = size / max(img.size)
        img = img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))),
                         Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    if size is None:
        img.save(buf, format="PNG")
    else:
        img.convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


class Drawings:
    """Drawn images (thumbnails as JPEG, full size as PNG), each made once and kept under `cache_dir`."""

    def __init__(self, blobs: Blobs, cache_dir: Path) -> None:
        self.blobs = blobs
        self.cache_dir = Path(cache_dir)

    def path(self, sha256: str, targets: list[dict[str, Any]], size: int | None) -> Path:
        """The cached drawing's file, made now if it is not there yet."""
        check_key(sha256)
        name = _cache_name(sha256, targets, size)
        return cached_file(self.cache_dir, name, "png" if size is None else "jpg",
                           lambda: self.render(sha256, targets, size))

    def render(self, sha256: str, targets: list[dict[str, Any]], size: int | None) -> bytes:
        """Encoded bytes of the blob with its targets drawn, fitted into size x size (None: full size)."""
        with self.blobs.open(check_key(sha256)) as stream, Image.open(stream) as img:
            stored = img.size
            scale = 1.0 if size is None else min(1.0, size / max(stored))
            if scale < 1.0:
                img.draft("RGB", (round(stored[0] * scale), round(stored[1] * scale)))  # JPEG: decode smaller
            img = img.convert("RGB")
        if scale < 1.0:
            img = img.resize((max(1, round(stored[0] * scale)), max(1, round(stored[1] * scale))),
                             Image.Resampling.BILINEAR)
        drawn = draw_targets(img, targets, scale)
        buf = io.BytesIO()
        if size is None:
            drawn.save(buf, format="PNG")
        else:
            drawn.save(buf, format="JPEG", quality=85)
        return buf.getvalue()
