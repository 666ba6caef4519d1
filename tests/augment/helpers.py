"""Builders shared by the augment tests: policies from a few lines, images, and targets."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from augment import encode_rle, parse_policy

HANDS = """
labels:
  classes: [left_hand, right_hand, person, cat]
  keypoints: [nose, left_eye, right_eye, left_ear, right_ear]
  swap: {left_hand: right_hand}
  keypoint_swap: {left_eye: right_eye, left_ear: right_ear}
"""


def policy(transforms: str, extra: str = "", labels: str = HANDS):
    """A policy with the hands label set and the given YAML transform list (one '- X: {...}' per line)."""
    body = "\n".join("  " + line for line in transforms.strip().splitlines())
    return parse_policy(f"{labels}\ntransforms:\n{body}\n{extra}")


def image(h: int = 100, w: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def jpeg(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def instance(inst: str, x0: float, y0: float, x1: float, y1: float, h: int = 100, w: int = 200,
             label: str = "left_hand") -> list[dict]:
    """A box, its rectangle polygon, 3 keypoints and its mask, all sharing one instance id."""
    mask = np.zeros((h, w), np.uint8)
    mask[int(y0):int(y1), int(x0):int(x1)] = 1
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return [
        {"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "label": label, "instance": inst,
         "id": f"{inst}-box"},
        {"type": "polygon", "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "label": label, "instance": inst},
        {"type": "keypoints", "points": [[cx, cy], [x0 + 1, y0 + 1], [x1 - 1, y0 + 1]],
         "labels": ["nose", "left_eye", "right_eye"], "label": label, "instance": inst},
        {"type": "mask", "rle": encode_rle(mask), "label": label, "instance": inst},
    ]


def by_type(targets: list[dict], kind: str) -> list[dict]:
    return [t for t in targets if t["type"] == kind]
