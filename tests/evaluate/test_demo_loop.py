"""The must-show on the demo data: perfect predictions give AP 1.0, planted faults give the drops worked
out by hand, the slice report and the worst-sample list find them, and cleanlab ranks planted label
errors first. Ground truth is the demo site's own boxes (harvest/demo/site)."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from evaluate.predictions import import_predictions
from evaluate.report import evaluate_version
from evaluate.review import suspects
from tests.evaluate.demo import demo_version, plant

FAULTY_LICENCE = "CC BY-SA 4.0"


def write_jsonl(path, preds):
    path.write_text("".join(json.dumps({"id": k, "targets": v}) + "\n" for k, v in sorted(preds.items())))
    return path


def expected_ap(n: int, lost: int) -> float:
    """COCO AP of a class whose lost boxes are never found and whose false positives all score below
    every true positive: precision is 1 up to recall (n - lost) / n, and recall beyond it is never reached,
    so AP is the share of COCO's 101 recall thresholds at or below that recall."""
    reach = (n - lost) / n
    return float(np.sum(np.linspace(0, 1, 101) <= reach + 1e-9) / 101)


def test_perfect_predictions_give_ap_one_and_a_human_bound_below(store, tmp_path):
    demo = demo_version(store)
    preds = {k: [{**b, "score": 1.0} for b in v] for k, v in demo.truth.items()}
    r = import_predictions(store, "v1", write_jsonl(tmp_path / "p.jsonl", preds), "perfect")
    assert r.samples == len(demo.truth) == 117
    report = evaluate_version(store, "v1", "perfect", split="all")
    o = report["overall"]
    assert o["mAP"] == pytest.approx(1.0) and o["AP50"] == pytest.approx(1.0) and o["AR100"] == pytest.approx(1.0)
    assert all(v["AP"] == pytest.approx(1.0) for v in o["per_class"].values())
    assert set(o["per_class"]) == set(demo.labels)
    assert report["worst"] == [] and report["unpredicted"] == []
    hb = report["human_bound"]
    # every second image has a second (simulated) annotator who changes ~10% of the boxes
    assert hb["samples"] == 59
    assert 0.75 < hb["mAP"] < 1.0
    assert hb["model_on_same_samples"] == pytest.approx(1.0) and hb["gap"] < 0


def faulty_predictions(demo, rng):
    """Ground truth scored 0.9, except 10 swapped, 15 removed and 10 shifted boxes (score 0.6), all in
    the samples of one licence; returns the predictions and the lost boxes per class."""
    keys = sorted(k for k in demo.truth if demo.licence[k] == FAULTY_LICENCE)
    slots = [(k, i) for k in keys for i in range(len(demo.truth[k]))]
    rng.shuffle(slots)
    kinds = {**{s: "swap" for s in slots[:10]}, **{s: "drop" for s in slots[10:25]}, **{s: "shift" for s in slots[25:35]}}
    preds, lost = {}, {c: 0 for c in demo.labels}
    for k, boxes in demo.truth.items():
        out = []
        for i, b in enumerate(boxes):
            kind = kinds.get((k, i))
            if kind is None:
                out.append({**b, "score": 0.9})
                continue
            lost[b["label"]] += 1
            if kind != "drop":
                out.append({**plant([b], kind, demo.sizes[k][0], demo.labels)[0], "score": 0.6})
        preds[k] = out
    return preds, lost, kinds


def test_planted_prediction_faults_give_the_expected_drops_and_are_found(sqlite_store, tmp_path):
    demo = demo_version(sqlite_store)
    preds, lost, kinds = faulty_predictions(demo, random.Random(3))
    import_predictions(sqlite_store, "v1", write_jsonl(tmp_path / "f.jsonl", preds), "faulty")
    report = evaluate_version(sqlite_store, "v1", "faulty", split="all", worst_n=200)
    o = report["overall"]
    n = {c: sum(b["label"] == c for v in demo.truth.values() for b in v) for c in demo.labels}
    for c in demo.labels:
        assert o["per_class"][c]["AP"] == pytest.approx(expected_ap(n[c], lost[c]), abs=1e-9), c
    assert o["mAP"] == pytest.approx(np.mean([expected_ap(n[c], lost[c]) for c in demo.labels]), abs=1e-9)
    assert o["mAP"] < 1.0
    # the error lists: every swap is a confusion, every removal a miss, every shift a miss plus an extra box
    worst = report["worst"]
    assert sum(w["confusions"] for w in worst) == 10
    assert sum(w["false_negatives"] for w in worst) == 25
    assert sum(w["false_positives"] for w in worst) == 10
    assert {w["id"] for w in worst} == {k for k, _ in kinds}
    # the slice report puts the licence holding every fault first, below the whole
    first = report["slices"][0]
    assert (first["dimension"], first["group"]) == ("licence", FAULTY_LICENCE)
    assert first["delta"] < 0
    others = [s for s in report["slices"] if s["dimension"] == "licence" and s["group"] != FAULTY_LICENCE]
    assert all(s["value"] == pytest.approx(1.0) for s in others)


def confident_model(demo, rng):
    """A good detector: every true box, jittered by up to 2 px, scored 0.95-1.0, plus one low-score stray box."""
    preds = {}
    for k, boxes in demo.truth.items():
        w, h = demo.sizes[k]
        out = [{**b, **{c: b[c] + rng.uniform(-2, 2) for c in ("x_min", "y_min", "x_max", "y_max")},
                "score": rng.uniform(0.95, 1.0)} for b in boxes]
        x, y = rng.uniform(0, w / 2), rng.uniform(0, h / 2)
        out.append({"type": "bbox", "x_min": x, "y_min": y, "x_max": x + w / 5, "y_max": y + h / 5,
                    "label": rng.choice(demo.labels), "score": rng.uniform(0.05, 0.3)})
        preds[k] = out
    return preds


def test_label_issues_rank_planted_label_errors_first(sqlite_store, tmp_path):
    demo = demo_version(sqlite_store, faults={"swap": 10, "drop": 15, "shift": 10})
    assert len(demo.planted) == 35
    preds = confident_model(demo, random.Random(5))
    import_predictions(sqlite_store, "v1", write_jsonl(tmp_path / "m.jsonl", preds), "good")
    top = suspects(sqlite_store, "v1", "good", top=30)
    found = [s for s in top if s.sample_key in demo.planted]
    recall = len(found) / len(demo.planted)
    assert recall >= 0.8, (recall, [(s.sample_key, s.issue) for s in top])
    expected_issue = {"swap": "swap", "drop": "overlooked", "shift": "badloc"}
    right_type = sum(s.issue == expected_issue[demo.planted[s.sample_key]] for s in found)
    assert right_type >= 0.9 * len(found)
    # the suspect region of a swap is the labeled box, and the model's box next to it has the true class
    for s in found:
        if demo.planted[s.sample_key] == "swap" and s.issue == "swap":
            truth = demo.truth[s.sample_key][0]
            assert s.region["label"] != truth["label"] and s.prediction["label"] == truth["label"]
