"""Webhook: a real Label Studio delivering to our ASGI endpoint on 127.0.0.1; secret checked; idempotent with pull."""
from __future__ import annotations

import threading

import httpx
import pytest

from annotation import annotate, create_annotator, create_project, pull, push
from annotation.webhook import HEADER, create_app, register, serve
from storage.engine import session_scope
from storage.label_models import Annotation
from tests.annotation.conftest import add_images, serving
from tests.labelstudio import free_port, wait_for


pytestmark = pytest.mark.labelstudio


@pytest.fixture
def receiver(ls_store):
    calls: list[int] = []
    app = create_app(ls_store, "s3cret-value", users={})

    async def recording(scope, receive, send):  # remembers each answer's status code
        async def send_and_record(message):
            if message["type"] == "http.response.start":
                calls.append(message["status"])
            await send(message)

        await app(scope, receive, send_and_record)

    with serving(recording) as port:
        yield f"http://127.0.0.1:{port}/hook", calls


def rows(store, **where) -> list[Annotation]:
    with session_scope(store.sessions) as session:
        found = session.query(Annotation).filter_by(**where).order_by(Annotation.id).all()
        session.expunge_all()
        return found


def test_webhook_good_secret_stores_once_bad_secret_stores_nothing(ls_store, ls_client, receiver):
    url, calls = receiver
    ids = add_images(ls_store, [(80, 60), (80, 60)])
    good = create_project(ls_store, "hook-good", "image-classification", ["a", "b"])
    bad = create_project(ls_store, "hook-bad", "image-classification", ["a", "b"])
    push(ls_store, "hook-good")
    push(ls_store, "hook-bad")
    register(ls_client, ls_store, good, url, "s3cret-value")
    ls_client.create_webhook(bad.ls_project_id, url, {HEADER: "wrong"},
                             ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"])
    user = create_annotator(ls_store, "hook@example.com", "secret-pass-3")

    created = annotate(ls_store, "hook-good", f"asset:{ids[0]}", [{"type": "choice", "label": "b"}], user)
    [rev] = wait_for(lambda: rows(ls_store, ls_annotation_id=created["id"]))
    assert rev.received_via == "webhook" and rev.targets == [{"type": "choice", "label": "b"}]
    assert pull(ls_store, "hook-good").revisions == 0  # same annotation by pull: still one revision
    assert len(rows(ls_store, ls_annotation_id=created["id"])) == 1

    ls_client.update_annotation(created["id"], result=[{**created["result"][0], "value": {"choices": ["a"]}}])
    wait_for(lambda: len(rows(ls_store, ls_annotation_id=created["id"])) == 2)
    ls_client.delete_annotation(created["id"])
    wait_for(lambda: all(r.deleted_at for r in rows(ls_store, ls_annotation_id=created["id"])))

    other = annotate(ls_store, "hook-bad", f"asset:{ids[0]}", [{"type": "choice", "label": "a"}], user)
    marker = annotate(ls_store, "hook-good", f"asset:{ids[1]}", [{"type": "choice", "label": "a"}], user)
    wait_for(lambda: rows(ls_store, ls_annotation_id=marker["id"]))  # delivered after the bad one
    assert rows(ls_store, ls_annotation_id=other["id"]) == []
    assert calls.count(401) == 1 and calls.count(200) == 4  # LS did deliver the bad-secret event; refused


def test_webhook_refuses_missing_or_wrong_secret(receiver):
    url, _ = receiver
    payload = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 1}], "project": {"id": 1}}
    assert httpx.post(url, json=payload).status_code == 401
    assert httpx.post(url, json=payload, headers={HEADER: "nope"}).status_code == 401
    assert httpx.post(url, json=payload, headers={HEADER: "s3cret-value"}).status_code == 200


def test_webhook_answers_before_storing(monkeypatch):
    """Label Studio waits on the webhook inside the annotator's request: the answer must not wait on the DB."""
    import annotation.webhook as webhook

    release, done = threading.Event(), threading.Event()

    def slow_store(store, payload, users):
        release.wait(30)
        done.set()

    monkeypatch.setattr(webhook, "store_event", slow_store)
    port = free_port()
    server = serve(create_app(object(), "s3cret-value"), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 15)
        response = httpx.post(f"http://127.0.0.1:{port}/hook", json={"action": "ANNOTATION_CREATED"},
                              headers={HEADER: "s3cret-value"}, timeout=5)
        assert response.status_code == 200 and not done.is_set()  # answered while the store is still busy
        release.set()
        wait_for(done.is_set, 10)
    finally:
        release.set()
        server.should_exit = True
        thread.join(10)
