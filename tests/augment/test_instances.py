"""Instance-linked consistency, tight boxes after warps, overshoot tolerance, and target validation."""

from __future__ import annotations

import numpy as np
import pytest

from augment import TargetError, augment, decode_rle, encode_rle
from augment._albu import A
from augment.masks import mask_bbox
from tests.augment.helpers import by_type, image, instance, policy

W, H = 200, 100
LEFT_HALF = "- Crop: {x_min: 0, y_min: 0, x_max: 100, y_max: 100}"


def test_a_cropped_away_instance_goes_with_all_its_parts_and_is_reported():
    targets = instance("gone", 150, 20, 190, 60) + instance("kept", 10, 20, 50, 60)
    _, out, report = augment(image(H, W), targets, policy(LEFT_HALF), 0)
    assert {t["instance"] for t in out} == {"kept"}
    assert sorted(t["type"] for t in out) == ["bbox", "keypoints", "mask", "polygon"]
    (drop,) = report["dropped"]
    assert drop["instance"] == "gone" and drop["targets"] == [0, 1, 2, 3]
    assert drop["types"] == ["bbox", "polygon", "keypoints", "mask"] and "bbox" in drop["reason"]


def test_partly_visible_instance_follows_min_visibility_as_a_whole():
    targets = instance("edge", 80, 20, 120, 60)  # half of it inside the crop
    for vis, survives in ((0.4, True), (0.6, False)):
        _, out, report = augment(image(H, W), targets, policy(LEFT_HALF, f"bbox_params: {{min_visibility: {vis}}}"), 0)
        assert len(out) == (4 if survives else 0)
        assert len(report["dropped"]) == (0 if survives else 1)
        if survives:
            box = by_type(out, "bbox")[0]
            assert (box["x_min"], box["x_max"]) == (80, 100)
            assert all(x <= 100 for x, _ in by_type(out, "polygon")[0]["points"])
            assert mask_bbox(decode_rle(by_type(out, "mask")[0]["rle"]))[2] == 100
            # nose (x = 100: albumentations' points need x < width) and right_eye (x = 119) left with their labels
            kp = by_type(out, "keypoints")[0]
            assert kp == {**targets[2], "points": [[81, 21]], "labels": ["left_eye"]}
            assert report["dropped_points"] == [{"target": 2, "labels": ["nose", "right_eye"],
                                                 "reason": "left the image"}]


def test_the_polygon_can_drop_an_instance_whose_box_would_survive():
    # half of the box is inside the crop, but only 4% of the triangle it outlines
    poly = [[90, 20], [140, 20], [140, 90]]
    targets = [{"type": "bbox", "x_min": 60, "y_min": 20, "x_max": 140, "y_max": 90, "label": "cat", "instance": "d"},
               {"type": "polygon", "points": poly, "label": "cat", "instance": "d"}]
    _, out, report = augment(image(H, W), targets, policy(LEFT_HALF, "bbox_params: {min_visibility: 0.4}"), 0)
    assert out == []
    assert report["dropped"][0]["reason"] == "polygon visible fraction 0.040 < min_visibility=0.4"


def test_a_mask_only_instance_is_filtered_by_its_extent():
    mask = np.zeros((H, W), np.uint8)
    mask[10:30, 150:190] = 1
    target = {"type": "mask", "rle": encode_rle(mask), "label": "cat", "instance": "m"}
    _, out, report = augment(image(H, W), [target], policy(LEFT_HALF), 0)
    assert out == [] and report["dropped"][0]["types"] == ["mask"]


def test_keypoints_only_object_is_dropped_when_no_point_is_left():
    kp = {"type": "keypoints", "points": [[150, 10], [160, 12]], "labels": ["nose", "left_eye"], "label": "person",
          "instance": None}
    _, out, report = augment(image(H, W), [kp], policy(LEFT_HALF), 0)
    assert out == [] and "min_visible_points=1" in report["dropped"][0]["reason"]


def test_boxes_are_tight_after_rotation_from_the_polygon_not_the_rotated_corners():
    diamond = [[60, 20], [80, 50], [60, 80], [40, 50]]
    targets = [{"type": "bbox", "x_min": 40, "y_min": 20, "x_max": 80, "y_max": 80, "label": "cat", "instance": "r"},
               {"type": "polygon", "points": diamond, "label": "cat", "instance": "r"}]
    line = "- Rotate: {limit: [30, 30], p: 1}"
    _, out, report = augment(image(H, W), targets, policy(line), 0)
    box, poly = by_type(out, "bbox")[0], np.asarray(by_type(out, "polygon")[0]["points"])
    assert [box["x_min"], box["y_min"], box["x_max"], box["y_max"]] == pytest.approx(
        [*poly.min(axis=0), *poly.max(axis=0)], abs=1e-4)
    assert report["tightened"] == [0]
    loose = A.Compose([A.Rotate(limit=(30, 30), p=1)], bbox_params=A.BboxParams(format="pascal_voc",
                                                                              label_fields=["l"]))
    ref = loose(image=image(H, W), bboxes=[(40, 20, 80, 80)], l=[0])["bboxes"][0]
    ours_area = (box["x_max"] - box["x_min"]) * (box["y_max"] - box["y_min"])
    assert ours_area < 0.85 * (ref[2] - ref[0]) * (ref[3] - ref[1])  # the corner box is loose


