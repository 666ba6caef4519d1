"""Every file holding a secret is readable by its owner only: `harvest demo` with its own Label Studio
server (started in the data dir), then every file under the data dir is searched for the secrets (API
token, admin password, webhook and media secrets) and each one that holds any must be 0600 inside a
0700 directory; Label Studio's whole folder (its SQLite database among them) is 0700/0600."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from annotation import server
from annotation.config import LabelStudioConfig
from annotation.media import media_secret
from annotation.webhook import webhook_secret
from harvest.settings import load_settings
from tests.labelstudio import free_port
from tests.services import missing

pytestmark = pytest.mark.labelstudio


def _private_path(path: Path, top: Path) -> bool:
    """No one but the owner can reach `path`: some directory between `top` and it is 0700."""
    return any(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in path.parents if p.is_relative_to(top) and p != top)


def test_demo_leaves_every_secret_owner_only(tmp_path):
    try:
        server.ensure_venv(LabelStudioConfig().venv_path())
    except Exception as exc:  # noqa: BLE001
        missing("Label Studio", str(exc))
    data = tmp_path / "harvest-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_") or k.startswith("HARVEST_TEST")}
    env.update(HARVEST_LABELSTUDIO__PORT=str(free_port()), HARVEST_LABELSTUDIO__START_TIMEOUT="300",
               HARVEST_CRAWL__DEMO_URL=f"http://127.0.0.1:{free_port()}/")
    try:
        done = subprocess.run([sys.executable, "-m", "harvest", "demo"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=1200)
    finally:
        server.stop(data)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    ls = data / "labelstudio"
    state = json.loads((ls / "state.json").read_text())
    settings = load_settings(None, data_dir=data)  # the webhook and media secrets, as `harvest label` makes them
    secrets = {"token": state["token"], "admin password": state["admin_password"],
               "webhook secret": webhook_secret(settings), "media secret": media_secret(settings)}
    holders: dict[Path, list[str]] = {}
    for path in data.rglob("*"):
        if path.is_file() and not path.is_symlink():
            body = path.read_bytes()
            found = [name for name, value in secrets.items() if value.encode() in body]
            if found:
                holders[path] = found
    databases = [p for p in holders if p.suffix == ".sqlite3"]
    assert databases and "token" in holders[databases[0]]  # Label Studio's database does hold the token
    assert ls / "state.json" in holders and ls / "webhook_secret" in holders
    loose = {str(p.relative_to(data)): (oct(stat.S_IMODE(p.stat().st_mode)), names)
             for p, names in holders.items()
             if stat.S_IMODE(p.stat().st_mode) & 0o077 or not _private_path(p, data)}
    assert loose == {}

    # Label Studio's folder as a whole: directories 0700, files owner-only
    for path in [ls, *ls.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode & 0o077 == 0, (path, oct(mode))
    # crawl logs (they may quote URLs with tokens in them) are the owner's only too
    logs = list((data / "runs").glob("*/scrapy.log"))
    assert logs and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in logs)
    assert all(stat.S_IMODE(p.parent.stat().st_mode) == 0o700 for p in logs)
