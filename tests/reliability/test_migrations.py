"""Migrations up and down on SQLite and PostgreSQL with every stage's tables holding rows."""
from __future__ import annotations

from alembic import command
from sqlalchemy import func, inspect, select

from export import create_version, export_version
from harvest.store import open_store
from storage.base import utcnow
from storage.collect_models import CrawlRun, Source
from storage.engine import make_engine
from storage.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from storage.models import Base
from tests.conftest import make_settings
from tests.export.factory import detection_project
from tests.storage.test_migrations import empty_url  # noqa: F401 - a throwaway database per backend


def _counts(store) -> dict[str, int]:
    with store.sessions() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _fill(store, tmp_path) -> None:
    detection_project(store, n=6)
    with store.sessions.begin() as s:
        source = s.scalars(select(Source)).first()
        s.add(CrawlRun(source_id=source.id, status="succeeded", finished_at=utcnow(), stats={"items": 6}))
    create_version(store, "v1", "proj", seed=3)
    export_version(store, "v1", "jsonl", tmp_path / "export")


def test_migrations_up_and_down_with_data(empty_url, tmp_path):  # noqa: F811
    upgrade(empty_url)
    store = open_store(make_settings(tmp_path, empty_url))
    _fill(store, tmp_path)
    before = _counts(store)
    tables = ("sources", "crawl_runs", "items", "assets", "item_assets", "labeling_projects", "tasks",
              "annotations", "dataset_versions", "exports")
    assert all(before[t] > 0 for t in tables if t in before), before
    store.close()

    upgrade(empty_url)  # at head already: a no-op that keeps every row
    store = open_store(make_settings(tmp_path, empty_url))
    assert _counts(store) == before
    store.close()

    downgrade(empty_url, "base", drop_everything=True)  # down with rows in every table (foreign keys, indexes, PG types)
    engine = make_engine(empty_url)
    assert current_revision(engine) is None
    assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
    engine.dispose()

    upgrade(empty_url)  # and up again: the same schema as the models, usable at once
    command.check(alembic_config(empty_url))
    engine = make_engine(empty_url)
    assert current_revision(engine) == head_revision(empty_url)
    engine.dispose()
    store = open_store(make_settings(tmp_path / "again", empty_url))
    assert set(_counts(store).values()) == {0}
    _fill(store, tmp_path / "again")
    assert _counts(store) == before
    store.close()
