"""Simulated annotators for the demo: ground truth with a controlled, seeded rate of disagreement.

Everything here is clearly a simulation; real labels come from people in Label Studio.
"""
from __future__ import annotations

import hashlib
import random
from typing import Any


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def simulated_targets(
    truth: list[dict[str, Any]], labels: list[str], annotator: str, image_key: str, disagreement: float,
    width: int, height: int,
) -> tuple[list[dict[str, Any]], int]:
    """A copy of `truth` where each box, with probability `disagreement`, is relabelled, shifted or dropped.

    Returns (targets, number of boxes changed). Deterministic for (annotator, image_key).
    """
    rng = _rng(annotator, image_key)
    out: list[dict[str, Any]] = []
    changed = 0
    for box in truth:
        box = dict(box)
        if rng.random() < disagreement:
            changed += 1
            action = rng.choice(("relabel", "shift", "drop"))
            if action == "drop":
                continue
            if action == "relabel":
                box["label"] = rng.choice([lab for lab in labels if lab != box["label"]])
            else:
                w, h = box["x_max"] - box["x_min"], box["y_max"] - box["y_min"]
                dx, dy = rng.uniform(-0.4, 0.4) * w, rng.uniform(-0.4, 0.4) * h
                box["x_min"] = min(max(0.0, box["x_min"] + dx), width - 1)
                box["x_max"] = min(max(box["x_min"] + 1, box["x_max"] + dx), width)
                box["y_min"] = min(max(0.0, box["y_min"] + dy), height - 1)
                box["y_max"] = min(max(box["y_min"] + 1, box["y_max"] + dy), height)
        out.append(box)
    return out, changed
