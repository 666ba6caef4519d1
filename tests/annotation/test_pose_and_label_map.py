"""Against a real Label Studio: keypoints keep their parent box through pull -> push -> pull (one person is
one COCO annotation), and a project's label map set by `harvest label map` is applied on the next pull."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from annotation import create_project, pull, push
from export import create_version, export_version
from storage.engine import session_scope
from storage.label_models import Annotation, Task
from tests.annotation.conftest import add_images
from tests.scrapers.helpers import harvest, harvest_env, write_toml

pytestmark = pytest.mark.labelstudio


def _task(store, project) -> Task:
    with session_scope(store.sessions) as session:
        task = session.scalars(select(Task).where(Task.project_id == project.id)).one()
        session.expunge(task)
        return task


def _rect(rid, x, y, w, h, label, size=(200, 100)):
    return {"id": rid, "type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": size[0],
            "original_height": size[1], "image_rotation": 0,
            "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]}}


def _point(rid, parent, x, y, name):
    return {"id": rid, "parentID": parent, "type": "keypointlabels", "from_name": "keypoint", "to_name": "image",
            "original_width": 200, "original_height": 100, "image_rotation": 0,
            "value": {"x": x, "y": y, "width": 0.5, "keypointlabels": [name]}}


def _text(proc) -> str:
    return " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines


def _current_targets(store, task_id: int) -> list[dict]:
    with session_scope(store.sessions) as session:
        rows = list(session.scalars(select(Annotation).where(Annotation.task_id == task_id)
                                    .order_by(Annotation.revision)))
        return list(rows[-1].targets)


def test_two_people_stay_two_coco_annotations_after_pull_push_pull(ls_store, ls_client, tmp_path):
    (asset,) = add_images(ls_store, [(200, 100)])
    labels = ["person", "nose", "tail"]
    first = create_project(ls_store, "pose-first", "pose", labels)
    push(ls_store, "pose-first")
    # two people drawn as Label Studio's editor saves them: each point's parentID is its box's region id
    drawn = [_rect("A", 5, 10, 20, 80, "person"), _point("A1", "A", 10, 20, "nose"), _point("A2", "A", 20, 80, "tail"),
             _rect("B", 50, 10, 30, 80, "person"), _point("B1", "B", 55, 20, "nose"), _point("B2", "B", 75, 80, "tail")]
    ls_client.create_annotation(_task(ls_store, first).ls_task_id, drawn)
    assert pull(ls_store, "pose-first").invalid == []
    pulled = _current_targets(ls_store, _task(ls_store, first).id)
    assert sorted((t["type"], t["instance"]) for t in pulled) == [
        ("bbox", "A"), ("bbox", "B"), ("keypoints", "A"), ("keypoints", "B")]

    # push back: what was pulled pre-annotates a second project; the annotator accepts it unchanged
    second = create_project(ls_store, "pose-second", "pose", labels)
    report = push(ls_store, "pose-second", predictions={f"asset:{asset}": pulled})
    assert report.predictions == 1
    ls_task = _task(ls_store, second).ls_task_id
    (prediction,) = ls_client.get_task(ls_task)["predictions"]
    boxes = {r["id"] for r in prediction["result"] if r["type"] == "rectanglelabels"}
    points = [r for r in prediction["result"] if r["type"] == "keypointlabels"]
    assert len(boxes) == 2 and len(points) == 4 and {p["parentID"] for p in points} == boxes
    ls_client.create_annotation(ls_task, prediction["result"])  # what "accept the prediction" saves
    assert pull(ls_store, "pose-second").invalid == []

    create_version(ls_store, "pose-v1", "pose-second", split="1,0,0")
    export_version(ls_store, "pose-v1", "coco", tmp_path / "coco")
    doc = json.loads((tmp_path / "coco" / "annotations" / "instances_train.json").read_text())
    anns = sorted(doc["annotations"], key=lambda a: a["bbox"][0])
    assert len(anns) == 2  # one per person, not boxes and points apart, not all points merged
    # by hand, in pixels of the 200x100 image: box A 10..50 x 10..90, its nose (20, 20) and tail (40, 80)
    assert anns[0]["bbox"] == pytest.approx([10, 10, 40, 80])
    assert anns[1]["bbox"] == pytest.approx([100, 10, 60, 80])
    for ann, (nose, tail) in zip(anns, [((20, 20), (40, 80)), ((110, 20), (150, 80))]):
        assert ann["num_keypoints"] == 2
        kp = ann["keypoints"]
        found = {(round(kp[i], 6), round(kp[i + 1], 6)) for i in range(0, len(kp), 3) if kp[i + 2] > 0}
        assert found == {nose, tail}


def test_label_map_set_by_the_cli_is_applied_on_the_next_pull(ls_store, ls_client, tmp_path):
    add_images(ls_store, [(200, 100)])
    project = create_project(ls_store, "map-pull", "object-detection", ["butterfly", "moth"])
    push(ls_store, "map-pull")
    task = _task(ls_store, project)
    ls_client.create_annotation(task.ls_task_id, [_rect("r1", 10, 10, 20, 20, "Butterfly"),
                                                   _rect("r2", 50, 10, 20, 20, "moth")])
    before = pull(ls_store, "map-pull")
    assert len(before.invalid) == 1 and "'Butterfly'" in before.invalid[0]
    assert [t["label"] for t in _current_targets(ls_store, task.id)] == ["moth"]

    s = ls_store.settings
    env = harvest_env(s, write_toml(tmp_path / "harvest.toml", {"labelstudio": {
        "url": s.labelstudio.url, "token": s.labelstudio.token.get_secret_value(),
        "document_root": str(s.labelstudio.document_root)}}))
    bad = harvest(["label", "map", "map-pull", "Butterfly=papillon"], env, tmp_path)
    assert bad.returncode == 2 and "must be a label of project 'map-pull'" in _text(bad)
    malformed = harvest(["label", "map", "map-pull", "Butterfly"], env, tmp_path)
    assert malformed.returncode == 2 and "expected OLD=NEW" in _text(malformed)
    shown = harvest(["label", "map", "map-pull"], env, tmp_path)
    assert shown.returncode == 0 and "0 rename(s)" in _text(shown)  # nothing half-written by the bad calls
    good = harvest(["label", "map", "map-pull", "Butterfly=butterfly"], env, tmp_path)
    assert good.returncode == 0 and "Butterfly -> butterfly" in good.stdout and "1 rename(s)" in _text(good)

    out = harvest(["label", "pull", "map-pull"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "label map applied (1 rename(s)); 1 stored revision(s) converted again under it" in _text(out)
    with session_scope(ls_store.sessions) as session:
        revs = list(session.scalars(select(Annotation).where(Annotation.task_id == task.id)
                                    .order_by(Annotation.revision)))
        assert [(r.revision, r.valid, r.received_via) for r in revs] == [(1, False, "pull"), (2, True, "label-map")]
        assert sorted(t["label"] for t in revs[1].targets) == ["butterfly", "moth"]
        assert revs[1].result == revs[0].result  # the raw result is Label Studio's, untouched
    again = pull(ls_store, "map-pull")
    assert again.label_map is None and again.revisions == 0  # applied once
