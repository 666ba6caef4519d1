"""`--from-issues`: the top suspects go to a real Label Studio with the suspect region and the prediction."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from annotation import create_project, push
from evaluate.predictions import import_predictions
from evaluate.review import push_for_review, suspects
from export import create_version
from storage.models import Prediction, Task
from tests.e2e.conftest import e2e_store  # noqa: F401 - a fixture
from tests.export.factory import Factory, box

pytestmark = pytest.mark.labelstudio


ls_sqlite_store = e2e_store  # the e2e suite's SQLite store wired to the session's Label Studio


def test_suspects_are_shown_in_label_studio_with_region_and_prediction(ls_sqlite_store, ls_client, tmp_path):
    store = ls_sqlite_store
    f = Factory(store)
    for i in range(6):
        f.image(width=200, height=100, seed=i)
    f.commit()
    project = create_project(store, "review-demo", "object-detection", ["cat", "dog"], client=ls_client)
    push(store, "review-demo", client=ls_client)
    with store.sessions() as s:
        tasks = list(s.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))
    assert len(tasks) == 6 and all(t.ls_task_id for t in tasks)
    truth = {t.sample_key: [box("cat", 20, 10, 100, 60)] for t in tasks}
    swapped = tasks[2].sample_key
    f2 = Factory(store)
    for t in tasks:
        given = [box("dog", 20, 10, 100, 60)] if t.sample_key == swapped else truth[t.sample_key]
        f2.annotate(f2.session.get(Task, t.id), given, "a@x")
    f2.commit()
    f2.close()
    f.close()
    create_version(store, "r1", "review-demo", split="1,0,0")
    lines = [json.dumps({"id": k, "targets": [box("cat", 21, 10, 100, 61, score=0.99),
                                              box("dog", 150, 70, 190, 95, score=0.1)]}) for k in sorted(truth)]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    import_predictions(store, "r1", tmp_path / "p.jsonl", "det")
    top = suspects(store, "r1", "det", top=1)
    assert [s.sample_key for s in top] == [swapped] and top[0].issue == "swap"
    assert push_for_review(store, "review-demo", top, "det", client=ls_client) == 1
    task = ls_client.get_task(tasks[2].ls_task_id)
    shown = {p["model_version"]: p["result"] for p in task["predictions"]}
    region, predicted = shown["issue:det"][0]["value"], shown["det"][0]["value"]
    assert region["rectanglelabels"] == ["dog"] and predicted["rectanglelabels"] == ["cat"]
    # percent of the 200x100 image: the labeled box 20..100 x 10..60
    assert (region["x"], region["y"], region["width"], region["height"]) == pytest.approx((10, 10, 40, 50))
    with store.sessions() as s:
        rows = {p.model_version for p in s.scalars(select(Prediction).where(Prediction.task_id == tasks[2].id))}
    assert rows == {"issue:det", "det"}
