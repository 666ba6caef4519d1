"""Mirroring swaps sided labels (per the policy's swap maps); turning does not; two mirrors cancel."""

from __future__ import annotations

import pytest

from augment import augment, encode_rle
from augment._albu import A
from augment.seeding import seed_pipeline
from tests.augment.helpers import by_type, image, instance, policy

W, H = 200, 100


def sample() -> list[dict]:
    return instance("a", 20, 20, 60, 60) + [
        {"type": "choice", "label": "left_hand"},
        {"type": "span", "start": 0, "end": 4, "label": "left_hand"},  # text: passed through untouched
    ]


def labels(targets: list[dict]) -> list[str]:
    return [t["label"] for t in targets if t["type"] != "span"]


@pytest.mark.parametrize("line", ["- HorizontalFlip: {p: 1}", "- VerticalFlip: {p: 1}", "- Transpose: {p: 1}"])
def test_a_mirror_swaps_every_target_kind(line):
    _, out, report = augment(image(H, W), sample(), policy(line), 0)
    assert report["mirrored"] is True
    assert labels(out) == ["right_hand"] * 5  # bbox, polygon, keypoints object, mask, choice
    assert by_type(out, "span") == [sample()[-1]]
    assert report["swapped"]["left_hand"] == "right_hand"


@pytest.mark.parametrize("lines", [
    "- HorizontalFlip: {p: 1}\n- VerticalFlip: {p: 1}",
    "- Transpose: {p: 1}\n- HorizontalFlip: {p: 1}",  # = a quarter turn
    "- RandomRotate90: {p: 1}",
])
def test_rotations_and_double_mirrors_keep_labels(lines):
    for seed in range(4):
        _, out, report = augment(image(H, W), sample(), policy(lines), seed)
        assert report["mirrored"] is False
        assert labels(out) == ["left_hand"] * 5
        assert report["swapped"] == {}


def test_keypoints_swap_labels_and_keep_semantic_order():
    pts = [[50.0, 50.0], [40.0, 30.0], [70.0, 30.0]]  # nose, left_eye, right_eye
    kp = {"type": "keypoints", "points": pts, "labels": ["nose", "left_eye", "right_eye"], "label": None,
          "instance": None}
    _, out, _ = augment(image(H, W), [kp], policy("- HorizontalFlip: {p: 1}"), 0)
    (got,) = by_type(out, "keypoints")
    # the label order is kept; the point now called left_eye is the mirrored right_eye, and vice versa
    assert got["labels"] == ["nose", "left_eye", "right_eye"]
    assert got["points"] == [[W - 1 - 50, 50], [W - 1 - 70, 30], [W - 1 - 40, 30]]
    # the left eye stays left of the right eye in the image, as it was before the flip
    assert got["points"][1][0] < got["points"][2][0]


def test_unpaired_labels_are_not_touched_by_a_mirror():
    box = {"type": "bbox", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9, "label": "person", "instance": None}
    _, out, report = augment(image(H, W), [box], policy("- HorizontalFlip: {p: 1}"), 0)
    assert out[0]["label"] == "person" and report["swapped"] == {}


def test_d4_swaps_exactly_when_its_group_element_mirrors():
    pol = policy("- D4: {p: 1}")
    outcomes = set()
    for seed in range(24):
        plain = A.Compose([A.D4(p=1)], save_applied_params=True)
        seed_pipeline(plain, seed)  # seeded as harvest seeds
        element = str(plain(image=image(H, W))["applied_transforms"][0][1]["group_element"])
        _, out, report = augment(image(H, W), sample(), pol, seed)
        mirrors = element in {"h", "v", "t", "hvt"}
        assert report["mirrored"] is mirrors
        assert labels(out)[0] == ("right_hand" if mirrors else "left_hand")
        outcomes.add(mirrors)
    assert outcomes == {True, False}


def test_mask_pixels_move_and_label_swaps():
    import numpy as np

    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 0:5] = 1
    target = {"type": "mask", "rle": encode_rle(mask), "label": "left_hand", "instance": "m"}
    _, out, _ = augment(image(H, W), [target], policy("- HorizontalFlip: {p: 1}"), 0)
    from augment import decode_rle

    got = decode_rle(out[0]["rle"])
    assert out[0]["label"] == "right_hand"
    assert np.array_equal(got, mask[:, ::-1])
