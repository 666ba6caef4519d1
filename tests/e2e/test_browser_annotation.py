"""A real annotator in a real browser: chromium logs into Label Studio as a non-admin user, draws a box
on a task harvest pushed and submits; the box arrives in harvest by webhook, then pull adds nothing,
and it is stored in image pixels matching what was dragged on screen (within 2 px)."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from annotation import create_annotator, create_project, pull, push
from annotation.webhook import register
from storage.engine import session_scope
from storage.label_models import Task
from tests.annotation.conftest import add_images
from tests.annotation.test_webhook import rows, wait_for
from tests.e2e.browser import (IMAGE, REGION, STAGE, SUBMIT, Box, drag, open_task, settled_box, submit_form, to_pixels,
                               to_screen)

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

SIZE = (640, 480)  # the pushed image, in pixels
AIM = ((150, 120), (420, 300))  # image pixels the annotator aims the drag at
PASSWORD = "Draw-a-box-7391"


def test_annotator_draws_a_box_that_reaches_harvest_in_pixels(e2e_store, label_studio, hook, new_page):
    [asset] = add_images(e2e_store, [SIZE])
    project = create_project(e2e_store, "e2e-browser", "object-detection", ["ball", "crate"])
    assert push(e2e_store, "e2e-browser").imported == 1
    with session_scope(e2e_store.sessions) as session:
        task_id = session.query(Task).filter_by(project_id=project.id, sample_key=f"asset:{asset}").one().ls_task_id
    admin = label_studio.client()
    register(admin, e2e_store, project, hook.url, hook.secret)

    # the annotator joins through the organisation's invite link, as a real one does ...
    email = f"annotator-{uuid.uuid4().hex[:8]}@example.com"
    submit_form(new_page(), label_studio.url + admin.request("GET", "/api/invite")["invite_url"], email, PASSWORD)
    annotator_id = create_annotator(e2e_store, email, PASSWORD, client=admin)
    # ... and logs in from a fresh browser: a user of its own, not the admin whose token harvest uses
    page = new_page()
    submit_form(page, f"{label_studio.url}/user/login/", email, PASSWORD)
    me = page.request.get(f"{label_studio.url}/api/current-user/whoami").json()
    assert me["email"] == email and me["id"] == annotator_id != admin.whoami()["id"]

    open_task(page, label_studio.url, project.ls_project_id, task_id)
    assert page.evaluate(f"() => {{ const e = document.querySelector('{IMAGE}'); "
                         "return [e.naturalWidth, e.naturalHeight]; }") == list(SIZE)
    image, stage = settled_box(page, IMAGE), Box.of(page.locator(STAGE).first)
    start, end = [tuple(round(v) for v in to_screen(image, SIZE, *p)) for p in AIM]  # whole screen pixels
    assert stage.contains(*start) and stage.contains(*end), f"drag {start}->{end} leaves the canvas {stage}"
    page.locator(".lsf-label", has_text="ball").click()
    drag(page, start, end)
    expect(page.locator(REGION, has_text="ball")).to_have_count(1)  # one region, in the regions panel
    with page.expect_response(lambda r: r.request.method == "POST"
                              and f"/api/tasks/{task_id}/annotations" in r.url) as posted:
        page.locator(SUBMIT).click()
    assert posted.value.status == 201, posted.value.text()
    ls_annotation = posted.value.json()
    expected = [*to_pixels(image, SIZE, *start), *to_pixels(image, SIZE, *end)]

    # by webhook: sent inside the submit request, stored by the receiver's background task
    [rev] = wait_for(lambda: rows(e2e_store, ls_annotation_id=ls_annotation["id"]), timeout=30)
    assert rev.received_via == "webhook" and rev.valid and rev.problems == []
    assert (rev.annotator, rev.annotator_id) == (email, annotator_id)
    [target] = rev.targets
    assert (target["type"], target["label"]) == ("bbox", "ball")
    drawn = [target[k] for k in ("x_min", "y_min", "x_max", "y_max")]
    assert drawn == pytest.approx(expected, abs=2), f"stored {drawn}, dragged {expected} (screen {start}->{end})"

    # by pull: the same annotation, so the same single revision with the same pixels
    report = pull(e2e_store, "e2e-browser")
    assert (report.tasks, report.revisions, report.unchanged, report.invalid) == (1, 0, 1, [])
    [again] = rows(e2e_store, ls_annotation_id=ls_annotation["id"])
    assert (again.id, again.revision, again.targets, again.annotator) == (rev.id, 1, rev.targets, email)
    [held] = admin.get_task(task_id)["annotations"]
    assert held["completed_by"]["id"] == annotator_id and held["result"] == again.result
    admin.close()
