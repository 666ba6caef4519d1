"""The demo's simulated annotators: controlled disagreement, deterministic, boxes stay in the image."""
from __future__ import annotations

from harvest.demo.simulate import simulated_targets
from harvest.demo.site import DemoSite

LABELS = ["ball", "crate", "bottle"]


def _boxes(n: int) -> list[dict]:
    return [{"type": "bbox", "x_min": 10.0 * i, "y_min": 5.0, "x_max": 10.0 * i + 30, "y_max": 60.0,
             "label": LABELS[i % 3], "instance": str(i)} for i in range(n)]


def test_no_disagreement_copies_the_truth():
    truth = _boxes(5)
    out, changed = simulated_targets(truth, LABELS, "a@x", "/img/1.jpg", 0.0, 200, 100)
    assert out == truth and changed == 0


def test_full_disagreement_changes_every_box_and_stays_inside():
    truth = _boxes(40)
    out, changed = simulated_targets(truth, LABELS, "b@x", "/img/2.jpg", 1.0, 420, 100)
    assert changed == 40
    assert len(out) < 40  # some were dropped
    kept = {b["instance"]: b for b in out}
    assert all(kept[i] != t for t in truth if (i := t["instance"]) in kept)
    for b in out:
        assert 0 <= b["x_min"] < b["x_max"] <= 420 and 0 <= b["y_min"] < b["y_max"] <= 100
        assert b["label"] in LABELS


def test_rate_is_respected_on_the_demo_truth_and_runs_repeat():
    truth = DemoSite(0).ground_truth()
    total = changed = 0
    for path, boxes in sorted(truth.items()):
        out, n = simulated_targets(boxes, LABELS, "b@x", path, 0.15, 2000, 2000)
        again, _ = simulated_targets(boxes, LABELS, "b@x", path, 0.15, 2000, 2000)
        assert out == again
        total += len(boxes)
        changed += n
    assert 0.08 < changed / total < 0.22
