"""Property tests (hypothesis): invariants that must hold for any scene, policy and seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augment import augment, catalog, decode_rle, encode_rle
from augment.masks import mask_bbox
from tests.augment.helpers import policy

CLASSES = ["left_hand", "right_hand", "person", "cat"]
POINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
AREA = {"bbox", "polygon", "mask"}
MOVING = {"x_min", "y_min", "x_max", "y_max", "points", "labels", "rle", "label"}  # the rest must survive as is
FAST = settings(max_examples=75, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

MIRRORS = {name: policy(f"- {name}: {{p: 1}}") for name in ("HorizontalFlip", "VerticalFlip", "Transpose")}
GEOMETRY = {
    "rotate": policy("- Rotate: {limit: 40, p: 1}", "bbox_params: {min_visibility: 0.3}"),
    "affine": policy("- Affine: {rotate: [-30, 30], shear: [-10, 10], scale: [0.8, 1.3], p: 1}"),
    "crop+flip": policy("- RandomCrop: {height: 20, width: 20}\n- HorizontalFlip: {p: 0.5}",
                        "bbox_params: {min_visibility: 0.5, min_area: 4}"),
    "rot90+vflip": policy("- RandomRotate90: {p: 1}\n- VerticalFlip: {p: 0.5}"),
    "perspective": policy("- Perspective: {scale: [0.05, 0.15], p: 1}"),
}


@st.composite
def scenes(draw) -> tuple[int, int, list[dict]]:
    w, h = draw(st.integers(24, 72)), draw(st.integers(24, 72))
    targets: list[dict] = []
    for i in range(draw(st.integers(0, 4))):
        x0 = draw(st.integers(0, w - 4)) + draw(st.sampled_from([0.0, 0.25, 0.5]))
        y0 = draw(st.integers(0, h - 4)) + draw(st.sampled_from([0.0, 0.25, 0.5]))
        x1 = draw(st.floats(x0 + 2, w)) if draw(st.booleans()) else float(draw(st.integers(int(x0) + 2, w)))
        y1 = draw(st.floats(y0 + 2, h)) if draw(st.booleans()) else float(draw(st.integers(int(y0) + 2, h)))
        label, inst = draw(st.sampled_from(CLASSES)), f"i{i}"
        parts = draw(st.sets(st.sampled_from(["bbox", "polygon", "keypoints", "mask"]), min_size=1))
        extra = {"label": label, "instance": inst, "score": i / 10}
        if "bbox" in parts:
            targets.append({"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, **extra})
        if "polygon" in parts:
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            shape = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]] if draw(st.booleans()) else \
                [[cx, y0], [x1, cy], [cx, y1], [x0, cy]]
            targets.append({"type": "polygon", "points": shape, **extra})
        if "keypoints" in parts:
            names = draw(st.lists(st.sampled_from(POINTS), min_size=1, max_size=3, unique=True))
            pts = [[min(draw(st.floats(x0, x1)), w - 1.0), min(draw(st.floats(y0, y1)), h - 1.0)] for _ in names]
            targets.append({"type": "keypoints", "points": pts, "labels": names, **extra})
        if "mask" in parts:
            mask = np.zeros((h, w), np.uint8)
            mask[int(y0):max(int(y0) + 1, int(y1)), int(x0):max(int(x0) + 1, int(x1))] = 1
            targets.append({"type": "mask", "rle": encode_rle(mask), **extra})
    if draw(st.booleans()):
        targets.append({"type": "choice", "label": draw(st.sampled_from(CLASSES))})
    return h, w, targets


def canvas(h: int, w: int) -> np.ndarray:
    return np.arange(h * w * 3, dtype=np.uint32).reshape(h, w, 3).astype(np.uint8)


def same(a: dict, b: dict) -> bool:
    """Targets equal up to 1e-3 px (float32 inside albumentations)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        if key == "rle":
            if not np.array_equal(decode_rle(a[key]), decode_rle(b[key])):
                return False
        elif key == "points":
            if np.asarray(a[key]).shape != np.asarray(b[key]).shape or \
                    not np.allclose(a[key], b[key], atol=1e-3, rtol=0):
                return False
        elif isinstance(a[key], float):
            if abs(a[key] - b[key]) > 1e-3:
                return False
        elif a[key] != b[key]:
            return False
    return True


