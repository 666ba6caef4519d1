"""`harvest demo` end to end against a real Label Studio, twice: the second run changes nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pycocotools.coco import COCO
from sqlalchemy import func, select

from harvest.demo.site import DemoSite
from storage.engine import make_engine, session_factory
from storage.models import Annotation, Asset, DatasetVersion, Export, Task
from tests.labelstudio import free_port


def _run_demo(tmp_path, label_studio, port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_") or k.startswith("HARVEST_TEST")}
    env.update(
        HARVEST_LABELSTUDIO__URL=label_studio.url,
        HARVEST_LABELSTUDIO_TOKEN=label_studio.token,
        HARVEST_LABELSTUDIO__DOCUMENT_ROOT=str(label_studio.config.document_root),
        HARVEST_CRAWL__DEMO_URL=f"http://127.0.0.1:{port}/",
        **extra,
    )
    return subprocess.run([sys.executable, "-m", "harvest", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)


def _counts(db):
    engine = make_engine(db)
    with session_factory(engine)() as s:
        out = {
            "assets": s.scalar(select(func.count(Asset.id))),
            "tasks": s.scalar(select(func.count(Task.id))),
            "pushed": s.scalar(select(func.count(Task.id)).where(Task.ls_task_id.is_not(None))),
            "annotations": s.scalar(select(func.count(Annotation.id)).where(Annotation.deleted_at.is_(None))),
            "annotators": s.scalar(select(func.count(func.distinct(Annotation.annotator)))),
            "versions": s.scalar(select(func.count(DatasetVersion.id))),
            "exports": s.scalar(select(func.count(Export.id))),
        }
    engine.dispose()
    return out


def test_demo_runs_the_whole_chain_and_is_idempotent(tmp_path, label_studio):
    port = free_port()
    first = _run_demo(tmp_path, label_studio, port)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "SIMULATED" in first.stdout
    db = f"sqlite:///{tmp_path / 'harvest-data' / 'harvest.db'}"
    counts = _counts(db)
    expected = DemoSite(0).expected()
    assert counts["assets"] == expected["n_distinct_images"]
    assert counts["tasks"] == counts["pushed"] == counts["assets"]
    assert counts["annotations"] == 2 * counts["tasks"] and counts["annotators"] == 2
    assert counts["versions"] == 1 and counts["exports"] == 2

    coco_dir = tmp_path / "harvest-data" / "exports" / "v1-coco"
    manifest = json.loads((coco_dir / "manifest.json").read_text())
    ann_files = sorted((coco_dir / "annotations").glob("instances_*.json"))
    assert ann_files
    images = sum(len(COCO(str(f)).getImgIds()) for f in ann_files)
    assert images == len(manifest["samples"])
    assert (tmp_path / "harvest-data" / "exports" / "v1-yolo" / "data.yaml").is_file()
    manifest_before = (coco_dir / "manifest.json").read_bytes()

    second = _run_demo(tmp_path, label_studio, port)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert _counts(db) == counts
    assert "0 annotations written" in " ".join(second.stdout.split())
    assert (coco_dir / "manifest.json").read_bytes() == manifest_before


@pytest.mark.slow
def test_two_fresh_demos_give_the_same_v1(tmp_path, label_studio):
    """Two `harvest demo` runs from nothing (crawled one request at a time vs 16 at once, so the images
    arrive in another order and get other database ids) freeze the same v1 and export the same images."""
    runs = []
    for name, concurrency in (("one", "1"), ("many", "16")):
        (tmp_path / name).mkdir()
        done = _run_demo(tmp_path / name, label_studio, free_port(), HARVEST_CRAWL__CONCURRENCY_PER_DOMAIN=concurrency)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        engine = make_engine(f"sqlite:///{tmp_path / name / 'harvest-data' / 'harvest.db'}")
        with session_factory(engine)() as s:
            v1 = s.scalars(select(DatasetVersion).where(DatasetVersion.name == "v1")).one()
            ids = dict(s.execute(select(Asset.sha256, Asset.id)).all())
            runs.append((v1.content_hash, v1.stats["splits"], ids))
        engine.dispose()
    (hash_a, splits_a, ids_a), (hash_b, splits_b, ids_b) = runs
    assert ids_a.keys() == ids_b.keys()
    assert hash_a == hash_b and splits_a == splits_b
    files = []
    for name in ("one", "many"):
        manifest = json.loads((tmp_path / name / "harvest-data" / "exports" / "v1-coco" / "manifest.json").read_text())
        files.append(sorted((f["path"], f["sha256"]) for f in manifest["files"] if f["path"].startswith("images/")))
    assert files[0] == files[1]
    print(f"v1 content hash of both demos: {hash_a}; asset ids differ: {ids_a != ids_b}")
