"""Push against a real Label Studio: bulk, idempotent, crash-safe, with predictions."""
from __future__ import annotations

import httpx
import pytest

from annotation import create_project, push
from annotation.errors import ConversionError, LabelStudioUnavailable
from storage.engine import session_scope
from storage.label_models import Prediction, Task
from tests.annotation.conftest import add_images, add_texts


pytestmark = pytest.mark.labelstudio


def ls_keys(client, ls_project_id: int) -> list[str]:
    return [t["data"].get("harvest_sample") for t in client.iter_tasks(ls_project_id, fields="task_only")]


def test_push_twice_creates_no_duplicates_and_sends_predictions(ls_store, ls_client, label_studio):
    ids = add_images(ls_store, [(64, 48)] * 7)
    project = create_project(ls_store, "push-twice", "object-detection", ["cat", "dog"])
    preds = {ids[0]: [{"type": "bbox", "x_min": 8, "y_min": 4, "x_max": 40, "y_max": 30, "label": "cat"}],
             f"asset:{ids[1]}": [{"model_version": "det-v2", "score": 0.75,
                                  "targets": [{"type": "bbox", "x_min": 0, "y_min": 0, "x_max": 64, "y_max": 48,
                                               "label": "dog"}]}]}
    first = push(ls_store, "push-twice", preds, batch_size=3)
    assert (first.imported, first.batches, first.predictions) == (7, 3, 2)
    second = push(ls_store, "push-twice", preds, batch_size=3)
    assert (second.new, second.imported) == (0, 0)
    keys = ls_keys(ls_client, project.ls_project_id)
    assert sorted(keys) == sorted(f"asset:{i}" for i in ids)
    with session_scope(ls_store.sessions) as session:
        tasks = {t.sample_key: t for t in session.query(Task).filter_by(project_id=project.id)}
        assert all(t.ls_task_id for t in tasks.values())
        assert session.query(Prediction).count() == 2
    ls_task = ls_client.get_task(tasks[f"asset:{ids[1]}"].ls_task_id)
    assert ls_task["total_predictions"] == 1
    # the image reaches the browser through local-files, as an image content type
    url = label_studio.url + tasks[f"asset:{ids[0]}"].data["image"]
    response = httpx.get(url, headers={"Authorization": f"Token {label_studio.token}"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    sha = response.url.params["d"].split("/")[-1][:64]
    assert response.content == ls_store.blobs.path(sha).read_bytes()


def test_push_limit_and_text_items(ls_store, ls_client):
    add_texts(ls_store, ["Alice met Bob in Paris.", "Nothing here.", "Carol went home."])
    project = create_project(ls_store, "ner-push", "ner", ["PER", "LOC"])
    assert push(ls_store, "ner-push", limit=2).imported == 2
    assert push(ls_store, "ner-push").imported == 1
    tasks = list(ls_client.iter_tasks(project.ls_project_id, fields="task_only"))
    assert sorted(t["data"]["text"] for t in tasks) == ["Alice met Bob in Paris.", "Carol went home.", "Nothing here."]


def test_project_source_limits_the_samples(ls_store, ls_client):
    mine = add_images(ls_store, [(10, 10), (11, 11)], source="mine")
    add_images(ls_store, [(12, 12)], source="other")
    project = create_project(ls_store, "push-source", "image-multilabel", ["x", "y"], source="mine")
    assert push(ls_store, "push-source").imported == 2
    assert sorted(ls_keys(ls_client, project.ls_project_id)) == sorted(f"asset:{i}" for i in mine)


def test_server_stopped_mid_push_then_push_again(ls_store, label_studio):
    add_images(ls_store, [(32, 32)] * 9)
    project = create_project(ls_store, "push-crash", "image-classification", ["a", "b"])

    def kill_after_first(batch: int) -> None:
        if batch == 1:
            label_studio.stop()

    try:
        with pytest.raises(LabelStudioUnavailable):
            push(ls_store, "push-crash", batch_size=3, on_batch=kill_after_first)
    finally:
        label_studio.start()
    with session_scope(ls_store.sessions) as session:
        recorded = session.query(Task).filter(Task.project_id == project.id, Task.ls_task_id.is_not(None))
        pushed = recorded.count()
        assert 3 <= pushed < 9  # the first batch was recorded (the next may have been in flight)
        # also lose the record of one imported task, as if we crashed between import and commit
        recorded.first().ls_task_id = None
    again = push(ls_store, "push-crash", batch_size=3)
    assert again.reconciled and again.adopted >= 1
    assert again.adopted + again.imported == 9 - (pushed - 1)
    client = label_studio.client()
    keys = ls_keys(client, project.ls_project_id)
    client.close()
    assert len(keys) == 9 == len(set(keys))
    with session_scope(ls_store.sessions) as session:
        tasks = session.query(Task).filter_by(project_id=project.id).all()
        assert len(tasks) == 9 and all(t.ls_task_id for t in tasks)
        assert sorted(t.ls_task_id for t in tasks) == sorted(
            t["id"] for t in label_studio.client().iter_tasks(project.ls_project_id, fields="task_only"))


def test_crash_after_import_before_recording_records_each_prediction_once(ls_store, ls_client):
    ids = add_images(ls_store, [(40, 30)] * 4)
    project = create_project(ls_store, "push-pred-crash", "object-detection", ["cat"])
    box = {"type": "bbox", "x_min": 2, "y_min": 3, "x_max": 20, "y_max": 25, "label": "cat"}
    preds = {i: [{"model_version": "m1", "score": 0.5, "targets": [box]},
                 {"model_version": "m2", "score": 0.9, "targets": [box]}] for i in ids[:3]}
    assert push(ls_store, "push-pred-crash", preds, batch_size=2).predictions == 6
    with session_scope(ls_store.sessions) as session:
        # as if harvest crashed after Label Studio imported the tasks but before recording them (for the
        # second task only its ls_task_id is lost: adopting it must not record its predictions twice)
        lost = session.query(Task).filter(Task.project_id == project.id, Task.asset_id.in_(ids[:2])).all()
        session.query(Prediction).filter(Prediction.task_id == lost[0].id).delete()
        for task in lost:
            task.ls_task_id = None
    again = push(ls_store, "push-pred-crash", preds, batch_size=2)
    assert (again.adopted, again.imported) == (2, 0)
    assert [p.split(" not sent")[0] for p in again.problems] == [f"prediction for asset:{ids[2]}"]  # recorded before
    push(ls_store, "push-pred-crash", preds, batch_size=2)
    with session_scope(ls_store.sessions) as session:
        rows = session.query(Prediction.task_id, Prediction.model_version).join(Task).filter(
            Task.project_id == project.id).all()
        tasks = {t.id: t.asset_id for t in session.query(Task).filter_by(project_id=project.id)}
    assert sorted((tasks[t], m) for t, m in rows) == sorted((i, m) for i in ids[:3] for m in ("m1", "m2"))
    assert sorted(t["total_predictions"] for t in ls_client.iter_tasks(project.ls_project_id)) == [0, 2, 2, 2]


def test_two_predictions_with_one_model_version_are_refused(ls_store):
    ids = add_images(ls_store, [(20, 20)])
    create_project(ls_store, "push-dup-version", "object-detection", ["cat"])
    box = {"type": "bbox", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5, "label": "cat"}
    with pytest.raises(ConversionError, match="one prediction per model_version"):
        push(ls_store, "push-dup-version", {ids[0]: [{"targets": [box]}, {"targets": [box]}]})


def test_bad_prediction_is_refused_before_anything_is_written(ls_store):
    ids = add_images(ls_store, [(20, 20)])
    project = create_project(ls_store, "push-bad", "object-detection", ["cat"])
    bad = {ids[0]: [{"type": "bbox", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5, "label": "zebra"}]}
    with pytest.raises(ConversionError, match="zebra"):
        push(ls_store, "push-bad", bad)
    with session_scope(ls_store.sessions) as session:
        assert session.query(Task).filter_by(project_id=project.id).count() == 0

