"""Revision 0009 (the task_id indexes of annotations and predictions dropped): up from 0008 removes them and
keeps every row; lookups by task still go through an index (the ones that start with task_id), and deleting a
task still deletes its annotations and predictions; down to 0008 restores them; up again."""
from __future__ import annotations

from sqlalchemy import text

from storage.engine import make_engine
from storage.migrate import downgrade, upgrade
from tests.storage.test_migration_0008 import _indexes, query_plan, store_with_a_task
from tests.storage.test_migrations import empty_url  # noqa: F401 - fixture

DROPPED = {"annotations": "ix_annotations_task_id", "predictions": "ix_predictions_task_id"}
PREDICTION = ("INSERT INTO predictions (task_id, model_version, result, targets, created_at) "
              "VALUES (1, :v, '[]', '[]', CURRENT_TIMESTAMP)")


def test_0009_drops_the_task_id_indexes_and_goes_down_and_up(empty_url):  # noqa: F811
    with store_with_a_task(empty_url, "0008") as (engine, conn):
        conn.execute(text(PREDICTION), {"v": "m1"})
    for table, index in DROPPED.items():
        assert index in _indexes(engine, table)
    engine.dispose()

    upgrade(empty_url, "0009")
    engine = make_engine(empty_url)
    for table, index in DROPPED.items():
        assert index not in _indexes(engine, table)
    with engine.begin() as conn:
        for table in DROPPED:
            plan = query_plan(conn, engine.dialect.name, f"SELECT id FROM {table} WHERE task_id = 1")
            seek = f"SEARCH {table} USING" if engine.dialect.name == "sqlite" else "Index Cond: (task_id = 1)"
            assert seek in plan, plan
        assert conn.execute(text("SELECT count(*) FROM annotations")).scalar() == 1
        conn.execute(text("DELETE FROM tasks WHERE id = 1"))  # ON DELETE CASCADE still empties both
        assert conn.execute(text("SELECT count(*) FROM annotations")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM predictions")).scalar() == 0
    engine.dispose()

    downgrade(empty_url, "0008")
    engine = make_engine(empty_url)
    for table, index in DROPPED.items():
        assert index in _indexes(engine, table)
    engine.dispose()

    upgrade(empty_url)
    engine = make_engine(empty_url)
    for table, index in DROPPED.items():
        assert index not in _indexes(engine, table)
    engine.dispose()
