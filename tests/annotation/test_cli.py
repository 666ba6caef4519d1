"""`harvest label …` end to end: its own server (start, status, stop), project, push, pull, agreement, webhook."""
from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
import sys

import httpx
import pytest

from annotation import annotate, consensus_targets, create_annotator
from annotation.config import LabelStudioConfig
from annotation.errors import LabelError
from annotation.server import ensure_venv, read_state
from tests.annotation.conftest import add_images
from tests.labelstudio import free_port, wait_for
from tests.services import missing


pytestmark = pytest.mark.labelstudio


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _revision(store, ls_annotation_id: int):
    from storage.engine import session_scope
    from storage.label_models import Annotation

    with session_scope(store.sessions) as session:
        row = session.query(Annotation).filter_by(ls_annotation_id=ls_annotation_id).first()
        if row is not None:
            session.expunge(row)
        return row


def run(env, *args, ok=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "harvest", *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if ok and proc.returncode != 0:
        raise AssertionError(f"harvest {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli_env(tmp_path):
    try:
        ensure_venv(LabelStudioConfig().venv_path())
    except LabelError as exc:
        missing("Label Studio", str(exc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_") or k in ("HARVEST_LS_VENV",
                                                                                       "HARVEST_REQUIRE_SERVICES")}
    env.update(HARVEST_DATA_DIR=str(tmp_path / "data"), HARVEST_LABELSTUDIO__PORT=str(free_port()),
               HARVEST_CONFIG=str(tmp_path / "none.toml"))
    run(env, "init")
    yield env
    run(env, "label", "server", "stop", ok=False)


def test_cli_server_project_push_pull_agreement(cli_env, tmp_path):
    env = cli_env
    started = run(env, "label", "server", "start")
    from harvest.settings import load_settings
    from harvest.store import open_store

    settings = load_settings(None, data_dir=tmp_path / "data")
    state = read_state(settings.data_dir)
    assert state.token not in started.stdout + started.stderr and "Label Studio is up" in started.stdout
    state_file = settings.data_dir / "labelstudio" / "state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes().decode()
    assert "label-studio" in cmdline and state.token not in cmdline and state.admin_password not in cmdline
    assert state.token not in (settings.data_dir / "labelstudio" / "server.log").read_text()
    assert run(env, "label", "server", "start").returncode == 0  # already running: reused
    status = run(env, "label", "server", "status").stdout
    assert "running: True" in status and state.token not in status

    store = open_store(settings)
    ids = add_images(store, [(64, 64)] * 3)
    run(env, "label", "project", "create", "cli-cls", "--template", "image-classification", "--labels", "cat,dog")
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({f"asset:{ids[0]}": [{"type": "choice", "label": "dog"}]}))
    out = run(env, "label", "push", "cli-cls", "--predictions", str(preds)).stdout
    assert "pushed 3 task(s)" in out and "1 prediction(s)" in out
    assert "pushed 0 task(s)" in run(env, "label", "push", "cli-cls").stdout

    u1 = create_annotator(store, "u1@example.com", "secret-pass-u1")
    u2 = create_annotator(store, "u2@example.com", "secret-pass-u2")
    for asset, (l1, l2) in zip(ids, [("cat", "cat"), ("dog", "cat"), ("dog", "dog")]):
        annotate(store, "cli-cls", f"asset:{asset}", [{"type": "choice", "label": l1}], u1)
        annotate(store, "cli-cls", f"asset:{asset}", [{"type": "choice", "label": l2}], u2)
    assert "6 new revision(s)" in run(env, "label", "pull", "cli-cls").stdout
    table = run(env, "label", "agreement", "cli-cls").stdout
    assert "cohen kappa" in table and "0.400" in table and f"review asset:{ids[1]}" in table
    consensus = consensus_targets(store, "cli-cls")
    assert consensus == {f"asset:{ids[0]}": [{"type": "choice", "label": "cat"}], f"asset:{ids[1]}": [],
                         f"asset:{ids[2]}": [{"type": "choice", "label": "dog"}]}

    hook_port = free_port()
    hook = subprocess.Popen([sys.executable, "-m", "harvest", "label", "webhook", "--port", str(hook_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: hook.poll() is not None or _up(f"http://127.0.0.1:{hook_port}/health"), 60, "webhook up")
        assert hook.poll() is None, hook.stdout.read()
        late = annotate(store, "cli-cls", f"asset:{ids[0]}", [{"type": "choice", "label": "dog"}], u1)
        revision = wait_for(lambda: _revision(store, late["id"]), 30, "webhook stored the annotation")
        assert revision.received_via == "webhook"
    finally:
        hook.terminate()
        output = hook.communicate(timeout=30)[0]
    assert state.token not in output
    store.close()

    bad = run(env, "label", "push", "no-such-project", ok=False)
    assert bad.returncode == 2 and "no labeling project named 'no-such-project'" in bad.stderr
    assert "stopped" in run(env, "label", "server", "stop").stdout
    assert "running: False" in run(env, "label", "server", "status").stdout