def test_boxes_are_tight_after_rotation_from_the_mask_when_there_is_no_polygon():
    mask = np.zeros((H, W), np.uint8)
    mask[30:70, 80:120] = 1
    targets = [{"type": "bbox", "x_min": 70, "y_min": 20, "x_max": 130, "y_max": 80, "label": "cat", "instance": "k"},
               {"type": "mask", "rle": encode_rle(mask), "label": "cat", "instance": "k"}]
    _, out, _ = augment(image(H, W), targets, policy("- Rotate: {limit: [20, 20], p: 1}"), 0)
    box = by_type(out, "bbox")[0]
    assert (box["x_min"], box["y_min"], box["x_max"], box["y_max"]) == mask_bbox(decode_rle(by_type(out, "mask")[0]["rle"]))


def test_float_overshoot_is_clipped_and_reported_not_a_crash():
    eps = 1e-6
    targets = [
        {"type": "bbox", "x_min": -eps, "y_min": 10, "x_max": W + eps, "y_max": H + eps, "label": "cat",
         "instance": None, "id": 7},
        {"type": "polygon", "points": [[0, 0], [W + eps, 0], [W + eps, 50]], "label": "cat", "instance": None},
        {"type": "keypoints", "points": [[W + eps, 10], [W + 5, 10], [-0.5, 3]], "labels": ["nose", "left_eye",
                                                                                          "right_eye"],
         "label": None, "instance": None},
    ]
    _, out, report = augment(image(H, W), targets, policy("- RandomBrightnessContrast: {p: 1}"), 0)
    box, poly, kp = out
    assert (box["x_min"], box["x_max"], box["y_max"], box["id"]) == (0, W, H, 7)
    assert max(x for x, _ in poly["points"]) <= W
    assert kp["labels"] == ["nose", "right_eye"] and kp["points"][0][0] < W and kp["points"][1] == [0, 3]
    fields = {(c["type"], c["field"]) for c in report["clipped"]}
    assert {("bbox", "x_min"), ("bbox", "x_max"), ("bbox", "y_max"), ("polygon", "points"),
            ("keypoints", "nose"), ("keypoints", "right_eye")} <= fields
    assert report["dropped_points"] == [{"target": 2, "labels": ["left_eye"],
                                         "reason": "outside the image before augmentation"}]


def test_a_box_entirely_outside_the_image_is_dropped_with_its_instance():
    targets = instance("x", 10, 10, 20, 20) + [
        {"type": "bbox", "x_min": W + 5, "y_min": 0, "x_max": W + 9, "y_max": 5, "label": "cat", "instance": "x"}]
    _, out, report = augment(image(H, W), targets, policy("- HorizontalFlip: {p: 0}"), 0)
    assert out == [] and "no area inside the image" in report["dropped"][0]["reason"]


@pytest.mark.parametrize(("target", "message"), [
    ({"type": "bbox", "x_min": float("nan"), "y_min": 0, "x_max": 1, "y_max": 1, "label": "cat"}, "finite number"),
    ({"type": "bbox", "x_min": 0, "y_min": 0, "x_max": 1, "y_max": 1, "label": "dog"}, "not in the policy's label"),
    ({"type": "polygon", "points": [[0, 0], [1, 1]], "label": "cat"}, "at least 3"),
    ({"type": "keypoints", "points": [[1, 1]], "labels": ["nose", "left_eye"]}, "one non-empty name per point"),
    ({"type": "keypoints", "points": [[1, 1]], "labels": ["tail"]}, "labels.keypoints"),
    ({"type": "mask", "rle": {"size": [10, 10], "counts": [100]}, "label": "cat"}, "does not match the image"),
    ({"type": "mask", "rle": {"size": [H, W], "counts": [5]}, "label": "cat"}, "summing to h\\*w"),
    ({"type": "circle", "label": "cat"}, "'type' is one of"),
])
def test_malformed_targets_raise_target_error_with_the_fix(target, message):
    with pytest.raises(TargetError, match=message):
        augment(image(H, W), [target], policy("- HorizontalFlip: {p: 1}"), 0)


def test_input_targets_are_not_mutated():
    targets = instance("a", 10, 10, 40, 40)
    before = repr(targets)
    augment(image(H, W), targets, policy("- Rotate: {limit: 30, p: 1}"), 3)
    assert repr(targets) == before
