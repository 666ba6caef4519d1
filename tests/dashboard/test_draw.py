"""Drawing in the stored pixel frame: masks decode as pycocotools decodes them, polygons and keypoints land on
their coordinates, thumbnails scale targets with the image."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from dashboard.draw import Drawings, colour, decode_rle, draw_targets, rgb
from storage.blobs import BlobStore


def _rle(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE (column-major, zeros first), written out by hand."""
    flat = mask.T.reshape(-1)
    counts, value, run = [], 0, 0
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": counts}


def test_mask_decodes_like_pycocotools():
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[2:6, 3:8] = 1
    mask[8, 0:2] = 1
    rle = _rle(mask)
    ours = decode_rle(rle)
    theirs = coco_mask.decode(coco_mask.frPyObjects(rle, 10, 12))
    assert (ours == mask.astype(bool)).all() and (theirs == mask).all()


def test_polygon_keypoints_and_mask_are_drawn_where_they_are():
    base = Image.new("RGB", (80, 60), (0, 0, 0))
    mask = np.zeros((60, 80), dtype=np.uint8)
    mask[40:50, 5:15] = 1
    targets = [
        {"type": "polygon", "points": [[10, 10], [40, 10], [40, 30]], "label": "roof"},
        {"type": "keypoints", "points": [[60, 40]], "labels": ["nose"], "label": "face"},
        {"type": "mask", "rle": _rle(mask), "label": "puddle"},
    ]
    out = np.asarray(draw_targets(base, targets)).astype(int)
    assert tuple(out[10, 25]) == rgb(colour("roof"))  # on the polygon's top edge
    assert tuple(out[40, 60]) == rgb(colour("face"))  # the keypoint's centre
    tinted = out[45, 10]
    assert tinted.sum() > 0 and tuple(out[45, 20]) == (0, 0, 0)  # inside vs outside the mask
    assert tuple(out[20, 60]) == (0, 0, 0)


def test_thumbnail_scales_targets_with_the_image(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    buf = io.BytesIO()
    Image.new("RGB", (1024, 512), (0, 0, 0)).save(buf, format="PNG")
    key = blobs.put(buf.getvalue())
    box = {"type": "bbox", "x_min": 512, "y_min": 128, "x_max": 768, "y_max": 384, "label": "cat"}
    path = Drawings(blobs, tmp_path / "cache").path(key, [box], 256)
    thumb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert thumb.shape == (128, 256, 3)
    want = np.array(rgb(colour("cat")))
    assert np.abs(thumb[32, 160] - want).max() <= 40  # top edge at y 128/4, x between 128 and 192
    assert np.abs(thumb[64, 128] - want).max() <= 40  # left edge at x 512/4
    assert thumb[64, 160].max() <= 40  # inside: the black image


def _contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours (written out here from the definition, not taken from the app)."""
    def lum(hex_colour: str) -> float:
        full = {"#000": "#000000", "#fff": "#ffffff"}.get(hex_colour, hex_colour)
        chans = [int(full[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_label_tags_are_readable_on_every_palette_colour():
    """A tag's text (black or white) has at least WCAG AA's 4.5:1 contrast on its label's colour, and is
    the better of the two (white on the palette's light green read at 1.2:1)."""
    from dashboard.draw import PALETTE, ink

    for bg in PALETTE:
        text = ink(bg)
        other = "#fff" if text == "#000" else "#000"
        assert _contrast(bg, text) >= 4.5, (bg, text, _contrast(bg, text))
        assert _contrast(bg, text) >= _contrast(bg, other), (bg, text)
