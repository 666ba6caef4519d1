"""Annotator helpers for demos and tests: create users and write annotations from internal targets.

OSS Label Studio has no roles and no endpoint that hands out another user's token. Two ways:
`create_annotator` (admin API) + `annotate(..., annotator_id)` writes with the admin token and sets
`completed_by`; `annotator_client` signs the user up through Label Studio's own form and creates
their Personal Access Token, so writes are made by that user. One request per annotation either
way (OSS has no bulk annotation API; ~15 writes/s).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from annotation.client import LabelStudioClient
from annotation.connect import client_for
from annotation.convert import spec_from_config, targets_to_results
from annotation.errors import LabelError
from annotation.projects import load_project
from storage.engine import session_scope
from storage.collect_models import Asset
from storage.label_models import Task


def create_annotator(store, email: str, password: str, client: LabelStudioClient | None = None) -> int:
    """Find or create a Label Studio user who can log in with `password`; return its id.

    Users are created through Label Studio's sign-up form: its users API ignores passwords.
    """
    own = client is None
    client = client or client_for(store.settings)
    try:
        users = client.list_users()
        users = users.get("results", users) if isinstance(users, dict) else users
        for user in users:
            if user.get("email") == email:
                return user["id"]
        with _signed_in(client.url, email, password) as (_, me):
            return me["id"]
    finally:
        if own:
            client.close()


@contextmanager
def _signed_in(url: str, email: str, password: str) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """A web session of `email`: signed up through the form if new, else logged in."""
    with httpx.Client(base_url=url.rstrip("/"), timeout=60, headers={"Referer": url.rstrip("/") + "/"}) as web:
        form = {"email": email, "password": password}
        web.get("/user/signup/")
        web.post("/user/signup/", data={**form, "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")})
        me = web.get("/api/current-user/whoami")
        if me.status_code != 200:  # already signed up: log in instead
            web.get("/user/login/")
            web.post("/user/login/", data={**form, "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")})
            me = web.get("/api/current-user/whoami")
        if me.status_code != 200:
            raise LabelError(f"cannot sign in to {url} as {email} (HTTP {me.status_code}); check the password, and "
                             "that sign-up is allowed on this server.")
        yield web, me.json()


def annotator_client(url: str, email: str, password: str) -> tuple[int, LabelStudioClient]:
    """(user id, a client acting as that user): sign up (or log in) via the web forms, then create a PAT."""
    with _signed_in(url, email, password) as (web, me):
        made = web.post("/api/token/", headers={"X-CSRFToken": web.cookies.get("csrftoken", "")})
        if made.status_code == 409:
            raise LabelError(f"{email} already has a personal access token and Label Studio allows one; "
                             "use the stored one, or revoke it in Account & Settings.")
        if made.status_code not in (200, 201):
            raise LabelError(f"creating a personal access token for {email} failed: HTTP {made.status_code}")
        return me["id"], LabelStudioClient(url, made.json()["token"])


def annotate(store, project_name: str, sample_key: str, targets: list[dict[str, Any]], annotator_id: int, *,
             lead_time: float | None = None, client: LabelStudioClient | None = None) -> dict[str, Any]:
    """Write one annotation (internal targets) on a pushed sample as `annotator_id`; returns LS's answer."""
    project = load_project(store, project_name)
    spec = spec_from_config(project.label_config)
    with session_scope(store.sessions) as session:
        task = session.query(Task).filter_by(project_id=project.id, sample_key=sample_key).one_or_none()
        if task is None or task.ls_task_id is None:
            raise LabelError(f"sample {sample_key} is not pushed to project {project_name!r}; run push first.")
        asset = session.get(Asset, task.asset_id) if task.asset_id else None
        ls_task_id = task.ls_task_id
        size = (asset.width, asset.height) if asset else (None, None)
    result = targets_to_results(targets, spec, *size)
    own = client is None
    client = client or client_for(store.settings)
    try:
        return client.create_annotation(ls_task_id, result, completed_by=annotator_id, lead_time=lead_time)
    finally:
        if own:
            client.close()
