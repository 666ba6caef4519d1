"""Helpers for crawl tests: a harvest.toml writer and `harvest`/`scrapy` run in a subprocess.

Every crawl runs in its own process: Twisted's reactor cannot restart inside one pytest process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.collect_models import CrawlRun
from storage.engine import make_engine, session_factory

REPO = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/0"  # the Redis of the shared-frontier tests (a key prefix per test)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_toml(path: Path, tables: dict[str, dict[str, Any]]) -> Path:
    """A small TOML writer for test configs: {"crawl": {...}, "sources.demo": {...}}."""
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_value(v)}" for key, v in values.items() if v is not None]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def harvest_env(settings, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVEST_", "SCRAPY_"))}
    env.update(
        HARVEST_CONFIG=str(config),
        HARVEST_DATABASE_URL=settings.database_url,
        HARVEST_DATA_DIR=str(settings.data_dir),
        PYTHONPATH=str(REPO),
    )
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def harvest(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "harvest", *args], env, cwd, timeout)


def check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"
    return proc


def runs(database_url: str) -> list[CrawlRun]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        engine.dispose()
