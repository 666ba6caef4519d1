"""pytest plugin: one real Label Studio server per test session (installed into its venv if missing).

Fixtures: `label_studio` (session: url, token, stop()/start() for crash tests), `ls_client`,
`ls_settings` / `ls_store` (harvest settings and store, on SQLite and PostgreSQL, using that server).
Set HARVEST_LS_VENV to reuse an installed server venv; the first install takes ~100 s.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from annotation import server
from annotation.server import free_port
from annotation.client import LabelStudioClient
from annotation.config import LabelStudioConfig
from annotation.errors import LabelError
from tests.services import missing


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    """Poll `condition` every 0.1 s until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout} s")


@dataclass
class LabelStudioHandle:
    data_dir: Path
    config: LabelStudioConfig
    state: server.ServerState

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def token(self) -> str:
        return self.state.token

    def stop(self) -> None:
        server.stop(self.data_dir)

    def start(self) -> None:
        self.state = server.start(self.data_dir, self.config)

    def client(self) -> LabelStudioClient:
        return LabelStudioClient(self.url, self.token)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory) -> LabelStudioHandle:
    root = tmp_path_factory.getbasetemp().resolve()  # document root: covers every test's tmp_path
    data_dir = tmp_path_factory.mktemp("label-studio")
    cfg = LabelStudioConfig(port=free_port(), document_root=root, start_timeout=240)
    try:
        server.ensure_venv(cfg.venv_path())
        state = server.start(data_dir, cfg)
    except (LabelError, OSError) as exc:
        missing("Label Studio", f"cannot install or start label-studio in {cfg.venv_path()}: {exc}")
    handle = LabelStudioHandle(data_dir, cfg, state)
    yield handle
    server.stop(data_dir)


@pytest.fixture
def ls_client(label_studio):
    client = label_studio.client()
    yield client
    client.close()


@pytest.fixture
def ls_settings(label_studio, tmp_path, db_url, monkeypatch):
    from tests.conftest import make_settings

    monkeypatch.chdir(tmp_path)
    return make_settings(tmp_path, db_url, labelstudio={
        "url": label_studio.url, "token": label_studio.token, "document_root": str(label_studio.config.document_root)})


@pytest.fixture
def ls_store(ls_settings):
    from harvest.store import open_store

    store = open_store(ls_settings)
    yield store
    store.close()
