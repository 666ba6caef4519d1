"""`harvest eval` on 10,000 samples: wall time, against bare pycocotools on the same boxes in the same run.

A synthetic detection version (N images, 1-4 boxes each, 5 classes, a second annotator on 20%) is
written straight into a SQLite store; a model's predictions (jittered truth, some misses, strays)
are stored for every sample. Timed: `harvest eval` as a user runs it (a subprocess, start-up
included), the in-process report, and the baseline — COCOeval evaluate/accumulate/summarize alone.

    .venv/bin/python bench/eval.py [--samples 10000]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABELS = ["ball", "crate", "bottle", "arrow_left", "arrow_right"]


def build(store, n: int, rng: random.Random) -> tuple[dict, dict]:
    from sqlalchemy import insert

    from export import create_version
    from storage.engine import session_scope
    from storage.models import Annotation, Asset, LabelingProject, Task

    truth, preds = {}, {}
    with session_scope(store.sessions) as s:
        proj = LabelingProject(name="bench", template="image-bbox", labels=LABELS, label_config="<View/>")
        s.add(proj)
        s.flush()
        s.execute(insert(Asset), [{"sha256": f"{i:064x}", "mime": "image/jpeg", "width": 640, "height": 480,
                                   "bytes": 1, "blob_path": "x"} for i in range(1, n + 1)])
        s.execute(insert(Task), [{"project_id": proj.id, "sample_key": f"asset:{i}", "asset_id": i} for i in range(1, n + 1)])
        anns = []
        for i in range(1, n + 1):
            boxes = []
            for _ in range(rng.randint(1, 4)):
                x, y, w, h = rng.uniform(0, 500), rng.uniform(0, 350), rng.uniform(20, 140), rng.uniform(20, 130)
                boxes.append({"type": "bbox", "x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h,
                              "label": rng.choice(LABELS)})
            truth[f"asset:{i}"] = boxes
            anns.append({"task_id": i, "ls_annotation_id": 2 * i, "annotator": "a@x", "ground_truth": True,
                         "targets": boxes, "result": [], "result_hash": f"{2 * i:064x}"})
            if i % 5 == 0:
                anns.append({"task_id": i, "ls_annotation_id": 2 * i + 1, "annotator": "b@x",
                             "targets": [{**b, "x_min": b["x_min"] + rng.uniform(-4, 4)} for b in boxes],
                             "result": [], "result_hash": f"{2 * i + 1:064x}"})
            p = [{**b, **{k: b[k] + rng.uniform(-5, 5) for k in ("x_min", "y_min", "x_max", "y_max")},
                  "score": rng.uniform(0.3, 1.0)} for b in boxes if rng.random() > 0.1]
            p.append({"type": "bbox", "x_min": 10.0, "y_min": 10.0, "x_max": 60.0, "y_max": 60.0,
                      "label": rng.choice(LABELS), "score": rng.uniform(0.05, 0.5)})
            preds[f"asset:{i}"] = p
        for start in range(0, len(anns), 2000):
            s.execute(insert(Annotation), anns[start:start + 2000])
    create_version(store, "bench-v1", "bench", split="0.1,0.0,0.9", revision_rule="ground-truth")
    return truth, preds


def baseline(truth: dict, preds: dict, keys: list[str]) -> float:
    """Bare pycocotools on the same boxes: build the two COCO objects, evaluate, accumulate, summarize."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    t = time.perf_counter()
    cat = {c: i + 1 for i, c in enumerate(LABELS)}
    images = [{"id": i + 1, "width": 640, "height": 480} for i in range(len(keys))]
    gts, dts = [], []
    for i, k in enumerate(keys, start=1):
        for b in truth[k]:
            w, h = b["x_max"] - b["x_min"], b["y_max"] - b["y_min"]
            gts.append({"id": len(gts) + 1, "image_id": i, "category_id": cat[b["label"]], "bbox": [b["x_min"], b["y_min"], w, h],
                        "area": w * h, "iscrowd": 0})
        for b in preds[k]:
            w, h = b["x_max"] - b["x_min"], b["y_max"] - b["y_min"]
            dts.append({"image_id": i, "category_id": cat[b["label"]], "bbox": [b["x_min"], b["y_min"], w, h], "score": b["score"]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": gts, "categories": [{"id": v, "name": k} for k, v in cat.items()]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dts), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args()
    from evaluate.data import members, store_predictions
    from evaluate.report import evaluate_version
    from harvest.setup import init_store
    from harvest.store import open_store
    from tests.conftest import make_settings

    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        settings = make_settings(Path(tmp), f"sqlite:///{Path(tmp) / 'h.db'}")
        init_store(settings)
        store = open_store(settings)
        t = time.perf_counter()
        truth, preds = build(store, args.samples, random.Random(0))
        store_predictions(store, "bench-v1", "m", preds, "jsonl", "bench")
        print(f"built {args.samples} samples and their predictions in {time.perf_counter() - t:.1f} s")
        keys = [m.key for m in members(store, "bench-v1")]
        base = baseline(truth, preds, keys)
        t = time.perf_counter()
        report = evaluate_version(store, "bench-v1", "m", split="all")
        inproc = time.perf_counter() - t
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HARVEST_DATABASE_URL": settings.database_url,
               "HARVEST_DATA_DIR": str(settings.data_dir), "HARVEST_CONFIG": str(Path(tmp) / "none.toml")}
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "harvest", "eval", "bench-v1", "--model", "m", "--split", "all"],
                              env=env, cwd=tmp, capture_output=True, text=True, timeout=1800)
        cli = time.perf_counter() - t
        assert proc.returncode == 0, proc.stderr[-3000:]
        store.close()
    print(f"mAP {report['overall']['mAP']:.3f}, human bound mAP {report['human_bound']['mAP']:.3f} on "
          f"{report['human_bound']['samples']} samples, {len(report['slices'])} slices")
    print(f"bare pycocotools (baseline): {base:.2f} s")
    print(f"evaluate_version in process: {inproc:.2f} s = {inproc / base:.2f}x the baseline "
          "(adds the human bound's two evaluations, slices, error lists, DB reads)")
    print(f"`harvest eval` (subprocess, start-up included): {cli:.2f} s = {cli / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
