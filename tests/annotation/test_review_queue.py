"""`harvest label review`: disputed samples reach a reviewer in a real Label Studio with both annotators'
regions as predictions; the reviewer's ground-truth annotation, once pulled, decides the next version."""
from __future__ import annotations

import pytest

from annotation import annotate, create_annotator, create_project, pull, push
from annotation.review_queue import send_for_review
from export import create_version
from export.review import needs_review
from storage.engine import session_scope
from storage.label_models import Task
from storage.models import DatasetVersion, VersionMember
from tests.annotation.conftest import add_images

pytestmark = pytest.mark.labelstudio


def box(x0, y0, x1, y1, label):
    return {"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "label": label}


CAT, DOG = box(10, 10, 60, 50, "cat"), box(100, 20, 150, 70, "dog")


def members(store, name):
    with session_scope(store.sessions) as s:
        v = s.query(DatasetVersion).filter_by(name=name).one()
        return {m.sample_key: m.targets for m in s.query(VersionMember).filter_by(version_id=v.id)}


def test_review_shows_both_annotations_and_the_reviewers_truth_decides(ls_store, ls_client):
    ids = add_images(ls_store, [(200, 100), (200, 100)])
    project = create_project(ls_store, "review-q", "object-detection", ["cat", "dog"])
    push(ls_store, "review-q")
    a = create_annotator(ls_store, "rev-a@example.com", "secret-pass-a")
    b = create_annotator(ls_store, "rev-b@example.com", "secret-pass-b")
    disputed, agreed = f"asset:{ids[0]}", f"asset:{ids[1]}"
    annotate(ls_store, "review-q", disputed, [CAT, DOG], a)
    annotate(ls_store, "review-q", disputed, [CAT], b)  # b missed the dog
    annotate(ls_store, "review-q", agreed, [CAT], a)
    annotate(ls_store, "review-q", agreed, [CAT], b)
    pull(ls_store, "review-q")

    v1 = create_version(ls_store, "rq-v1", "review-q", revision_rule="consensus")
    assert set(members(ls_store, "rq-v1")) == {agreed}  # the image with an undecided dog is held out
    assert v1.stats["needs_review"]["samples"] == 1
    held = needs_review(ls_store, "review-q")
    assert list(held) == [disputed] and "dog" in held[disputed]["reasons"][0]

    report = send_for_review(ls_store, "review-q", {k: v["predictions"] for k, v in held.items()}, "disagree")
    assert (report.tasks, report.predictions, report.problems) == (1, 2, [])
    with session_scope(ls_store.sessions) as s:
        ls_task_id = s.query(Task).filter_by(project_id=project.id, sample_key=disputed).one().ls_task_id
    task = ls_client.get_task(ls_task_id)
    assert task["total_predictions"] == 2
    shown = sorted(sorted(label for r in p["result"] for label in r["value"]["rectanglelabels"])
                   for p in task["predictions"])
    assert shown == [["cat"], ["cat", "dog"]]  # each annotator's regions, as Label Studio holds them
    assert sorted(p["model_version"] for p in task["predictions"]) == ["review/rev-a@example.com",
                                                                       "review/rev-b@example.com"]
    again = send_for_review(ls_store, "review-q", {k: v["predictions"] for k, v in held.items()}, "disagree")
    assert (again.predictions, again.already) == (0, 2) and ls_client.get_task(ls_task_id)["total_predictions"] == 2

    # the reviewer starts from the fuller prediction, submits it, and marks it as ground truth
    fuller = next(p for p in task["predictions"] if len(p["result"]) == 2)
    made = ls_client.create_annotation(ls_task_id, fuller["result"])
    ls_client.update_annotation(made["id"], ground_truth=True)
    pull(ls_store, "review-q")
    create_version(ls_store, "rq-v2", "review-q", revision_rule="consensus")
    got = members(ls_store, "rq-v2")
    assert set(got) == {disputed, agreed}
    assert sorted(t["label"] for t in got[disputed]) == ["cat", "dog"]
    assert needs_review(ls_store, "review-q") == {}


def test_pull_keeps_valid_regions_next_to_an_unknown_label(ls_store, ls_client):
    from storage.label_models import Annotation

    ids = add_images(ls_store, [(320, 240)])
    project = create_project(ls_store, "regions", "object-detection", ["cat", "butterfly"])
    push(ls_store, "regions")
    with session_scope(ls_store.sessions) as s:
        ls_task_id = s.query(Task).filter_by(project_id=project.id).one().ls_task_id
    region = {"type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": 320,
              "original_height": 240}
    ls_client.create_annotation(ls_task_id, [
        {**region, "id": "ok", "value": {"x": 25, "y": 50, "width": 12.5, "height": 10, "rotation": 0,
                                          "rectanglelabels": ["cat"]}},
        {**region, "id": "bad", "value": {"x": 50, "y": 50, "width": 12.5, "height": 10, "rotation": 0,
                                           "rectanglelabels": ["Butterfly"]}}])
    report = pull(ls_store, "regions")
    assert len(report.invalid) == 1 and "region bad" in report.invalid[0] and "Butterfly" in report.invalid[0]
    with session_scope(ls_store.sessions) as s:
        ann = s.query(Annotation).one()
        assert [(t["label"], t["x_min"]) for t in ann.targets] == [("cat", 80.0)]  # the valid region is kept
        assert not ann.valid and "Butterfly" in ann.problems[0]
        assert [r["value"]["rectanglelabels"] for r in ann.result] == [["cat"], ["Butterfly"]]  # raw, as sent
    assert f"asset:{ids[0]}" in needs_review(ls_store, "regions")


def test_a_task_deleted_in_label_studio_is_marked_on_pull_never_erased(ls_store, ls_client):
    from storage.label_models import Annotation

    ids = add_images(ls_store, [(64, 48), (64, 48)])
    project = create_project(ls_store, "deleted-task", "object-detection", ["cat"])
    push(ls_store, "deleted-task")
    a = create_annotator(ls_store, "del-a@example.com", "secret-pass-d")
    for asset in ids:
        annotate(ls_store, "deleted-task", f"asset:{asset}", [box(1, 1, 30, 30, "cat")], a)
    assert pull(ls_store, "deleted-task").deleted_tasks == []
    with session_scope(ls_store.sessions) as s:
        gone = s.query(Task).filter_by(project_id=project.id, sample_key=f"asset:{ids[0]}").one().ls_task_id
    ls_client.request("DELETE", f"/api/tasks/{gone}/")
    report = pull(ls_store, "deleted-task")
    assert report.deleted_tasks == [f"asset:{ids[0]}"]
    assert pull(ls_store, "deleted-task").deleted_tasks == []  # marked once
    with session_scope(ls_store.sessions) as s:
        task = s.query(Task).filter_by(project_id=project.id, sample_key=f"asset:{ids[0]}").one()
        assert task.ls_deleted_at is not None and s.query(Annotation).filter_by(task_id=task.id).count() == 1
    v = create_version(ls_store, "del-v1", "deleted-task")
    assert set(members(ls_store, "del-v1")) == {f"asset:{ids[1]}"}
    assert v.stats["skipped"] == {"task deleted in Label Studio": 1}
