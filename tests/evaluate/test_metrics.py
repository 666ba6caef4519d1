"""Metrics on hand-made cases whose answers are worked out by hand; classification end to end."""
from __future__ import annotations

import json

import pytest

from evaluate.classification import evaluate_classification
from evaluate.detection import evaluate_detection
from evaluate.issues import class_issues
from evaluate.predictions import import_predictions
from evaluate.report import evaluate_version
from export import create_version
from tests.export.factory import Factory, box, choice


def test_detection_hand_cases():
    truth = {"a": [box("cat", 0, 0, 10, 10)], "b": [box("dog", 0, 0, 10, 10)]}
    sizes = {"a": (100, 100), "b": (100, 100)}
    same = {k: [{**t, "score": 0.9} for t in v] for k, v in truth.items()}
    assert evaluate_detection(truth, same, sizes).summary()["mAP"] == pytest.approx(1.0)
    # IoU of a box shifted by 5 px of 10 is 50/150 = 1/3: a miss at every COCO threshold
    shifted = {"a": [box("cat", 5, 0, 15, 10, score=0.9)], "b": same["b"]}
    s = evaluate_detection(truth, shifted, sizes).summary()
    assert s["per_class"]["cat"]["AP"] == pytest.approx(0.0) and s["per_class"]["dog"]["AP"] == pytest.approx(1.0)
    assert s["mAP"] == pytest.approx(0.5)
    # shifted by 1 px: IoU 90/110 = 0.818 -> a hit at thresholds 0.50..0.80 (7 of 10)
    near = {"a": [box("cat", 1, 0, 11, 10, score=0.9)], "b": same["b"]}
    assert evaluate_detection(truth, near, sizes).summary()["per_class"]["cat"]["AP"] == pytest.approx(0.7)
    ev = evaluate_detection(truth, {"a": [box("dog", 0, 0, 10, 10, score=0.9)]}, sizes)
    assert ev.errors["a"]["confusions"][0]["truth"]["label"] == "cat"
    assert ev.errors["b"]["false_negatives"] == truth["b"]
    # a subset re-accumulates only its images
    assert ev.summary(["b"])["per_class"]["dog"]["AP"] == pytest.approx(0.0)


def test_classification_hand_case():
    truth = {k: [choice(c)] for k, c in {"1": "cat", "2": "cat", "3": "cat", "4": "dog", "5": "dog"}.items()}
    pred = {k: [choice(c) | {"score": 0.8}] for k, c in {"1": "cat", "2": "cat", "3": "dog", "4": "dog", "5": "cat"}.items()}
    r = evaluate_classification(truth, pred)
    assert r["accuracy"] == pytest.approx(3 / 5)
    # cat: tp 2, fp 1 (5), fn 1 (3) -> p = r = 2/3; dog: tp 1, fp 1, fn 1 -> 1/2
    assert r["per_class"]["cat"]["precision"] == pytest.approx(2 / 3) and r["per_class"]["cat"]["recall"] == pytest.approx(2 / 3)
    assert r["per_class"]["dog"]["f1"] == pytest.approx(0.5)
    assert r["confusion"] == {"labels": ["cat", "dog"], "matrix": [[2, 1], [1, 1]]}


def test_classification_eval_with_human_bound_and_label_issues(sqlite_store, tmp_path):
    f = Factory(sqlite_store)
    proj = f.project("cls", template="image-choice", labels=["cat", "dog"])
    wrong = set()
    lines = []
    for i in range(40):
        true = "cat" if i % 2 else "dog"
        given = true if i % 10 else ("dog" if true == "cat" else "cat")  # 4 mislabeled samples
        task = f.task(proj, f.image(seed=i))
        f.annotate(task, [choice(given)], "a@x", ground_truth=True)
        if i < 20:  # a second annotator on half the samples, disagreeing on 2 of them
            f.annotate(task, [choice(true if i not in (3, 7) else ("dog" if true == "cat" else "cat"))], "b@x", minutes=1)
        if given != true:
            wrong.add(task.sample_key)
        other = "dog" if true == "cat" else "cat"
        lines.append({"id": task.sample_key, "targets": [choice(true) | {"score": 0.9}, choice(other) | {"score": 0.1}]})
    f.commit()
    f.close()
    create_version(sqlite_store, "c1", "cls", split="0.5,0,0.5", revision_rule="ground-truth")
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    import_predictions(sqlite_store, "c1", path, "clf")
    r = evaluate_version(sqlite_store, "c1", "clf", split="all")
    assert r["kind"] == "classification"
    assert r["overall"]["accuracy"] == pytest.approx(36 / 40)
    assert {w["id"] for w in r["worst"]} == wrong
    hb = r["human_bound"]
    # on the 20 doubly-labeled samples the annotators differ on 3, 7 (b) and 0, 10 (a's planted errors)
    assert hb["samples"] == 20 and hb["accuracy"] == pytest.approx(16 / 20)
    predicted = {x["id"]: x["targets"] for x in lines}
    ranked = class_issues(_given(sqlite_store, "c1"), predicted, ["cat", "dog"])
    assert {x["id"] for x in ranked[:4]} == wrong
    assert all(x["issue"] == "wrong_class" for x in ranked[:4])


def _given(store, version):
    from evaluate.data import members

    return {m.key: m.targets for m in members(store, version)}
