"""The CLI end to end in a subprocess: export, predictions import (COCO results), eval, issues; errors exit 2."""
from __future__ import annotations

import json

from evaluate.mapping import store_keys
from export import create_version, export_version
from tests.export.factory import detection_project
from tests.scrapers.helpers import check, harvest, harvest_env, write_toml


def test_predictions_import_eval_and_issues(sqlite_settings, sqlite_store, tmp_path):
    detection_project(sqlite_store, n=30)
    create_version(sqlite_store, "v1", "proj", split="0.5,0.1,0.4", seed=1)
    out = tmp_path / "coco"
    export_version(sqlite_store, "v1", "coco", out)
    doc = json.loads((out / "annotations" / "instances_test.json").read_text())
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
               for a in doc["annotations"][1:]]  # the first box is missed
    (tmp_path / "res.json").write_text(json.dumps(results))
    env = harvest_env(sqlite_settings, write_toml(tmp_path / "harvest.toml", {"crawl": {}}))
    got = check(harvest(["predictions", "import", "v1", str(tmp_path / "res.json"), "--model", "m1"], env, tmp_path)).stdout
    assert f"stored {len(results)} predicted target(s) on {len(doc['images'])} sample(s)" in got
    assert "m1" in check(harvest(["predictions", "list"], env, tmp_path)).stdout
    report = check(harvest(["eval", "v1", "--model", "m1"], env, tmp_path)).stdout
    assert "human bound" in report and "mAP" in report and "worst samples" in report and "slices" in report
    exported = doc["images"][doc["annotations"][0]["image_id"] - 1]["harvest_id"]  # content-keyed
    assert exported.startswith("sha256:")
    missed = store_keys(sqlite_store, "v1")[exported]  # the report names the store's sample key
    assert missed in report
    data = json.loads(check(harvest(["eval", "v1", "--model", "m1", "--json"], env, tmp_path)).stdout)
    assert 0 < data["overall"]["mAP"] < 1 and data["worst"][0]["id"] == missed
    issues = check(harvest(["issues", "v1", "--model", "m1", "--split", "test", "--top", "5"], env, tmp_path)).stdout
    assert "suspect region" in issues
    (tmp_path / "bad.json").write_text(json.dumps([{"image_id": 1}]))
    bad = harvest(["predictions", "import", "v1", str(tmp_path / "bad.json"), "--model", "m2"], env, tmp_path)
    assert bad.returncode == 2 and "record 0: expected keys image_id, category_id, bbox, score" in bad.stderr
    none = harvest(["eval", "v1", "--model", "nope"], env, tmp_path)
    assert none.returncode == 2 and "has no predictions" in none.stderr and "m1" in none.stderr
