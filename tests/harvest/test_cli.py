"""The CLI: init, db, status and one clear message (no traceback) for every bad configuration."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrate import head_revision


def run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_") or k.startswith("HARVEST_TEST")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "harvest", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_init_then_db_current_names_head(tmp_path):
    r = run(tmp_path, "init")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "harvest-data" / "harvest.db").is_file()
    head = head_revision(f"sqlite:///{tmp_path / 'harvest-data' / 'harvest.db'}")
    r = run(tmp_path, "db", "current")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == head and "(head)" in r.stdout
    assert run(tmp_path, "init").returncode == 0  # idempotent


def test_status_lists_sources_with_counts(tmp_path):
    assert run(tmp_path, "init").returncode == 0
    from sqlalchemy import text

    from storage.engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'harvest-data' / 'harvest.db'}")
    with eng.begin() as c:
        c.execute(text("INSERT INTO sources (name, kind, config, created_at) VALUES ('shop', 'config', '{}', CURRENT_TIMESTAMP)"))
        c.execute(text("INSERT INTO items (source_id, canonical_url, page_url, fetched_at, first_seen_at, last_seen_at, fields) "
                       "VALUES (1, 'http://a/1', 'http://a/1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '{}')"))
    eng.dispose()
    r = run(tmp_path, "status")
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "shop" in line)
    assert [c.strip() for c in row.split("│") if c.strip()][:4] == ["shop", "0", "-", "1"]


def test_db_downgrade_and_upgrade(tmp_path):
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "db", "downgrade", "base", "--yes-drop-everything").returncode == 0
    assert run(tmp_path, "db", "current").stdout.startswith("empty database")
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert "(head)" in run(tmp_path, "db", "current").stdout


@pytest.mark.parametrize(
    ("toml", "env", "expect"),
    [
        ("colour = 'blue'\n", {}, "unknown key 'colour'"),
        ("[crawl]\nmin_width = 'wide'\n", {}, "crawl.min_width"),
        ("database_url = 'mysql://x/y'\n", {}, "supports 'sqlite' and 'postgresql'"),
        ("database_url = 'postgresql://nobody@127.0.0.1:1/x'\n", {}, "cannot connect to the database"),
        ("data_dir = [1,\n", {}, "not valid TOML"),
        ("", {"HARVEST_DATA_DIR": "/proc/harvest-cannot-write"}, "cannot create the data directory"),
        ("", {"HARVEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, "cannot connect"),
    ],
)
def test_bad_configuration_is_one_clear_message(tmp_path, toml, env, expect):
    (tmp_path / "harvest.toml").write_text(toml)
    r = run(tmp_path, "status", env=env)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert expect in " ".join(r.stderr.split())
    assert r.stderr.lstrip().startswith("error:")


def test_python_dash_m_and_console_script_agree(tmp_path):
    exe = Path(sys.executable).parent / "harvest"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "init" in out.stdout
    assert "init" in run(tmp_path, "--help").stdout
