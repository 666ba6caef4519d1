"""Label Studio faults against the real server: down mid-push and mid-pull (resume, no duplicate task, no
lost annotation), and a webhook with a bad secret (401, nothing stored)."""
from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

import annotation.sync_pull as sync_pull
from annotation import annotate, create_annotator, create_project, pull, push
from annotation.client import LabelStudioClient, updated_since_query
from annotation.errors import LabelStudioUnavailable
from annotation.webhook import HEADER, create_app, serve
from storage.engine import session_scope
from storage.label_models import Annotation, Task
from tests.annotation.conftest import add_images
from tests.annotation.test_push import ls_keys
from tests.labelstudio import free_port, wait_for

pytestmark = pytest.mark.labelstudio

N = 8


class DyingClient(LabelStudioClient):
    """A real client whose task listing reads pages of two and stops the server after `after` tasks."""

    def __init__(self, handle, after: int) -> None:
        super().__init__(handle.url, handle.token)
        self.handle, self.after = handle, after

    def tasks_updated_since(self, project_id, since):
        query = updated_since_query(since) if since else None
        for n, task in enumerate(self.iter_tasks(project_id, query=query, fields="all", page_size=2), 1):
            yield task
            if n == self.after:
                self.handle.stop()


def _annotations(store, project_id: int) -> list[tuple[int, int, bool, str]]:
    """(ls annotation id, revision, deleted, first label) of every stored revision of the project."""
    with session_scope(store.sessions) as session:
        rows = (session.query(Annotation).join(Task, Task.id == Annotation.task_id)
                .filter(Task.project_id == project_id).all())
        return sorted((r.ls_annotation_id, r.revision, r.deleted_at is not None,
                       (r.targets or [{}])[0].get("label")) for r in rows)


def test_label_studio_down_mid_push_and_mid_pull_then_resume(ls_store, label_studio, monkeypatch):
    ids = add_images(ls_store, [(48, 40)] * N)
    project = create_project(ls_store, "down-mid-sync", "image-classification", ["a", "b"])

    def stop_after_first(batch: int) -> None:
        if batch == 1:
            label_studio.stop()

    try:  # mid-push: the server goes away after the first batch was imported
        with pytest.raises(LabelStudioUnavailable):
            push(ls_store, "down-mid-sync", batch_size=3, on_batch=stop_after_first)
    finally:
        label_studio.start()
    push(ls_store, "down-mid-sync", batch_size=3)
    client = label_studio.client()
    keys = ls_keys(client, project.ls_project_id)
    assert sorted(keys) == sorted(f"asset:{i}" for i in ids) and len(set(keys)) == N  # no duplicate task

    user = create_annotator(ls_store, "down-mid-sync@example.com", "secret-pass-9")
    made = {i: annotate(ls_store, "down-mid-sync", f"asset:{i}", [{"type": "choice", "label": "ab"[n % 2]}], user)
            for n, i in enumerate(ids)}
    first = pull(ls_store, "down-mid-sync")
    assert first.revisions == N
    changed, removed = made[ids[0]], made[ids[1]]
    client.update_annotation(changed["id"], result=[{**changed["result"][0], "value": {"choices": ["b"]}}])
    client.delete_annotation(removed["id"])
    late = {i: annotate(ls_store, "down-mid-sync", f"asset:{i}", [{"type": "choice", "label": "b"}], user)
            for i in ids[2:5]}  # second annotations on three tasks
    client.close()

    monkeypatch.setattr(sync_pull, "PAGE", 2)  # store every two tasks: part of the pull is stored before the fault
    dying = DyingClient(label_studio, after=3)
    try:  # mid-pull: the server goes away while the changed tasks are being read
        with pytest.raises(LabelStudioUnavailable):
            pull(ls_store, "down-mid-sync", client=dying)
    finally:
        dying.close()
        label_studio.start()
    partial = _annotations(ls_store, project.id)
    assert len(partial) > N  # the pages read before the fault were stored, and are kept

    pull(ls_store, "down-mid-sync")
    pull(ls_store, "down-mid-sync")  # and once more: nothing new
    stored = _annotations(ls_store, project.id)
    assert len(set(stored)) == len(stored)
    per_id = Counter(ls_id for ls_id, *_ in stored)
    expected_ids = {a["id"] for a in made.values()} | {a["id"] for a in late.values()}
    assert set(per_id) == expected_ids  # every annotation, none lost, none invented
    assert per_id[changed["id"]] == 2 and all(n == 1 for k, n in per_id.items() if k != changed["id"])
    assert [r[3] for r in stored if r[0] == changed["id"]] == ["a", "b"]  # the update added a revision
    assert all(r[2] for r in stored if r[0] == removed["id"])  # the deletion is marked, not erased
    assert not any(r[2] for r in stored if r[0] != removed["id"])


@pytest.fixture
def receiver(ls_store):
    port = free_port()
    server = serve(create_app(ls_store, "the-right-secret", users={}), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15)
    yield f"http://127.0.0.1:{port}/hook"
    server.should_exit = True
    thread.join(10)


def test_webhook_with_bad_secret_is_401_and_stores_nothing(ls_store, ls_client, receiver):
    [asset] = add_images(ls_store, [(40, 30)])
    project = create_project(ls_store, "hook-secret", "image-classification", ["a", "b"])
    push(ls_store, "hook-secret")
    user = create_annotator(ls_store, "hook-secret@example.com", "secret-pass-8")
    made = annotate(ls_store, "hook-secret", f"asset:{asset}", [{"type": "choice", "label": "a"}], user)
    task = ls_client.get_task(made["task"])
    [ann] = task["annotations"]
    created = {"action": "ANNOTATION_CREATED", "project": {"id": project.ls_project_id}, "annotation": ann,
               "task": {"id": task["id"]}}
    deleted = {"action": "ANNOTATIONS_DELETED", "project": {"id": project.ls_project_id},
               "annotations": [{"id": ann["id"]}]}
    bad_headers = [{}, {HEADER: ""}, {HEADER: "wrong"}, {HEADER: "the-right-secret-x"}, {HEADER: "THE-RIGHT-SECRET"}, {HEADER: "the-right-secre"},
                   {HEADER.lower() + "x": "the-right-secret"}, {"Authorization": "Token the-right-secret"}]
    for headers in bad_headers:
        answer = httpx.post(receiver, json=created, headers=headers, timeout=10)
        assert answer.status_code == 401 and HEADER in answer.json()["error"], headers
        assert "the-right-secret" not in answer.text
    assert _annotations(ls_store, project.id) == []  # refused before anything was scheduled

    assert httpx.post(receiver, json=created, headers={HEADER: "the-right-secret"}, timeout=10).status_code == 200
    wait_for(lambda: _annotations(ls_store, project.id), 15, "the good event stored")
    for headers in bad_headers:
        assert httpx.post(receiver, json=deleted, headers=headers, timeout=10).status_code == 401
    assert _annotations(ls_store, project.id) == [(ann["id"], 1, False, "a")]  # one revision, not deleted
