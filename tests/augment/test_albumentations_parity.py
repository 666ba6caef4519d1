"""Our boxes and keypoints equal albumentations' own output and hand-computed values (200x100 image)."""

from __future__ import annotations

import numpy as np
import pytest

from augment import augment
from augment._albu import A
from augment.seeding import seed_pipeline
from tests.augment.helpers import by_type, image, policy

W, H = 200, 100
BOX = (10.0, 20.0, 30.0, 40.0)
POINT = (15.0, 25.0)


def targets() -> list[dict]:
    return [
        {"type": "bbox", "x_min": BOX[0], "y_min": BOX[1], "x_max": BOX[2], "y_max": BOX[3], "label": "cat",
         "instance": None},
        {"type": "keypoints", "points": [list(POINT)], "labels": ["nose"], "label": None, "instance": None},
    ]


def plain(transform_line: str, seed: int) -> tuple[list, list, list]:
    """The same transform through a plain albumentations Compose: (boxes, keypoints, applied)."""
    compose = A.Compose(list(policy(transform_line).compose.transforms),
                        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
                        keypoint_params=A.KeypointParams(format="xy", label_fields=["names"]),
                        save_applied_params=True)
    seed_pipeline(compose, seed)  # harvest's per-transform seeding, so both draw the same parameters
    out = compose(image=image(H, W), bboxes=[BOX], labels=["cat"], keypoints=[POINT], names=["nose"])
    return ([list(map(float, b)) for b in out["bboxes"]], [list(map(float, k)) for k in out["keypoints"]],
            out["applied_transforms"])


def ours(transform_line: str, seed: int) -> tuple[list, list]:
    _, out, _ = augment(image(H, W), targets(), policy(transform_line), seed)
    boxes = [[t["x_min"], t["y_min"], t["x_max"], t["y_max"]] for t in by_type(out, "bbox")]
    points = [p for t in by_type(out, "keypoints") for p in t["points"]]
    return boxes, points


@pytest.mark.parametrize(("line", "box", "point"), [
    # boxes flip as x -> W - x; albumentations' keypoints are pixel centres: x -> W - 1 - x
    ("- HorizontalFlip: {p: 1}", [170, 20, 190, 40], [184, 25]),
    ("- VerticalFlip: {p: 1}", [10, 60, 30, 80], [15, 74]),
    ("- Transpose: {p: 1}", [20, 10, 40, 30], [25, 15]),
    ("- Crop: {x_min: 5, y_min: 10, x_max: 105, y_max: 90}", [5, 10, 25, 30], [10, 15]),
    ("- CenterCrop: {height: 60, width: 100}", [0, 0, 0, 0], None),  # box and point leave: nothing survives
    ("- CenterCrop: {height: 90, width: 190}", [5, 15, 25, 35], [10, 20]),
    ("- RandomCrop: {height: 100, width: 200}", [10, 20, 30, 40], [15, 25]),
])
def test_deterministic_transforms_match_hand_computed_and_albumentations(line, box, point):
    got_boxes, got_points = ours(line, seed=1)
    ref_boxes, ref_points, _ = plain(line, seed=1)
    if point is None:
        assert got_boxes == [] and got_points == [] and ref_boxes == [] and ref_points == []
        return
    assert got_boxes == [pytest.approx(box, abs=1e-4)]
    assert got_points == [pytest.approx(point, abs=1e-4)]
    assert got_boxes == [pytest.approx(b, abs=1e-4) for b in ref_boxes]
    assert got_points == [pytest.approx(p, abs=1e-4) for p in ref_points]


def rot90_expected(factor: int) -> tuple[list[float], list[float]]:
    """Counter-clockwise quarter turns, by hand: boxes on the continuous grid, points on pixel centres."""
    (x0, y0, x1, y1), (x, y) = BOX, POINT
    return {
        0: ([x0, y0, x1, y1], [x, y]),
        1: ([y0, W - x1, y1, W - x0], [y, W - 1 - x]),
        2: ([W - x1, H - y1, W - x0, H - y0], [W - 1 - x, H - 1 - y]),
        3: ([H - y1, x0, H - y0, x1], [H - 1 - y, x]),
    }[factor]


def test_random_rotate90_matches_hand_computed_for_every_factor():
    seen = set()
    for seed in range(40):
        ref_boxes, ref_points, applied = plain("- RandomRotate90: {p: 1}", seed)
        factor = int(applied[0][1]["factor"])
        box, point = rot90_expected(factor)
        got_boxes, got_points = ours("- RandomRotate90: {p: 1}", seed)
        assert got_boxes == [pytest.approx(box, abs=1e-4)] and ref_boxes == [pytest.approx(box, abs=1e-4)]
        assert got_points == [pytest.approx(point, abs=1e-4)] and ref_points == [pytest.approx(point, abs=1e-4)]
        seen.add(factor)
    assert seen == {0, 1, 2, 3}


def test_polygon_moves_like_its_box_not_like_a_pixel_centre():
    """A polygon is continuous geometry: after a flip its bounds equal the flipped box exactly."""
    rect = [[10.0, 20.0], [30.0, 20.0], [30.0, 40.0], [10.0, 40.0]]
    tgt = targets()[:1] + [{"type": "polygon", "points": rect, "label": "cat", "instance": None}]
    for line in ("- HorizontalFlip: {p: 1}", "- VerticalFlip: {p: 1}", "- Transpose: {p: 1}"):
        _, out, _ = augment(image(H, W), tgt, policy(line), 0)
        box = by_type(out, "bbox")[0]
        xs = [p[0] for p in by_type(out, "polygon")[0]["points"]]
        ys = [p[1] for p in by_type(out, "polygon")[0]["points"]]
        assert [min(xs), min(ys), max(xs), max(ys)] == pytest.approx(
            [box["x_min"], box["y_min"], box["x_max"], box["y_max"]], abs=1e-4)


def test_min_visibility_drops_the_same_boxes_as_albumentations():
    line = "- Crop: {x_min: 0, y_min: 0, x_max: 20, y_max: 100}"  # keeps half of BOX's width
    for vis, kept in ((0.4, True), (0.6, False)):
        pol = policy(line, extra=f"bbox_params: {{min_visibility: {vis}}}")
        _, out, report = augment(image(H, W), targets()[:1], pol, 0)
        compose = A.Compose([A.Crop(x_min=0, y_min=0, x_max=20, y_max=100)],
                            bbox_params=A.BboxParams(format="pascal_voc", label_fields=["l"], min_visibility=vis))
        ref = compose(image=image(H, W), bboxes=[BOX], l=["cat"])["bboxes"]
        assert (len(by_type(out, "bbox")) == 1) is kept is (len(ref) == 1)
        assert (report["dropped"] == []) is kept
        if kept:
            assert [by_type(out, "bbox")[0][k] for k in ("x_min", "x_max")] == pytest.approx([10, 20])
        else:
            assert "min_visibility=0.6" in report["dropped"][0]["reason"]


def test_image_pixels_are_albumentations_pixels():
    img = image(H, W)
    out, _, _ = augment(img, [], policy("- HorizontalFlip: {p: 1}"), 0)
    assert np.array_equal(out, img[:, ::-1])
