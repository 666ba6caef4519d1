"""Shared fixtures: migrated databases (SQLite and PostgreSQL), blob stores and harvest settings."""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.blobs import BlobStore
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import Base
from tests.services import missing

pytest_plugins = ["tests.labelstudio"]  # one real Label Studio server per test session

BACKENDS = ["sqlite", "postgres"]


def postgres_admin_url() -> str | None:
    return os.environ.get("HARVEST_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    admin = postgres_admin_url()
    if not admin:
        missing("PostgreSQL", "HARVEST_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    name = f"harvest_test_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(admin).set(drivername="postgresql+psycopg")
    try:
        admin_engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means the service is missing
        missing("PostgreSQL", f"cannot create a test database via {admin}: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def fresh_db_url(backend: str, request, tmp_path: Path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "harvest.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """URL of an empty, migrated database: once on SQLite, once on PostgreSQL."""
    return fresh_db_url(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request, tmp_path) -> str:
    """URL of an empty, migrated SQLite database (for tests that need only the embedded store)."""
    return fresh_db_url("sqlite", request, tmp_path)


@pytest.fixture
def postgres_url(request, tmp_path) -> str:
    """URL of an empty, migrated PostgreSQL database."""
    return fresh_db_url("postgres", request, tmp_path)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
def blobs(tmp_path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def make_settings(tmp_path: Path, database_url: str, **overrides):
    from harvest.settings import load_settings

    return load_settings(
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        **overrides,
    )


@pytest.fixture
def settings(tmp_path, db_url, monkeypatch):
    """harvest Settings on a fresh database (both backends) with data under tmp_path."""
    monkeypatch.chdir(tmp_path)
    return make_settings(tmp_path, db_url)


@pytest.fixture
def sqlite_settings(tmp_path, sqlite_url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def store(settings):
    from harvest.store import open_store

    st = open_store(settings)
    yield st
    st.close()


@pytest.fixture
def sqlite_store(sqlite_settings):
    from harvest.store import open_store

    st = open_store(sqlite_settings)
    yield st
    st.close()


def pytest_collection_modifyitems(config, items):
    """Report in the summary how many tests ran against each database backend."""
    config._harvest_backends = {b: 0 for b in BACKENDS}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for value in callspec.params.values():
                if isinstance(value, str) and value in config._harvest_backends:
                    config._harvest_backends[value] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = getattr(config, "_harvest_backends", None)
    if not counts or not any(counts.values()):
        return
    passed = {b: 0 for b in BACKENDS}
    for report in terminalreporter.stats.get("passed", []):
        for b in BACKENDS:
            if f"[{b}" in report.nodeid or f"-{b}]" in report.nodeid or f"-{b}-" in report.nodeid:
                passed[b] += 1
    terminalreporter.write_line(
        "database backends: " + ", ".join(f"{b}: {passed[b]} passed of {counts[b]} collected" for b in BACKENDS)
    )
