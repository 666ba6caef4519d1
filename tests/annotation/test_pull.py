"""Pull against a real Label Studio: revisions, deletions as marks, incremental cursor, exact pixels."""
from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest

from annotation import annotate, create_annotator, create_project, pull, push
from annotation.annotators import annotator_client
from storage.engine import session_scope
from storage.label_models import Annotation, Task
from tests.annotation.conftest import add_images


pytestmark = pytest.mark.labelstudio


def revisions(store, ls_annotation_id: int) -> list[Annotation]:
    with session_scope(store.sessions) as session:
        rows = (session.query(Annotation).filter_by(ls_annotation_id=ls_annotation_id)
                .order_by(Annotation.revision).all())
        session.expunge_all()
        return rows


def box(x0, y0, x1, y1, label):
    return {"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "label": label}


def test_annotator_create_update_delete_pull(ls_store, ls_client, label_studio):
    ids = add_images(ls_store, [(200, 100), (120, 90), (50, 50)])
    create_project(ls_store, "pull-revs", "object-detection", ["cat", "dog"])
    push(ls_store, "pull-revs")
    # a second, non-admin user with their own session-made personal access token writes the annotation
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"  # one server serves the whole session
    annotator, as_annotator = annotator_client(label_studio.url, email, "secret-pass-1")
    assert as_annotator.whoami()["email"] == email and annotator != ls_client.whoami()["id"]
    created = annotate(ls_store, "pull-revs", f"asset:{ids[0]}", [box(10, 20, 110, 70, "cat")], annotator,
                       lead_time=3.5, client=as_annotator)
    assert created["completed_by"] == annotator
    first = pull(ls_store, "pull-revs")
    assert (first.tasks, first.revisions, first.invalid) == (1, 1, [])  # no cursor yet: every annotated task
    [rev1] = revisions(ls_store, created["id"])
    assert rev1.annotator == email and rev1.annotator_id == annotator and rev1.lead_time == 3.5
    assert rev1.valid and rev1.targets[0]["label"] == "cat"
    assert [round(rev1.targets[0][k], 6) for k in ("x_min", "y_min", "x_max", "y_max")] == [10, 20, 110, 70]

    assert pull(ls_store, "pull-revs").revisions == 0  # nothing changed: no new revision
    moved = [dict(r) for r in created["result"]]
    moved[0] = {**moved[0], "value": {**moved[0]["value"], "rectanglelabels": ["dog"]}}
    as_annotator.update_annotation(created["id"], result=moved)
    second = pull(ls_store, "pull-revs", overlap=timedelta(0))  # no re-read window: exactly what changed
    assert second.tasks == 1 and second.revisions == 1  # only the changed task came back
    revs = revisions(ls_store, created["id"])
    assert [r.revision for r in revs] == [1, 2] and revs[1].targets[0]["label"] == "dog"

    as_annotator.delete_annotation(created["id"])
    as_annotator.close()
    third = pull(ls_store, "pull-revs")
    assert third.deleted == 1
    revs = revisions(ls_store, created["id"])
    assert len(revs) == 2 and all(r.deleted_at is not None for r in revs)  # marked, never erased


def test_invalid_results_are_stored_raw_and_reported(ls_store, ls_client):
    ids = add_images(ls_store, [(40, 30)])
    project = create_project(ls_store, "pull-invalid", "object-detection", ["cat"])
    push(ls_store, "pull-invalid")
    with session_scope(ls_store.sessions) as session:
        ls_task = session.query(Task).filter_by(project_id=project.id).one().ls_task_id
    result = [{"id": "z1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
               "original_width": 40, "original_height": 30,
               "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": ["zebra"]}},
              {"id": "z2", "type": "rectanglelabels", "from_name": "nope", "to_name": "image",
               "value": {"x": 1, "y": 1, "width": 2, "height": 2, "rectanglelabels": ["cat"]}},
              {"id": "z3", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
               "value": {"x": 1, "y": 1, "width": 2, "height": 2, "rectanglelabels": ["cat"]}}]
    ann = ls_client.create_annotation(ls_task, result)
    report = pull(ls_store, "pull-invalid")
    assert len(report.invalid) == 3
    assert any("zebra" in p for p in report.invalid) and any("'nope'" in p for p in report.invalid)
    assert any("original_width" in p for p in report.invalid)
    [rev] = revisions(ls_store, ann["id"])
    assert not rev.valid and rev.targets == [] and rev.result == result and len(rev.problems) == 3
    assert ids


def test_pixel_boxes_equal_label_studios_coco_export(ls_store, ls_client):
    sizes = [(640, 480), (333, 217), (101, 999)]
    ids = add_images(ls_store, sizes)
    project = create_project(ls_store, "pull-coco", "object-detection", ["cat", "dog"])
    push(ls_store, "pull-coco")
    user = create_annotator(ls_store, "coco@example.com", "secret-pass-2")
    boxes = {ids[0]: [box(13.3, 7.1, 200.9, 300.2, "cat"), box(0, 0, 640, 480, "dog")],
             ids[1]: [box(1, 2, 3.5, 4.25, "dog")], ids[2]: [box(50.5, 500.5, 100, 998, "cat")]}
    for asset, targets in boxes.items():
        annotate(ls_store, "pull-coco", f"asset:{asset}", targets, user)
    pull(ls_store, "pull-coco")
    raw = ls_client.export_json(project.ls_project_id, "COCO")
    coco = json.loads(zipfile.ZipFile(io.BytesIO(raw)).read("result.json"))
    categories = {c["id"]: c["name"] for c in coco["categories"]}
    theirs = sorted((categories[a["category_id"]], *[round(v, 9) for v in a["bbox"]]) for a in coco["annotations"])
    with session_scope(ls_store.sessions) as session:
        ours = sorted((t["label"], round(t["x_min"], 9), round(t["y_min"], 9), round(t["x_max"] - t["x_min"], 9),
                       round(t["y_max"] - t["y_min"], 9))
                      for a in session.query(Annotation) for t in a.targets)
    assert ours == theirs and len(ours) == 4
