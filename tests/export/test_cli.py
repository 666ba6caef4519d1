"""`harvest dataset ...` end to end through the CLI entry point (SQLite store)."""
from __future__ import annotations

import json

import pytest

from tests.cli_helpers import run
from tests.export.factory import detection_project


@pytest.fixture
def cli_store(sqlite_store, monkeypatch):
    monkeypatch.setenv("HARVEST_DATA_DIR", str(sqlite_store.settings.data_dir))
    monkeypatch.setenv("HARVEST_DATABASE_URL", sqlite_store.settings.database_url)
    detection_project(sqlite_store, n=12)
    return sqlite_store




def test_create_export_list_show_diff(cli_store, capsys, tmp_path):
    policy = tmp_path / "aug.yaml"
    policy.write_text("version: 1\nname: p\ntransforms:\n  - HorizontalFlip: {p: 1.0}\nbudget: {multiplier: 1}\n")
    code, out = run(capsys, "dataset", "create", "v1", "--project", "proj", "--seed", "3")
    assert code == 0 and "created v1: 12 samples" in out and "0 leaks" in out
    code, out = run(capsys, "dataset", "create", "v2", "--project", "proj", "--parent", "v1",
                    "--policy", str(policy), "--group-by", "domain", "--split", "0.7,0.15,0.15")
    assert code == 0, out
    code, out = run(capsys, "dataset", "export", "v2", "--format", "yolo", "--out", str(tmp_path / "y"), "--workers", "2",
                    "--copy")
    assert code == 0 and "augmented" in out
    assert json.loads((tmp_path / "y" / "manifest.json").read_text())["format"] == "yolo"
    assert all(p.stat().st_nlink == 1 for p in (tmp_path / "y" / "images").rglob("*.jpg"))  # --copy: no hard links
    code, out = run(capsys, "dataset", "list")
    assert code == 0 and "v1" in out and "v2" in out
    code, out = run(capsys, "dataset", "show", "v2")
    assert code == 0 and "HorizontalFlip" in out and "yolo" in out
    code, out = run(capsys, "dataset", "diff", "v1", "v2")
    assert code == 0 and "policy changed" in out and "per-class impact" in out


def test_user_mistakes_are_one_clear_message(cli_store, capsys, tmp_path):
    assert run(capsys, "dataset", "create", "v1", "--project", "proj")[0] == 0
    code, out = run(capsys, "dataset", "create", "v1", "--project", "proj")
    assert code == 2 and "exists already" in out and "Traceback" not in out
    code, out = run(capsys, "dataset", "export", "v1", "--format", "nope", "--out", str(tmp_path / "o"))
    assert code == 2 and "coco" in out
    (tmp_path / "o").mkdir()
    code, out = run(capsys, "dataset", "export", "v1", "--format", "coco", "--out", str(tmp_path / "o"))
    assert code == 2 and "there already" in out
    code, out = run(capsys, "dataset", "create", "v3", "--project", "proj", "--policy", str(tmp_path / "p.txt"))
    assert code == 2 and ".yaml" in out


def test_bad_policy_is_refused_before_anything_is_written(cli_store, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntransforms:\n  - NoSuchTransform: {}\n")
    code, out = run(capsys, "dataset", "create", "v1", "--project", "proj", "--policy", str(bad))
    assert code == 2 and "policy is not valid" in out and "NoSuchTransform" in out
    code, out = run(capsys, "dataset", "list")
    assert code == 0 and "v1" not in out
