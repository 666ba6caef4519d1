"""The webhook receiver: an ASGI app Label Studio calls on annotation create, update and delete.

Label Studio (without Redis) sends the webhook inside the annotator's request and never retries, so
the endpoint checks the request (`annotation.webhook_guard`: secret or signature, size, JSON), answers
at once and stores in a background task; `pull` remains the reconciler. The same annotation arriving
here and by pull is one revision (same hash); a payload older than the newest stored revision (by Label
Studio's `updated_at`) is a replay and is not stored (`annotation.sync`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from annotation.client import LabelStudioClient
from annotation.config import LabelStudioConfig
from annotation.convert import spec_from_config
from annotation.secret_file import stored_secret
from annotation.sync import apply_tasks
from annotation.webhook_guard import SECRET_HEADER, Authenticator, Refused, parse_payload, read_limited
from storage.engine import session_scope
from storage.labels import mark_deleted_in_project, project_by_ls_id
from storage.base import utcnow

HEADER = SECRET_HEADER
_FIELDS = LabelStudioConfig.model_fields  # the defaults of [labelstudio] (no settings read at import)
ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]
log = logging.getLogger("annotation.webhook")


def webhook_secret(settings) -> str:
    """`[labelstudio] webhook_secret`, else one generated once into <data_dir>/labelstudio/ (0600)."""
    return stored_secret(Path(settings.data_dir), "webhook_secret", settings.labelstudio.webhook_secret)


def serve(app: Starlette, host: str, port: int):
    """A uvicorn server for `app` (call .run(), or run it in a thread and set .should_exit)."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


def register(client: LabelStudioClient, store, project, url: str, secret: str) -> int:
    """(Re)register the webhook of one project and record its id."""
    from storage.label_models import LabelingProject

    if project.webhook_id:
        client.delete_webhook(project.webhook_id)
    hook = client.create_webhook(project.ls_project_id, url, {HEADER: secret}, ACTIONS)
    with session_scope(store.sessions) as session:
        session.get(LabelingProject, project.id).webhook_id = hook["id"]
    return hook["id"]


def store_event(store, payload: dict[str, Any], users: dict[int, str]) -> dict[str, Any]:
    """Apply one webhook payload to the store; returns a small summary (also used by tests)."""
    action = payload.get("action")
    ls_project = (payload.get("project") or {}).get("id")
    with session_scope(store.sessions) as session:
        project = project_by_ls_id(session, ls_project) if ls_project is not None else None
        if project is None:
            return {"ignored": f"project {ls_project} is not a harvest project"}
        if action == "ANNOTATIONS_DELETED":
            ids = [int(a["id"]) for a in payload.get("annotations") or []]
            return {"deleted": mark_deleted_in_project(session, project.id, ids, utcnow())}
        if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            ann = payload["annotation"]
            task_id = ann.get("task") or (payload.get("task") or {}).get("id")
            spec = spec_from_config(project.label_config, (project.options or {}).get("label_map"))
            report = apply_tasks(session, project.id, spec, [{"id": task_id, "annotations": [ann]}],
                                 via="webhook", complete=False, users=users)
            if report.stale:
                log.warning("webhook %s for annotation %s ignored: older than the stored revision (replayed "
                            "or late)", action, ann.get("id"))
            return {"revisions": report.revisions, "invalid": report.invalid, "stale": report.stale}
    return {"ignored": f"action {action}"}


def create_app(store, secret: str, users: dict[int, str] | None = None,
               refresh_users: Callable[[], dict[int, str]] | None = None, *,
               max_bytes: int = _FIELDS["webhook_max_bytes"].default,
               window: float = _FIELDS["webhook_window_seconds"].default,
               signed_only: bool = _FIELDS["webhook_signed_only"].default) -> Starlette:
    """The ASGI app: POST /hook (secret header or signature, see `annotation.webhook_guard`), GET /health.

    `refresh_users` (e.g. a Label Studio user listing) is called when an annotator id is unknown. The
    limits are `[labelstudio] webhook_max_bytes`, `webhook_window_seconds` and `webhook_signed_only`.
    """
    limit = max_bytes
    auth = Authenticator(secret, window, signed_only)
    users = users if users is not None else {}

    def work(payload: dict[str, Any]) -> None:
        try:
            who = (payload.get("annotation") or {}).get("completed_by")
            if refresh_users is not None and isinstance(who, int) and who not in users:
                users.update(refresh_users())
            store_event(store, payload, users)
        except Exception:  # noqa: BLE001 - a lost event is re-read by the next pull
            log.exception("webhook event %s not stored; the next `harvest label pull` will pick it up",
                          payload.get("action"))

    async def hook(request: Request) -> JSONResponse:
        try:
            body = await read_limited(request.headers, request.stream(), limit)
            auth.check(request.headers, body)
            payload = parse_payload(body)
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"accepted": payload.get("action")}, background=BackgroundTask(work, payload))

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/health", health)])
