"""Tokens never reach logs or output; client error paths (MockTransport); config and server guards."""
from __future__ import annotations

import io
import json
import logging
import os
import socket
import stat

import httpx
import pytest

from annotation import server
from annotation.client import LabelStudioClient
from annotation.config import LabelStudioConfig
from annotation.errors import LabelStudioAPIError, LabelStudioUnavailable, ServerError
from annotation.redact import RedactingFilter, redact, register_secret

TOKEN = "tok-0123456789abcdef-secret"


def test_logging_filter_masks_tokens_and_auth_headers():
    register_secret(TOKEN)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("annotation.test-redact")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("calling with %s", TOKEN)
    logger.info("headers: {'Authorization': 'Token other-unregistered-value'}")
    text = stream.getvalue()
    assert TOKEN not in text and "other-unregistered-value" not in text and text.count("***") == 2
    assert redact(f"Authorization: Bearer {TOKEN}") == "Authorization: Bearer ***"


def test_token_is_secret_in_config_client_and_state(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVEST_LABELSTUDIO_TOKEN", TOKEN)
    from harvest.settings import load_settings

    settings = load_settings(None, data_dir=tmp_path)
    assert settings.labelstudio.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.labelstudio)
    assert TOKEN not in repr(LabelStudioClient("http://127.0.0.1:1", settings.labelstudio.token))
    state = server.ServerState("http://127.0.0.1:1", TOKEN, 1, 1, "127.0.0.1", "a@b", "pw", "/x", "/y")
    path = server.write_state(tmp_path, state)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert TOKEN not in str(state.public()) and "pw" not in state.public().values()
    assert server.read_state(tmp_path).token == TOKEN


def mock_client(handler, token: str = TOKEN) -> LabelStudioClient:
    return LabelStudioClient("http://ls.test", token, http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_client_error_paths():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.url.path == "/api/current-user/whoami":
            return httpx.Response(401, json={"detail": "legacy token authentication has been disabled"})
        if request.url.path == "/api/projects/1/import":
            return httpx.Response(201, json={"task_count": 2, "task_ids": [5]})
        return httpx.Response(500, text="boom")

    client = mock_client(handler)
    with pytest.raises(LabelStudioUnavailable, match="refused the token"):
        client.whoami()
    with pytest.raises(LabelStudioAPIError, match="expected that many task_ids"):
        client.import_tasks(1, [{"data": {}}, {"data": {}}])
    with pytest.raises(LabelStudioAPIError, match="500") as info:
        client.get_project(1)
    assert info.value.status == 500 and seen[0] == f"Token {TOKEN}"

    def down(request):
        raise httpx.ConnectError("refused")

    with pytest.raises(LabelStudioUnavailable, match="harvest label server start"):
        mock_client(down).get_project(1)


def test_task_pages_stop_at_total():
    pages = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        pages.append(page)
        tasks = [{"id": page * 10 + i} for i in range(2 if page < 3 else 1)]
        return httpx.Response(200, json={"tasks": tasks, "total": 5})

    assert [t["id"] for t in mock_client(handler).iter_tasks(1, page_size=2)] == [10, 11, 20, 21, 30]
    assert pages == [1, 2, 3]


def test_busy_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            server.start(tmp_path, LabelStudioConfig(port=port, venv=tmp_path / "no-venv"))
    assert not (tmp_path / "no-venv").exists()


def test_server_env_is_offline_and_drops_stray_names(monkeypatch):
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("LABEL_STUDIO_PORT", "9998")
    state = server.ServerState("u", TOKEN, None, 1, "127.0.0.1", "a@b", "pw", "/data", "/root")
    env = server.server_env(state)
    assert "PORT" not in env and "HOST" not in env and "LABEL_STUDIO_PORT" not in env
    assert env["SENTRY_DSN"] == "" and env["LATEST_VERSION_CHECK"] == "false" and env["COLLECT_ANALYTICS"] == "false"
    assert env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true" and env["LOCAL_FILES_DOCUMENT_ROOT"] == "/root"


def test_images_outside_the_document_root_are_refused(tmp_path):
    from annotation.errors import MediaError
    from annotation.media import publish

    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    data = tmp_path / "data"
    [rel] = publish([(str(blob), "ab" * 32, "image/png")], data, tmp_path)
    assert rel == f"data/ls-files/{'ab' * 32}.png" and (data / "ls-files" / f"{'ab' * 32}.png").read_bytes() == b"x"
    assert publish([(str(blob), "ab" * 32, "image/png")], data, tmp_path) == [rel]  # idempotent
    with pytest.raises(MediaError, match="LOCAL_FILES_DOCUMENT_ROOT"):
        publish([(str(blob), "cd" * 32, "image/png")], data, tmp_path / "elsewhere")


def test_personal_access_token_is_exchanged_and_renewed():
    pat = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2ln"
    sent, issued = [], iter(["access-1", "access-2"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token/refresh/":
            assert json.loads(request.content) == {"refresh": pat}
            return httpx.Response(200, json={"access": next(issued)})
        sent.append(request.headers["authorization"])
        return httpx.Response(401 if len(sent) == 2 else 200, json={"id": 7})

    client = mock_client(handler, pat)
    assert client.whoami() == {"id": 7} and client.whoami() == {"id": 7}  # the second renews once
    assert sent == ["Bearer access-1", "Bearer access-1", "Bearer access-2"]
    assert redact("Bearer access-2") == "Bearer ***" and pat not in redact(f"refresh={pat}")
