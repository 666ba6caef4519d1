"""The Label Studio seam: a small typed client over an injected `httpx.Client`.

Everything harvest asks of Label Studio goes through here, so unit tests can swap the transport
(`httpx.MockTransport`) and integration tests talk to a real server. Bulk operations only: tasks
and predictions go in one import request per batch.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from annotation.errors import LabelStudioAPIError, LabelStudioUnavailable
from annotation.redact import register_secret


def iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def updated_since_query(since: datetime) -> str:
    """The data-manager filter for tasks whose `updated_at` is after `since` (annotations bump it)."""
    item = {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime", "value": iso_z(since)}
    return json.dumps({"filters": {"conjunction": "and", "items": [item]}})


class LabelStudioClient:
    """Calls Label Studio's REST API with a legacy token (`Authorization: Token …`) or a Personal
    Access Token (a JWT refresh token, exchanged for 5-minute `Bearer` access tokens as needed)."""

    def __init__(self, url: str, token: SecretStr | str, *, http: httpx.Client | None = None,
                 timeout: float = 120.0) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        register_secret(secret)
        self.url = url.rstrip("/")
        # Connection: close avoids Django runserver's ~40 ms keep-alive stall per request.
        self.http = http or httpx.Client(timeout=timeout)
        self._pat = secret if secret.count(".") == 2 and secret.startswith("eyJ") else None
        self._headers = {"Authorization": f"Token {secret}", "Connection": "close"}
        self.last_date: datetime | None = None  # the server's clock (Date header) at the last response

    def _bearer(self) -> None:
        """Exchange the Personal Access Token for a fresh access token."""
        try:
            response = self.http.post(f"{self.url}/api/token/refresh/", json={"refresh": self._pat},
                                      headers={"Connection": "close"})
        except httpx.TransportError as exc:
            raise LabelStudioUnavailable(f"cannot reach Label Studio at {self.url} ({exc}).") from None
        if response.status_code != 200:
            raise LabelStudioUnavailable(f"Label Studio at {self.url} refused the personal access token "
                                         f"({response.status_code}); create a new one for this user.")
        access = response.json()["access"]
        register_secret(access)
        self._headers["Authorization"] = f"Bearer {access}"

    def __repr__(self) -> str:
        return f"LabelStudioClient({self.url!r}, token=***)"

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and self._pat:  # the 5-minute access token expired: renew once
            self._bearer()
            response = self._send(method, path, **kwargs)
        return self._answer(method, path, response, ok)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._pat and not self._headers["Authorization"].startswith("Bearer"):
            self._bearer()
        try:
            response = self.http.request(method, f"{self.url}{path}", headers=self._headers, **kwargs)
        except httpx.TransportError as exc:
            raise LabelStudioUnavailable(
                f"cannot reach Label Studio at {self.url} ({type(exc).__name__}: {exc}). "
                "Start it with `harvest label server start` or fix [labelstudio] url."
            ) from None
        if "date" in response.headers:
            try:
                self.last_date = parsedate_to_datetime(response.headers["date"])
            except (TypeError, ValueError):
                pass
        return response

    def _answer(self, method: str, path: str, response: httpx.Response, ok: tuple[int, ...]) -> Any:
        if response.status_code == 401:
            raise LabelStudioUnavailable(
                f"Label Studio at {self.url} refused the token (401). Set HARVEST_LABELSTUDIO_TOKEN to an "
                "account's legacy token, and make sure legacy tokens are enabled for the organisation."
            )
        if response.status_code not in ok:
            raise LabelStudioAPIError(
                f"Label Studio {method} {path} answered {response.status_code}: {response.text[:500]}",
                response.status_code,
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- users and projects ---
    def whoami(self) -> dict[str, Any]:
        return self.request("GET", "/api/current-user/whoami")

    def list_users(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/users/")

    def create_project(self, title: str, label_config: str, **fields: Any) -> dict[str, Any]:
        return self.request("POST", "/api/projects/", json={"title": title, "label_config": label_config, **fields})

    def get_project(self, project_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/projects/{project_id}")

    def create_local_storage(self, project_id: int, path: str, title: str = "harvest blobs") -> dict[str, Any]:
        body = {"project": project_id, "path": path, "title": title, "use_blob_urls": True,
                "regex_filter": r"^$"}  # never sync files into tasks; the storage only grants read access
        return self.request("POST", "/api/storages/localfiles/", json=body)

    def create_webhook(self, project_id: int, url: str, headers: dict[str, str], actions: list[str]) -> dict[str, Any]:
        body = {"project": project_id, "url": url, "send_payload": True, "send_for_all_actions": False,
                "headers": headers, "actions": actions, "is_active": True}
        return self.request("POST", "/api/webhooks/", json=body)

    # --- tasks ---
    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """One bulk import request; returns the new task ids in request order."""
        body = self.request("POST", f"/api/projects/{project_id}/import", params={"return_task_ids": "true"},
                            json=tasks)
        ids = body.get("task_ids") if isinstance(body, dict) else None
        if ids is None or len(ids) != len(tasks):
            raise LabelStudioAPIError(f"import of {len(tasks)} tasks returned {body!r}; expected that many task_ids")
        return list(ids)

    def iter_tasks(self, project_id: int, *, query: str | None = None, fields: str = "all",
                   page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every task of the project (optionally filtered), page by page; stops at `total`."""
        page, seen = 1, 0
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page, "page_size": page_size, "fields": fields}
            if query:
                params["query"] = query
            body = self.request("GET", "/api/tasks/", params=params, ok=(200, 404))
            if body is None or "tasks" not in body:
                return
            yield from body["tasks"]
            seen += len(body["tasks"])
            if not body["tasks"] or seen >= body.get("total", 0):
                return
            page += 1

    def tasks_updated_since(self, project_id: int, since: datetime | None) -> Iterator[dict[str, Any]]:
        query = updated_since_query(since) if since else None
        return self.iter_tasks(project_id, query=query, fields="all", page_size=200)

    def get_task(self, task_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/tasks/{task_id}")

    def export_json(self, project_id: int, export_type: str = "JSON") -> Any:
        """A full synchronous export of every task (the baseline harvest's incremental pull beats)."""
        response = self.http.get(f"{self.url}/api/projects/{project_id}/export", headers=self._headers,
                                 params={"exportType": export_type, "download_all_tasks": "true"})
        if response.status_code != 200:
            raise LabelStudioAPIError(f"export {export_type} answered {response.status_code}: {response.text[:300]}",
                                      response.status_code)
        return response.json() if export_type.startswith("JSON") else response.content

    def export_tasks(self, project_id: int, ids: list[int], *, annotated_only: bool = False) -> list[dict[str, Any]]:
        """These tasks (at most ~990: Django's query-field limit) with their annotations, by Label Studio's
        JSON export (with `annotated_only`, those that have at least one); tasks it does not hold are absent."""
        params = [("exportType", "JSON"), ("download_all_tasks", "false" if annotated_only else "true")]
        params += [("ids[]", str(i)) for i in ids]
        body = self.request("GET", f"/api/projects/{project_id}/export", params=params)
        return body or []

    def create_prediction(self, task_id: int, result: list[dict[str, Any]], model_version: str,
                          score: float | None = None) -> dict[str, Any]:
        """One prediction on an existing task (shown to whoever opens it, e.g. a reviewer)."""
        body = {"task": task_id, "result": result, "model_version": model_version}
        if score is not None:
            body["score"] = score
        return self.request("POST", "/api/predictions/", json=body)

    # --- annotations (one by one; for annotator simulation and tests) ---
    def create_annotation(self, task_id: int, result: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return self.request("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result, **fields})

    def update_annotation(self, annotation_id: int, **fields: Any) -> dict[str, Any]:
        return self.request("PATCH", f"/api/annotations/{annotation_id}/", json=fields)

    def delete_annotation(self, annotation_id: int) -> None:
        self.request("DELETE", f"/api/annotations/{annotation_id}/")

    def delete_webhook(self, webhook_id: int) -> None:
        self.request("DELETE", f"/api/webhooks/{webhook_id}/", ok=(200, 204, 404))
