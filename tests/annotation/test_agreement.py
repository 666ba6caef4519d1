"""Agreement math on hand-computed cases, consensus, and the table over tasks."""
from __future__ import annotations

import pytest

from storage.agreement import (agreement, box_iou, cohen_kappa, consensus, f1, fleiss_kappa, match,
                                  polygon_iou)


def box(x0, y0, x1, y1, label="cat"):
    return {"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "label": label}


def choice(label):
    return {"type": "choice", "label": label}


def test_cohen_kappa_by_hand():
    # observed 4/5; P(yes) 3/5 and 2/5 -> expected .6*.4 + .4*.6 = .48; kappa = .32 / .52
    pairs = [("y", "y"), ("y", "n"), ("n", "n"), ("n", "n"), ("y", "y")]
    assert cohen_kappa(pairs) == pytest.approx(0.32 / 0.52)
    assert cohen_kappa([("a", "a"), ("b", "b")]) == 1.0
    assert cohen_kappa([]) is None


def test_fleiss_kappa_by_hand():
    # P_i = 1, 1/3, 1 -> P-bar 7/9; shares a 5/9, b 4/9 -> P_e 41/81; kappa = (63-41)/(81-41) = 0.55
    assert fleiss_kappa([["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"]]) == pytest.approx(0.55)
    assert fleiss_kappa([["a"]]) is None  # one rater: no agreement to measure


def test_iou_match_and_f1():
    assert box_iou(box(0, 0, 10, 10), box(5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou(box(0, 0, 1, 1), box(2, 2, 3, 3)) == 0
    a = [box(0, 0, 10, 10), box(20, 20, 30, 30)]
    b = [box(1, 1, 10, 10), box(20, 20, 30, 30, "dog")]  # second has another label: no match
    assert [(i, j) for i, j, _ in match(a, b)] == [(0, 0)]
    assert f1(a, b) == pytest.approx(2 * 1 / 4)
    square = lambda x: {"type": "polygon", "points": [[x, 0], [x + 10, 0], [x + 10, 10], [x, 10]], "label": "cat"}  # noqa: E731
    assert polygon_iou(square(0), square(5)) == pytest.approx(1 / 3, abs=0.01)


def test_consensus_majority_and_box_clusters():
    by = {"ann": [choice("a"), box(0, 0, 10, 10), box(50, 50, 60, 60)],
          "bob": [choice("a"), box(1, 1, 11, 11)],
          "cy": [choice("b"), box(0, 0, 12, 12)]}
    result = consensus(by)
    choices = [t["label"] for t in result.targets if t["type"] == "choice"]
    boxes = [t for t in result.targets if t["type"] == "bbox"]
    assert choices == ["a"]
    assert len(boxes) == 1 and boxes[0]["support"] == 3
    assert [boxes[0][k] for k in ("x_min", "y_min", "x_max", "y_max")] == pytest.approx([1 / 3, 1 / 3, 11, 11])
    assert any("'b'" in d for d in result.disagreements) and any("1 of 3" in d for d in result.disagreements)


def test_agreement_table_over_tasks():
    tasks = {
        "t1": {"u1": [choice("cat")], "u2": [choice("cat")]},
        "t2": {"u1": [choice("dog")], "u2": [choice("cat")]},
        "t3": {"u1": [choice("dog")], "u2": [choice("dog")]},
        "t4": {"u1": [choice("dog")]},  # one annotator: not counted
    }
    table = agreement(tasks)
    assert table.tasks == 3 and table.kappa_kind == "cohen"
    # pairs (cat,cat) (dog,cat) (dog,dog): observed 2/3, expected (1*2 + 2*1)/9 = 4/9 -> (2/3-4/9)/(5/9) = 0.4
    assert table.kappa == pytest.approx(0.4)
    assert table.per_label["cat"] == pytest.approx(0.4) and list(table.review) == ["t2"]
    three = agreement({"t": {"a": [box(0, 0, 10, 10)], "b": [box(0, 0, 10, 10)], "c": []}})
    assert three.f1["bbox"] == pytest.approx((1 + 0 + 0) / 3)
