"""`harvest db downgrade` never empties the store by accident: going below the first revision (the
default "one step" from the first revision, or "base") is refused, naming the tables and their rows."""
from __future__ import annotations

from sqlalchemy import inspect, text

from storage.engine import make_engine
from storage.migrate import head_revision
from tests.harvest.test_cli import run


def _filled(tmp_path) -> str:
    assert run(tmp_path, "init").returncode == 0
    url = f"sqlite:///{tmp_path / 'harvest-data' / 'harvest.db'}"
    eng = make_engine(url)
    with eng.begin() as c:
        for name in ("a", "b"):
            c.execute(text("INSERT INTO sources (name, kind, config, created_at) "
                           "VALUES (:n, 'config', '{}', CURRENT_TIMESTAMP)"), {"n": name})
    eng.dispose()
    return url


def _tables(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        return set(inspect(eng).get_table_names())
    finally:
        eng.dispose()


def test_default_and_base_downgrade_are_refused_and_say_what_would_be_dropped(tmp_path):
    url = _filled(tmp_path)
    if head_revision(url) != "0001":  # steps down to the first revision are allowed and keep the rows
        r = run(tmp_path, "db", "downgrade", "0001")
        assert r.returncode == 0, r.stderr
    before = _tables(url)
    assert run(tmp_path, "db", "current").stdout.split()[0] == "0001"
    for args in ([], ["base"], ["--", "-1"]):
        r = run(tmp_path, "db", "downgrade", *args, env={"COLUMNS": "400"})
        msg = " ".join(r.stderr.split())
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert "sources (2 rows)" in msg and "items (0 rows)" in msg
        assert "--yes-drop-everything" in msg
        assert _tables(url) == before
    assert run(tmp_path, "db", "current").stdout.split()[0] == "0001"


def test_downgrade_with_the_flag_drops_everything(tmp_path):
    url = _filled(tmp_path)
    r = run(tmp_path, "db", "downgrade", "base", "--yes-drop-everything")
    assert r.returncode == 0, r.stderr
    assert _tables(url) <= {"alembic_version"}
    assert run(tmp_path, "db", "current").stdout.startswith("empty database")
