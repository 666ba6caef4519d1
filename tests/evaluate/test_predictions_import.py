"""Predictions in: COCO results and Ultralytics txt matched through a real export, harvest JSONL;
bad files refused with the line or record named and nothing stored; models never overwrite each other."""
from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import func, select

from evaluate.errors import NoExport, PredictionFileError
from evaluate.predictions import import_predictions
from evaluate.report import evaluate_version
from export import export_version
from storage.models import ModelPrediction
from tests.export.factory import box, detection_project


@pytest.fixture
def version(sqlite_store):
    from export import create_version

    detection_project(sqlite_store, n=30)
    create_version(sqlite_store, "v1", "proj", split="0.5,0.1,0.4", seed=1)
    return sqlite_store


def rows(store, model=None):
    with store.sessions() as s:
        stmt = select(func.count()).select_from(ModelPrediction)
        if model:
            stmt = stmt.where(ModelPrediction.model == model)
        return s.scalar(stmt)


def coco_results_from(export_dir, split, drop_every=0, rng=None):
    """A results file built from the export's own instances file: one detection per annotation."""
    doc = json.loads((export_dir / "annotations" / f"instances_{split}.json").read_text())
    out = []
    for n, ann in enumerate(doc["annotations"]):
        if drop_every and n % drop_every == 0:
            continue
        score = rng.uniform(0.3, 1.0) if rng else 0.99
        out.append({"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": ann["bbox"], "score": score})
    return doc, out


def test_coco_results_through_the_export_agree_with_pycocotools_on_the_export(version, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = tmp_path / "coco"
    export_version(version, "v1", "coco", out)
    doc, results = coco_results_from(out, "test", drop_every=4, rng=random.Random(2))
    # shift some boxes so that AP depends on IoU thresholds too
    for r in results[::3]:
        r["bbox"] = [r["bbox"][0] + r["bbox"][2] * 0.2, r["bbox"][1], r["bbox"][2], r["bbox"][3]]
    (tmp_path / "res.json").write_text(json.dumps(results))
    r = import_predictions(version, "v1", tmp_path / "res.json", "det")
    assert r.format == "coco" and r.samples == len(doc["images"])
    ours = evaluate_version(version, "v1", "det", split="test")["overall"]
    gt = COCO(str(out / "annotations" / "instances_test.json"))
    ev = COCOeval(gt, gt.loadRes(str(tmp_path / "res.json")), "bbox")
    ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ours["mAP"] == pytest.approx(ev.stats[0], abs=1e-9)
    assert ours["AP50"] == pytest.approx(ev.stats[1], abs=1e-9)
    assert ours["AR100"] == pytest.approx(ev.stats[8], abs=1e-9)
    assert 0 < ours["mAP"] < 1


def test_ultralytics_txt_with_confidences(version, tmp_path):
    out = tmp_path / "yolo"
    export_version(version, "v1", "yolo", out)
    pred_dir = tmp_path / "labels"
    pred_dir.mkdir()
    for label_file in (out / "labels" / "test").glob("*.txt"):
        lines = [line + " 0.9" for line in label_file.read_text().splitlines()]
        (pred_dir / label_file.name).write_text("\n".join(lines) + "\n")
    r = import_predictions(version, "v1", pred_dir, "yolo-model")
    assert r.format == "yolo" and r.targets > 0
    report = evaluate_version(version, "v1", "yolo-model", split="test")
    # YOLO writes 6 decimals of normalised coordinates: the boxes come back within a pixel, AP is 1.0
    assert report["overall"]["mAP"] == pytest.approx(1.0)


def test_bad_files_name_the_record_and_store_nothing(version, tmp_path):
    out = tmp_path / "coco"
    export_version(version, "v1", "coco", out)
    _, results = coco_results_from(out, "test")
    bad = [dict(r) for r in results]
    del bad[2]["score"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(PredictionFileError, match=r"record 2: expected keys image_id, category_id, bbox, score"):
        import_predictions(version, "v1", tmp_path / "bad.json", "m")
    unknown = [dict(results[0], image_id=99999)]
    (tmp_path / "unknown.json").write_text(json.dumps(unknown))
    with pytest.raises(PredictionFileError, match=r"record 0: image_id 99999 is not an image of the test split"):
        import_predictions(version, "v1", tmp_path / "unknown.json", "m")
    (tmp_path / "cat.json").write_text(json.dumps([dict(results[0], category_id=77)]))
    with pytest.raises(PredictionFileError, match=r"category_id 77"):
        import_predictions(version, "v1", tmp_path / "cat.json", "m")
    (tmp_path / "p.jsonl").write_text('{"id": "asset:1", "targets": []}\n{not json\n')
    with pytest.raises(PredictionFileError, match=r"p.jsonl line 2: not JSON"):
        import_predictions(version, "v1", tmp_path / "p.jsonl", "m")
    (tmp_path / "lab.jsonl").write_text(json.dumps({"id": "asset:1", "targets": [box("zebra", 0, 0, 5, 5)]}) + "\n")
    with pytest.raises(PredictionFileError, match=r"line 1: unknown label\(s\) \['zebra'\]"):
        import_predictions(version, "v1", tmp_path / "lab.jsonl", "m")
    d = tmp_path / "txt"
    d.mkdir()
    stem = next((tmp_path / "coco" / "images" / "test").iterdir()).stem
    (d / f"{stem}.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n0 0.5 0.5 0.2\n")
    with pytest.raises(PredictionFileError, match=r"no data.yaml class names"):
        import_predictions(version, "v1", d, "m", export=tmp_path / "coco")
    export_version(version, "v1", "yolo", tmp_path / "yolo")
    with pytest.raises(PredictionFileError, match=r"txt line 2: expected `cls cx cy w h conf`"):
        import_predictions(version, "v1", d, "m")
    assert rows(version) == 0


def test_coco_needs_an_export(version, tmp_path):
    (tmp_path / "r.json").write_text("[]")
    with pytest.raises(NoExport, match="harvest dataset export v1 --format coco"):
        import_predictions(version, "v1", tmp_path / "r.json", "m")


def test_models_never_overwrite_each_other(version, tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text(json.dumps({"id": "asset:1", "targets": [box("cat", 1, 1, 9, 9, score=0.5)]}) + "\n")
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps({"id": "asset:1", "targets": []}) + "\n")
    import_predictions(version, "v1", a, "model-a")
    import_predictions(version, "v1", b, "model-b")
    import_predictions(version, "v1", b, "model-b")  # again: replaces model-b's row, keeps one
    with version.sessions() as s:
        got = {(p.sample_key, p.model): p.targets for p in s.scalars(select(ModelPrediction))}
    assert got == {("asset:1", "model-a"): [box("cat", 1, 1, 9, 9, score=0.5)], ("asset:1", "model-b"): []}
