"""Tokens never in logs: the label CLI run with DEBUG logging (successes and failures), the Label Studio
server's own log and command line, and the files harvest writes never show the API token or admin password."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from annotation import annotate, create_annotator
from annotation.server import free_port, state_dir
from harvest.store import open_store
from tests.annotation.conftest import add_images
from tests.conftest import make_settings
from tests.reliability.helpers import REPO

pytestmark = pytest.mark.labelstudio

# the harvest CLI with every logger at DEBUG, on stderr
DEBUG_CLI = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
             "from harvest.cli import main; main(sys.argv[1:])")
WRONG_TOKEN = "wrong-token-5f1c9a7e2b8d4c60"


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DEBUG_CLI, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def _env(settings, url: str, token: str, document_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVEST_", "SCRAPY_"))}
    env.update(HARVEST_DATA_DIR=str(settings.data_dir), HARVEST_DATABASE_URL=settings.database_url,
               HARVEST_LABELSTUDIO__URL=url, HARVEST_LABELSTUDIO__TOKEN=token,
               HARVEST_LABELSTUDIO__DOCUMENT_ROOT=str(document_root), PYTHONPATH=str(REPO))
    return env


def test_tokens_and_passwords_never_in_logs_output_or_files(label_studio, sqlite_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = label_studio.config.document_root
    settings = make_settings(tmp_path, sqlite_url, labelstudio={
        "url": label_studio.url, "token": label_studio.token, "document_root": str(root)})
    store = open_store(settings)
    add_images(store, [(40, 30)] * 3)
    secrets = {"API token": label_studio.token, "admin password": label_studio.state.admin_password}
    assert all(len(v) >= 12 for v in secrets.values())
    env = _env(settings, label_studio.url, label_studio.token, root)

    runs = {"create": _cli(env, tmp_path, "label", "project", "create", "secret-proj", "-t", "image-classification",
                           "-l", "a,b"),
            "push": _cli(env, tmp_path, "label", "push", "secret-proj")}
    assert runs["create"].returncode == 0 and runs["push"].returncode == 0, runs["push"].stderr[-3000:]
    user = create_annotator(store, "secret-check@example.com", "secret-pass-7")
    with store.sessions() as s:
        from storage.label_models import Task

        key = s.query(Task.sample_key).first()[0]
    annotate(store, "secret-proj", key, [{"type": "choice", "label": "a"}], user)
    runs["pull"] = _cli(env, tmp_path, "label", "pull", "secret-proj")
    runs["pull-full"] = _cli(env, tmp_path, "label", "pull", "secret-proj", "--full")
    runs["agreement"] = _cli(env, tmp_path, "label", "agreement", "secret-proj")
    assert "1 new revision" in runs["pull"].stdout, runs["pull"].stderr[-3000:]
    # the error paths: an unknown project, an unreachable server, a refused token
    runs["unknown"] = _cli(env, tmp_path, "label", "pull", "no-such-project")
    runs["down"] = _cli({**env, "HARVEST_LABELSTUDIO__URL": f"http://127.0.0.1:{free_port()}"}, tmp_path,
                        "label", "push", "secret-proj")
    runs["refused"] = _cli({**env, "HARVEST_LABELSTUDIO__TOKEN": WRONG_TOKEN}, tmp_path, "label", "pull", "secret-proj")
    for name in ("unknown", "down", "refused"):
        assert runs[name].returncode == 2, (name, runs[name].stderr[-2000:])
    assert "DEBUG" in runs["push"].stderr  # DEBUG records were really captured

    for name, proc in runs.items():
        for what, value in secrets.items():
            assert value not in proc.stdout + proc.stderr, f"the {what} appears in the output of `{name}`"
    assert WRONG_TOKEN not in runs["refused"].stdout + runs["refused"].stderr, "a refused token was echoed"

    # the Label Studio server: its log, its command line; harvest's state files are owner-only
    folder = state_dir(label_studio.data_dir)
    log = (folder / "server.log").read_text(errors="replace")
    cmdline = Path(f"/proc/{label_studio.state.pid}/cmdline").read_bytes().decode(errors="replace")
    for what, value in secrets.items():
        assert value not in log, f"the {what} is in Label Studio's server.log"
        assert value not in cmdline, f"the {what} is on Label Studio's command line (visible to `ps`)"
    for path in folder.iterdir():
        if path.is_file() and path.name != "server.log":
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"

    # every file harvest itself wrote (database, blobs, published images, logs) is free of the secrets
    store.close()
    for path in [p for p in Path(settings.data_dir).rglob("*") if p.is_file()] + [Path(sqlite_url[10:])]:
        data = path.read_bytes()
        for what, value in secrets.items():
            assert value.encode() not in data, f"the {what} is stored in {path}"


def test_label_studio_session_cookies_never_in_debug_logs(label_studio, sqlite_url, tmp_path, monkeypatch):
    import re

    monkeypatch.chdir(tmp_path)
    settings = make_settings(tmp_path, sqlite_url)
    env = _env(settings, label_studio.url, label_studio.token, label_studio.config.document_root)
    proc = _cli(env, tmp_path, "label", "project", "create", "cookie-proj", "-t", "image-classification", "-l", "a")
    assert proc.returncode == 0, proc.stderr[-2000:]
    leaked = re.findall(r"sessionid=(?!\*\*\*)[^;'\"\s]+", proc.stdout + proc.stderr)
    assert not leaked, f"{len(leaked)} Label Studio session cookie(s) in the DEBUG log"
