"""One store with the demo's v1 (every target type), exported once per format for the whole session,
and the consumer matrix (format x consumer -> loads, counts match) printed at the end of the run."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.consumers import venvs
from tests.services import missing

MATRIX: dict[tuple[str, str], str] = {}


def record(fmt: str, consumer: str, outcome: str) -> None:
    MATRIX[(fmt, consumer)] = outcome


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """(store, truth): the demo's images and ground truth as project `demo`, frozen as v1 with the policy."""
    from harvest.store import open_store
    from storage.migrate import upgrade
    from tests.conftest import make_settings
    from tests.consumers import demo_version

    tmp = tmp_path_factory.mktemp("consumers")
    url = f"sqlite:///{tmp / 'harvest.db'}"
    upgrade(url)
    store = open_store(make_settings(tmp, url))
    truth = demo_version.build(store)
    demo_version.freeze(store, truth)
    yield store, truth, tmp
    store.close()


@pytest.fixture(scope="session")
def exported(demo):
    """format name -> export directory of v1 (written once per session, on first use)."""
    from export import export_version

    store, _, tmp = demo
    cache: dict[str, Path] = {}

    def get(fmt: str) -> Path:
        if fmt not in cache:
            cache[fmt] = export_version(store, "v1", fmt, tmp / "exports" / fmt).path
        return cache[fmt]

    return get


def manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def run_in(venv: str, script: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """Run tests/consumers/scripts/<script> in the consumer's own venv; its last stdout line is JSON.

    Fails with the consumer's stderr, and fails on any warning it printed (the scripts turn warnings
    into output lines starting with 'WARNING')."""
    try:
        python = venvs.ensure(venv)
    except subprocess.CalledProcessError as exc:  # no package index here: skip locally, fail in CI
        missing(f"the {venv} consumer environment", f"pip could not build it ({exc}); run `make consumers`")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update({"YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "default"})
    proc = subprocess.run([str(python), str(Path(__file__).parent / "scripts" / script), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} failed in the {venv} venv:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not MATRIX:
        return
    formats = sorted({f for f, _ in MATRIX})
    terminalreporter.write_line("consumer matrix (format x consumer -> loads, counts match):")
    for fmt in formats:
        cells = [f"{c}: {o}" for (f, c), o in sorted(MATRIX.items()) if f == fmt]
        terminalreporter.write_line(f"  {fmt:12s} " + "; ".join(cells))


def yolo_truth(truth, kind: str) -> dict[str, dict[str, int]]:
    """Instances per split of the originals a YOLO task holds (hand-derived from the ground truth)."""
    wanted = {"detect": "bbox", "segment": "polygon", "obb": "bbox", "pose": "bbox"}[kind]
    out: dict[str, dict[str, int]] = {}
    for s in truth.samples.values():
        row = out.setdefault(s["split"], {"images": 0, "instances": 0})
        row["images"] += 1
        row["instances"] += sum(1 for t in s["targets"] if t["type"] == wanted)
    return out