@pytest.mark.parametrize("name", sorted(MIRRORS))
@FAST
@given(scene=scenes(), seed=st.integers(0, 2**32 - 1))
def test_mirroring_twice_is_the_identity_including_swapped_labels(name, scene, seed):
    h, w, targets = scene
    pol = MIRRORS[name]
    once_img, once, report = augment(canvas(h, w), targets, pol, seed)
    twice_img, twice, _ = augment(once_img, once, pol, seed)
    assert np.array_equal(twice_img, canvas(h, w))
    assert len(twice) == len(targets)
    assert all(same(a, b) for a, b in zip(twice, targets)), (twice, targets)
    if any(t["label"] in ("left_hand", "right_hand") for t in targets if t["type"] != "keypoints"):
        assert report["swapped"]  # the middle step really swapped sided labels


def check_invariants(h: int, w: int, targets: list[dict], out_img: np.ndarray, out: list[dict],
                     report: dict) -> None:
    H, W = out_img.shape[:2]
    inputs: dict[str, set[str]] = {}
    extras: dict[tuple[str, str], dict] = {}
    for t in targets:
        if t.get("instance") is not None:
            inputs.setdefault(t["instance"], set()).add(t["type"])
            extras[(t["instance"], t["type"])] = {k: v for k, v in t.items() if k not in MOVING}
    outputs: dict[str, list[dict]] = {}
    for t in out:
        assert t["label"] is None or t["label"] in CLASSES  # every surviving label is in the label set
        if t["type"] == "bbox":
            assert 0 <= t["x_min"] < t["x_max"] <= W and 0 <= t["y_min"] < t["y_max"] <= H
        elif t["type"] == "polygon":
            assert all(0 <= x <= W and 0 <= y <= H for x, y in t["points"]) and len(t["points"]) >= 3
        elif t["type"] == "keypoints":
            assert len(t["points"]) == len(t["labels"])
            assert t["points"] or inputs.get(t.get("instance"), set()) & AREA  # empty only beside a kept outline
            assert set(t["labels"]) <= set(POINTS) and len(set(t["labels"])) == len(t["labels"])
            assert all(0 <= x < W and 0 <= y < H for x, y in t["points"])
        elif t["type"] == "mask":
            assert t["rle"]["size"] == [H, W] and decode_rle(t["rle"]).any()
        if t.get("instance") is not None:
            outputs.setdefault(t["instance"], []).append(t)
            assert {k: v for k, v in t.items() if k not in MOVING} == extras[(t["instance"], t["type"])]
    dropped = {d["instance"] for d in report["dropped"] if d["instance"] is not None and "reason" in d}
    for inst, kinds in inputs.items():
        got = {t["type"] for t in outputs.get(inst, [])}
        if inst in dropped and kinds & AREA:
            assert not got, f"instance {inst} was dropped but left {got} behind"
        elif got:
            assert kinds & AREA <= got, f"instance {inst} kept {got} of {kinds}: an orphan"
    if any(name in catalog.WARP for name in report["applied"]):
        for inst, parts in outputs.items():
            boxes = [t for t in parts if t["type"] == "bbox"]
            polys = [t["points"] for t in parts if t["type"] == "polygon"]
            masks = [decode_rle(t["rle"]) for t in parts if t["type"] == "mask"]
            if boxes and (polys or masks):
                xs = [p[0] for poly in polys for p in poly] if polys else None
                ys = [p[1] for poly in polys for p in poly] if polys else None
                tight = (min(xs), min(ys), max(xs), max(ys)) if polys else mask_bbox(masks[0])
                box = boxes[0]
                assert (box["x_min"], box["y_min"], box["x_max"], box["y_max"]) == pytest.approx(tight, abs=1e-3)


@pytest.mark.parametrize("name", sorted(GEOMETRY))
@FAST
@given(scene=scenes(), seed=st.integers(0, 2**32 - 1))
def test_geometry_keeps_labels_true(name, scene, seed):
    h, w, targets = scene
    out_img, out, report = augment(canvas(h, w), targets, GEOMETRY[name], seed)
    check_invariants(h, w, targets, out_img, out, report)
