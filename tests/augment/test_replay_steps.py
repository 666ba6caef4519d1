"""A copy re-rendered from its recorded steps (transforms + exact sampled parameters) is the same copy,
for containers and for transforms whose parameters are too large to record; altered steps are not."""
from __future__ import annotations

import json

import numpy as np
import pytest

from augment import augment, parse_policy
from augment.errors import AugmentError

POLICY = """\
version: 1
name: mix
transforms:
  - OneOf:
      transforms: [Blur: {}, VerticalFlip: {}, GaussNoise: {}]
      p: 0.7
  - SomeOf:
      n: 2
      transforms: [RandomBrightnessContrast: {}, HueSaturationValue: {}, ElasticTransform: {}, Perspective: {}]
      p: 0.8
  - HorizontalFlip: {p: 0.5}
  - Affine: {rotate: [-10, 10], scale: [0.9, 1.1], p: 0.5}
"""
TARGETS = [{"type": "bbox", "x_min": 2, "y_min": 3, "x_max": 30, "y_max": 40, "label": "ball"},
           {"type": "polygon", "points": [[2, 3], [30, 3], [30, 40]], "label": "ball", "instance": "a"},
           {"type": "bbox", "x_min": 2, "y_min": 3, "x_max": 30, "y_max": 40, "label": "ball", "instance": "a"}]


def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)


def test_recorded_steps_rerender_every_copy_bit_for_bit():
    policy = parse_policy(POLICY)
    seen, regenerated = set(), 0
    for seed in range(120):
        out, targets, report = augment(image(), TARGETS, policy, seed)
        steps = json.loads(json.dumps(report["steps"]))  # through JSON, as the manifest holds them
        assert [s["name"] for s in steps] == report["applied"]
        regenerated += "__regenerate__" in json.dumps(steps)
        seen.update(report["applied"])
        again, again_targets, _ = augment(image(), TARGETS, parse_policy(POLICY), 0, steps=steps)
        assert np.array_equal(out, again) and targets == again_targets, (seed, report["applied"])
    assert {"GaussNoise", "ElasticTransform", "Affine", "Blur", "VerticalFlip"} <= seen
    assert regenerated > 0  # the noise / displacement fields were not stored, yet the copies match


def test_altered_steps_give_another_image_or_a_clear_error():
    policy = parse_policy(POLICY)
    seed = next(s for s in range(200) if "Affine" in augment(image(), TARGETS, policy, s)[2]["applied"])
    out, _, report = augment(image(), TARGETS, policy, seed)
    steps = json.loads(json.dumps(report["steps"]))
    affine = next(s for s in steps if s["name"] == "Affine")
    for pair in affine["params"]["__dict__"]:
        if pair[0] == "matrix":
            pair[1]["__ndarray__"][0][2] += 3.0  # shift by 3 px
    tampered, _, _ = augment(image(), TARGETS, parse_policy(POLICY), seed, steps=steps)
    assert not np.array_equal(out, tampered)
    affine["path"] = "0"  # a OneOf sits there, not an Affine
    with pytest.raises(AugmentError, match="do not belong together"):
        augment(image(), TARGETS, parse_policy(POLICY), seed, steps=steps)
