"""Label Studio results <-> internal targets, both ways, on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from annotation.convert import (check_result, coco_rle_to_mask, mask_to_coco_rle, results_to_targets,
                                spec_from_config, targets_to_results)
from annotation.templates import get_template


def spec(template: str, labels=("cat", "dog")):
    return spec_from_config(get_template(template).label_config(list(labels)))


def close(a, b, tol=1e-9):
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=tol)


def test_percent_to_pixels_for_a_box():
    result = {"id": "r1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
              "original_width": 320, "original_height": 240,
              "value": {"x": 25, "y": 50, "width": 12.5, "height": 10, "rotation": 0, "rectanglelabels": ["dog"]}}
    targets, problems = results_to_targets([result], spec("object-detection"))
    assert problems == []
    assert targets == [{"type": "bbox", "x_min": 80.0, "y_min": 120.0, "x_max": 120.0, "y_max": 144.0,
                        "label": "dog", "instance": "r1"}]


def test_box_round_trip_pixels_percent_pixels():
    s = spec("object-detection")
    box = {"type": "bbox", "x_min": 13.3, "y_min": 7.1, "x_max": 200.9, "y_max": 300.2, "label": "cat", "instance": "b"}
    [result] = targets_to_results([box], s, 333, 401)
    assert close([result["value"]["x"], result["value"]["width"]], [13.3 / 333 * 100, (200.9 - 13.3) / 333 * 100])
    [back], _ = results_to_targets([result], s)
    assert close([back[k] for k in ("x_min", "y_min", "x_max", "y_max")], [13.3, 7.1, 200.9, 300.2])


def test_rotated_rectangle_gives_enclosing_box_and_corner_polygon():
    # 20 x 10 px at (10, 10), turned 90 degrees clockwise about its top-left corner, in a 100 x 100 image
    result = {"id": "rot", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
              "original_width": 100, "original_height": 100,
              "value": {"x": 10, "y": 10, "width": 20, "height": 10, "rotation": 90, "rectanglelabels": ["cat"]}}
    s = spec("object-detection")
    targets, _ = results_to_targets([result], s)
    bbox, poly = targets
    assert bbox["type"] == "bbox" and poly["type"] == "polygon" and bbox["instance"] == poly["instance"] == "rot"
    assert close([bbox["x_min"], bbox["y_min"], bbox["x_max"], bbox["y_max"]], [0, 10, 10, 30])
    assert close(poly["points"], [[10, 10], [10, 30], [0, 30], [0, 10]])
    [again] = targets_to_results(targets, s, 100, 100)  # the corner polygon becomes the rotation again
    assert close([again["value"][k] for k in ("x", "y", "width", "height", "rotation")], [10, 10, 20, 10, 90])


def test_rotated_rectangle_in_a_wide_image_at_30_degrees():
    # 200 x 100 image; box at x=10% (20 px), y=10% (10 px), 25% x 20% (50 x 20 px), turned 30 deg clockwise.
    # cos 30 = sqrt(3)/2, sin 30 = 1/2. Corners: (20, 10); (20 + 25*sqrt3, 10 + 25) = (63.30.., 35);
    # that + (-20*1/2, 20*sqrt3/2) = (53.30.., 52.32..); (20 - 10, 10 + 10*sqrt3) = (10, 27.32..)
    r3 = 3 ** 0.5
    result = {"id": "wide", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
              "original_width": 200, "original_height": 100,
              "value": {"x": 10, "y": 10, "width": 25, "height": 20, "rotation": 30, "rectanglelabels": ["dog"]}}
    s = spec("object-detection")
    (bbox, poly), problems = results_to_targets([result], s)
    assert problems == []
    corners = [[20, 10], [20 + 25 * r3, 35], [10 + 25 * r3, 35 + 10 * r3], [10, 10 + 10 * r3]]
    assert close(poly["points"], corners)
    assert close([bbox["x_min"], bbox["y_min"], bbox["x_max"], bbox["y_max"]], [10, 10, 20 + 25 * r3, 35 + 10 * r3])
    [again] = targets_to_results([bbox, poly], s, 200, 100)
    assert close([again["value"][k] for k in ("x", "y", "width", "height", "rotation")], [10, 10, 25, 20, 30])


BOX_AND_POLYGON = ('<View><Image name="image" value="$image"/>'
                   '<RectangleLabels name="box" toName="image"><Label value="cat"/></RectangleLabels>'
                   '<PolygonLabels name="poly" toName="image"><Label value="cat"/></PolygonLabels></View>')


def test_rotated_box_and_its_polygon_get_distinct_region_ids():
    s = spec_from_config(BOX_AND_POLYGON)
    result = {"id": "rot", "type": "rectanglelabels", "from_name": "box", "to_name": "image",
              "original_width": 100, "original_height": 100,
              "value": {"x": 10, "y": 10, "width": 20, "height": 10, "rotation": 90, "rectanglelabels": ["cat"]}}
    targets, _ = results_to_targets([result], s)
    pushed = targets_to_results(targets, s, 100, 100)
    assert [r["type"] for r in pushed] == ["rectanglelabels", "polygonlabels"]
    assert len({r["id"] for r in pushed}) == 2  # Label Studio treats results sharing an id as one region
    back, problems = results_to_targets(pushed, s)
    assert problems == [] and [t["type"] for t in back] == ["bbox", "polygon"]
    assert close(back[1]["points"], targets[1]["points"])


def test_two_keypoint_instances_are_refused_on_push_and_reported_on_pull():
    from annotation.errors import ConversionError

    s = spec("keypoints", ["nose", "tail"])
    one = {"type": "keypoints", "points": [[10, 10], [20, 20]], "labels": ["nose", "tail"], "label": None,
           "instance": "a"}
    two = {**one, "points": [[50, 50], [60, 60]], "instance": "b"}
    with pytest.raises(ConversionError, match="at most one keypoints target without a parent region per image, found 2"):
        targets_to_results([one, two], s, 100, 100)
    # two instances drawn in Label Studio without parents would merge into [nose, tail, nose, tail]
    pushed = targets_to_results([one], s, 100, 100) + [{**r, "id": f"other{i}", "value": {**r["value"], "x": 50 + i}}
                                                        for i, r in enumerate(targets_to_results([two], s, 100, 100))]
    targets, problems = results_to_targets(pushed, s)
    assert targets == [] and len(problems) == 1 and "['nose', 'tail'] appear more than once" in problems[0]
    # with a parentID per instance they stay apart
    parented = [{**r, "parentID": "p1" if n < 2 else "p2"} for n, r in enumerate(pushed)]
    targets, problems = results_to_targets(parented, s)
    assert problems == [] and [(t["instance"], t["labels"]) for t in targets] == [
        ("p1", ["nose", "tail"]), ("p2", ["nose", "tail"])]


def test_two_people_keep_their_points_through_push_and_pull():
    """Each keypoints instance is pushed with its box's region id as parentID, and comes back as that box's."""
    s = spec("pose", ["person", "nose", "tail"])
    people = []
    for n, x in enumerate((10, 60)):
        people += [{"type": "bbox", "x_min": x, "y_min": 10, "x_max": x + 30, "y_max": 80, "label": "person",
                    "instance": f"p{n}"},
                   {"type": "keypoints", "points": [[x + 5, 20], [x + 25, 70]], "labels": ["nose", "tail"],
                    "label": None, "instance": f"p{n}"}]
    results = targets_to_results(people[::-1], s, 100, 100)  # points listed before their boxes: still linked
    boxes = {r["id"]: r["value"]["x"] for r in results if r["type"] == "rectanglelabels"}
    points = [r for r in results if r["type"] == "keypointlabels"]
    assert sorted(boxes) == ["p0", "p1"] and len(points) == 4
    for r in points:  # each point's parent is the box it lies in (by hand: x in percent of a 100 px image)
        assert boxes[r["parentID"]] <= r["value"]["x"] <= boxes[r["parentID"]] + 30
    back, problems = results_to_targets(results, s)
    assert problems == []
    kps = sorted((t["instance"], t["points"][0][0]) for t in back if t["type"] == "keypoints")
    assert kps == [("p0", pytest.approx(15)), ("p1", pytest.approx(65))]
    # a second push of what was pulled is the same results again (the link survives any number of trips)
    by_id = lambda rs: sorted(rs, key=lambda r: r["id"])  # noqa: E731
    assert by_id(targets_to_results(back, s, 100, 100)) == by_id(targets_to_results(people, s, 100, 100))


def test_polygon_and_keypoints_both_ways():
    poly = {"type": "polygon", "points": [[10, 10], [50, 10], [30, 40]], "label": "cat", "instance": "p"}
    [result] = targets_to_results([poly], spec("polygon-segmentation"), 200, 100)
    assert close(result["value"]["points"], [[5, 10], [25, 10], [15, 40]])
    [back], _ = results_to_targets([result], spec("polygon-segmentation"))
    assert close(back["points"], poly["points"])

    s = spec("keypoints", ["nose", "tail"])
    kp = {"type": "keypoints", "points": [[25, 50], [75, 10]], "labels": ["nose", "tail"], "label": None,
          "instance": None}
    results = targets_to_results([kp], s, 100, 200)
    assert [r["value"]["keypointlabels"] for r in results] == [["nose"], ["tail"]]
    assert close([(r["value"]["x"], r["value"]["y"]) for r in results], [(25, 25), (75, 5)])
    [back], _ = results_to_targets(results, s)
    assert close(back["points"], kp["points"]) and back["labels"] == ["nose", "tail"]


def test_coco_rle_by_hand_and_brush_round_trip():
    mask = np.array([[0, 1, 1], [0, 0, 1]], dtype=np.uint8)
    assert mask_to_coco_rle(mask) == {"size": [2, 3], "counts": [2, 1, 1, 2]}  # column-major, zeros first
    assert mask_to_coco_rle(np.ones((1, 2))) == {"size": [1, 2], "counts": [0, 2]}
    big = np.zeros((30, 40), dtype=np.uint8)
    big[5:20, 10:35] = 1
    rle = mask_to_coco_rle(big)
    assert (coco_rle_to_mask(rle) == big).all()
    s = spec("mask-segmentation")
    [result] = targets_to_results([{"type": "mask", "rle": rle, "label": "dog", "instance": "m"}], s, 40, 30)
    assert result["value"]["format"] == "rle"
    [back], problems = results_to_targets([result], s)
    assert problems == [] and back["rle"] == rle and back["label"] == "dog"


def test_choices_and_spans():
    [c] = targets_to_results([{"type": "choice", "label": "dog"}], spec("image-classification"))
    assert c["value"] == {"choices": ["dog"]}
    targets, _ = results_to_targets([{**c, "value": {"choices": ["cat", "dog"]}}], spec("image-multilabel"))
    assert [t["label"] for t in targets] == ["cat", "dog"]
    span = {"type": "span", "start": 0, "end": 5, "label": "PER", "text": "Alice"}
    [r] = targets_to_results([span], spec("ner", ["PER"]))
    [back], _ = results_to_targets([r], spec("ner", ["PER"]))
    assert back == span


@pytest.mark.parametrize("change, expected", [
    ({"from_name": "other"}, "from_name 'other'"),
    ({"value": {"x": 1, "y": 1, "width": 1, "height": 1, "rectanglelabels": ["zebra"]}}, "unknown label"),
    ({"original_width": None}, "missing original_width"),
    ({"type": "polygonlabels"}, "does not match control"),
    ({"image_rotation": 90}, "image_rotation is 90"),
])
def test_results_that_contradict_the_config_are_reported(change, expected):
    result = {"id": "x", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
              "original_width": 10, "original_height": 10,
              "value": {"x": 1, "y": 1, "width": 1, "height": 1, "rectanglelabels": ["cat"]}, **change}
    s = spec("object-detection")
    assert any(expected in p for p in check_result(result, s))
    targets, problems = results_to_targets([result], s)
    assert targets == [] and problems


def test_prediction_for_a_missing_control_is_refused():
    from annotation.errors import ConversionError

    with pytest.raises(ConversionError, match="no polygonlabels control"):
        targets_to_results([{"type": "polygon", "points": [[0, 0], [1, 0], [1, 1]], "label": "cat"}],
                           spec("object-detection"), 10, 10)


def _region(rid, label, x=25):
    return {"id": rid, "type": "rectanglelabels", "from_name": "label", "to_name": "image",
            "original_width": 320, "original_height": 240,
            "value": {"x": x, "y": 50, "width": 12.5, "height": 10, "rotation": 0, "rectanglelabels": [label]}}


def test_an_unknown_label_leaves_out_its_region_only_and_a_label_map_renames_it():
    results = [_region("ok", "cat"), _region("bad", "Butterfly", x=50)]  # as Label Studio's sample exports hold
    targets, problems = results_to_targets(results, spec("object-detection", ["cat", "butterfly"]))
    assert [(t["instance"], t["label"], t["x_min"]) for t in targets] == [("ok", "cat", 80.0)]
    assert len(problems) == 1 and "region bad" in problems[0] and "'Butterfly'" in problems[0]
    mapped = spec_from_config(get_template("object-detection").label_config(["cat", "butterfly"]),
                              {"Butterfly": "butterfly"})
    targets, problems = results_to_targets(results, mapped)
    assert problems == [] and [(t["instance"], t["label"], t["x_min"]) for t in targets] == [
        ("ok", "cat", 80.0), ("bad", "butterfly", 160.0)]
    assert results[1]["value"]["rectanglelabels"] == ["Butterfly"]  # the raw result is kept as Label Studio sent it


def test_a_sample_with_an_unreadable_region_is_held_out_not_partly_labeled():
    from datetime import datetime, timezone

    from export.revisions import NEEDS_REVIEW, Revision, freeze

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cat = {"type": "bbox", "x_min": 80.0, "y_min": 120.0, "x_max": 120.0, "y_max": 144.0, "label": "cat"}
    partly = Revision(1, 11, 1, "a", t0, False, False, False, [cat], valid=False)
    for rule in ("latest", "consensus", "ground-truth"):
        frozen = freeze([partly], rule)
        assert frozen.targets is None and frozen.skipped == NEEDS_REVIEW and "could not read" in frozen.review[0]
    truth = Revision(2, 12, 1, "r", t0, False, True, False, [cat, {**cat, "x_min": 160.0, "x_max": 200.0}])
    assert freeze([partly, truth], "consensus").targets == truth.targets
