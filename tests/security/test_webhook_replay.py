"""A replayed webhook never reverts an annotation (real Label Studio): the payloads Label Studio sent are
recorded at the receiver and sent again later with the right secret; the newest revision stays Label
Studio's newest state, incremental and full pulls agree, and a replay after a deletion does not revive it."""
from __future__ import annotations

import logging

import httpx
import pytest

from annotation import annotate, create_annotator, create_project, pull, push
from annotation.webhook import HEADER, create_app, register
from storage.engine import session_scope
from storage.label_models import Annotation
from tests.annotation.conftest import add_images, serving
from tests.labelstudio import wait_for

pytestmark = pytest.mark.labelstudio
SECRET = "replay-secret-77"


@pytest.fixture
def recorder(ls_store):
    """The webhook app on a free port, keeping every body Label Studio delivered."""
    app = create_app(ls_store, SECRET, users={})
    bodies: list[bytes] = []

    async def recording(scope, receive, send):
        chunks: list[bytes] = []

        async def keep():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    bodies.append(b"".join(chunks))
            return message

        await app(scope, keep, send)

    with serving(recording) as port:
        yield f"http://127.0.0.1:{port}/hook", bodies


def revisions(store, ls_id: int) -> list[Annotation]:
    with session_scope(store.sessions) as session:
        found = session.query(Annotation).filter_by(ls_annotation_id=ls_id).order_by(Annotation.revision).all()
        session.expunge_all()
        return found


def test_replayed_webhook_never_becomes_the_newest_revision(ls_store, ls_client, recorder, caplog):
    url, bodies = recorder
    (asset,) = add_images(ls_store, [(80, 60)])
    project = create_project(ls_store, "replay", "image-classification", ["old", "new"])
    push(ls_store, "replay")
    register(ls_client, ls_store, project, url, SECRET)
    user = create_annotator(ls_store, "replay@example.com", "secret-pass-9")

    created = annotate(ls_store, "replay", f"asset:{asset}", [{"type": "choice", "label": "old"}], user)
    wait_for(lambda: len(revisions(ls_store, created["id"])) == 1, what="the created revision")
    ls_client.update_annotation(created["id"], result=[{**created["result"][0], "value": {"choices": ["new"]}}])
    wait_for(lambda: len(revisions(ls_store, created["id"])) == 2, what="the updated revision")
    assert len(bodies) == 2
    old_body, new_body = bodies

    caplog.set_level(logging.WARNING, logger="annotation.webhook")
    replay = httpx.post(url, content=old_body, headers={HEADER: SECRET, "Content-Type": "application/json"})
    assert replay.status_code == 200
    wait_for(lambda: "older than the stored revision" in caplog.text, what="the replay to be judged stale")
    revs = revisions(ls_store, created["id"])
    assert len(revs) == 2 and revs[-1].targets == [{"type": "choice", "label": "new"}]

    # incremental and full pulls see Label Studio's newest state, which is already the newest revision
    assert pull(ls_store, "replay").revisions == 0
    assert pull(ls_store, "replay", full=True).revisions == 0
    revs = revisions(ls_store, created["id"])
    assert len(revs) == 2 and revs[-1].targets == [{"type": "choice", "label": "new"}]

    # deleted in Label Studio: a replay of its last state does not bring it back
    ls_client.delete_annotation(created["id"])
    wait_for(lambda: all(r.deleted_at for r in revisions(ls_store, created["id"])), what="the deletion")
    caplog.clear()
    for body in (new_body, old_body):
        assert httpx.post(url, content=body, headers={HEADER: SECRET, "Content-Type": "application/json"}).status_code == 200
    wait_for(lambda: caplog.text.count("older than the stored revision") == 2, what="both replays judged stale")
    revs = revisions(ls_store, created["id"])
    assert len(revs) == 2 and all(r.deleted_at for r in revs)
