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


def test_label_review_from_issues_sends_the_top_suspects_through_the_review_queue(ls_sqlite_store, ls_client, tmp_path):
    """`harvest label review PROJECT --from-issues MODEL --top N` (CLI): the planted swap and the planted
    missing box are the top two; their tasks show the suspect region and the prediction; a re-run sends nothing."""
    from tests.scrapers.helpers import check, harvest, harvest_env, write_toml

    store = ls_sqlite_store
    f = Factory(store)
    for i in range(8):
        f.image(width=200, height=100, seed=i)
    f.commit()
    project = create_project(store, "issues-queue", "object-detection", ["cat", "dog"], client=ls_client)
    push(store, "issues-queue", client=ls_client)
    with store.sessions() as s:
        tasks = list(s.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))
    swapped, missing = tasks[2].sample_key, tasks[5].sample_key
    f2 = Factory(store)
    for t in tasks:
        given = [box("cat", 20, 10, 100, 60)]
        if t.sample_key == swapped:
            given = [box("dog", 20, 10, 100, 60)]
        if t.sample_key != missing:
            given = given + [box("dog", 120, 20, 180, 90)]
        f2.annotate(f2.session.get(Task, t.id), given, "a@x")
    f2.commit()
    f2.close()
    f.close()
    create_version(store, "q1", "issues-queue", split="1,0,0")
    lines = [json.dumps({"id": t.sample_key, "targets": [box("cat", 21, 10, 100, 61, score=0.99),
                                                         box("dog", 121, 20, 180, 90, score=0.97)]}) for t in tasks]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    import_predictions(store, "q1", tmp_path / "p.jsonl", "det")
    env = harvest_env(store.settings, write_toml(tmp_path / "harvest.toml", {"labelstudio": {
        "url": store.settings.labelstudio.url, "token": store.settings.labelstudio.token.get_secret_value(),
        "document_root": str(store.settings.labelstudio.document_root)}}))
    dry = check(harvest(["label", "review", "issues-queue", "--from-issues", "det", "--top", "2", "--dry-run"],
                        env, tmp_path)).stdout
    assert "2 suspects of det (dry run)" in dry and swapped in dry and missing in dry
    out = check(harvest(["label", "review", "issues-queue", "--from-issues", "det", "--top", "2"], env, tmp_path)).stdout
    assert "review 2 tasks in Label Studio (4 predictions sent, 0 already there)" in out
    ls_ids = {t.sample_key: t.ls_task_id for t in tasks}
    shown = {p["model_version"]: p["result"][0]["value"] for p in ls_client.get_task(ls_ids[swapped])["predictions"]}
    assert shown["issue:det"]["rectanglelabels"] == ["dog"] and shown["det"]["rectanglelabels"] == ["cat"]
    gap = {p["model_version"]: p["result"][0]["value"] for p in ls_client.get_task(ls_ids[missing])["predictions"]}
    # the missing box: the model's dog at 121..180 x 20..90 of a 200x100 image, in percent
    assert gap["det"]["rectanglelabels"] == ["dog"] and gap["det"]["x"] == pytest.approx(60.5)
    untouched = [t for t in tasks if t.sample_key not in (swapped, missing)]
    assert all(ls_client.get_task(t.ls_task_id)["predictions"] == [] for t in untouched)
    again = check(harvest(["label", "review", "issues-queue", "--from-issues", "det", "--top", "2"], env, tmp_path)).stdout
    assert "(0 predictions sent, 4 already there)" in again


def test_push_in_uncertainty_order_with_the_models_scores(ls_sqlite_store, ls_client, tmp_path):
    from sqlalchemy import select as sel

    from evaluate.active import SAMPLING
    from storage.models import Asset
    from tests.scrapers.helpers import check, harvest, harvest_env, write_toml

    store = ls_sqlite_store
    f = Factory(store)
    labeled = [f.image(width=200, height=100, seed=i) for i in range(3)]
    unlabeled = [f.image(width=200, height=100, seed=10 + i) for i in range(3)]
    f.commit()
    project = create_project(store, "al-demo", "object-detection", ["cat", "dog"], client=ls_client)
    push(store, "al-demo", client=ls_client, limit=3)  # the first three go out unlabeled-but-known
    with store.sessions() as s:
        first = {t.sample_key for t in s.scalars(sel(Task).where(Task.project_id == project.id))}
    f2 = Factory(store)
    for t in first:
        with store.sessions() as s:
            task = s.scalars(sel(Task).where(Task.project_id == project.id, Task.sample_key == t)).one()
        f2.annotate(f2.session.get(Task, task.id), [box("cat", 20, 10, 100, 60)], "a@x")
    f2.commit()
    f2.close()
    create_version(store, "al1", "al-demo", split="1,0,0")
    rest = [a for a in labeled + unlabeled if f"asset:{a.id}" not in first]
    scores = {f"asset:{a.id}": s for a, s in zip(rest, (0.9, 0.2, 0.6))}
    (tmp_path / "u.jsonl").write_text("".join(json.dumps({"id": k, "targets": [box("dog", 30, 20, 90, 70, score=v)]}) + "\n"
                                              for k, v in scores.items()))
    import_predictions(store, "al1", tmp_path / "u.jsonl", "al-model")
    env = harvest_env(store.settings, write_toml(tmp_path / "harvest.toml", {"labelstudio": {
        "url": store.settings.labelstudio.url, "token": store.settings.labelstudio.token.get_secret_value(),
        "document_root": str(store.settings.labelstudio.document_root)}}))
    # --limit 2: the two least certain (0.2, 0.6) go, the confident one (0.9) waits
    out = check(harvest(["label", "push", "al-demo", "--order", "uncertainty", "--model", "al-model", "--limit", "2"],
                        env, tmp_path)).stdout
    assert "pushed 2 task(s) with 2 prediction(s)" in out
    with store.sessions() as s:
        pushed = {t.sample_key for t in s.scalars(sel(Task).where(Task.project_id == project.id))} - first
    by_score = sorted(scores, key=scores.get)
    assert pushed == set(by_score[:2])
    with store.sessions() as s:
        order = [t.sample_key for t in s.scalars(sel(Task).where(Task.sample_key.in_(pushed)).order_by(Task.ls_task_id))]
    assert order == by_score[:2]  # least certain first, in Label Studio's task order too
    out = check(harvest(["label", "push", "al-demo", "--order", "uncertainty", "--model", "al-model"], env, tmp_path)).stdout
    assert "pushed 1 task(s) with 1 prediction(s)" in out
    assert ls_client.get_project(project.ls_project_id)["sampling"] == SAMPLING
    with store.sessions() as s:
        ids = {t.sample_key: t.ls_task_id for t in s.scalars(sel(Task).where(Task.project_id == project.id))}
    for key, score in scores.items():
        (pred,) = ls_client.get_task(ids[key])["predictions"]
        assert pred["model_version"] == "al-model" and pred["score"] == pytest.approx(score)
