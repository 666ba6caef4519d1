"""Revision 0008 (covering indexes of the labeling page, redundant indexes dropped): up from 0007 swaps the
indexes and keeps every row and the label triggers of 0007; down to 0007 restores the old indexes; up again.
The planner still reads item_assets by item through an index once its own index is gone."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import inspect, text

from storage.engine import make_engine
from storage.migrate import downgrade, upgrade
from tests.storage.test_migration_0007 import ANNOTATION, _labels, project_and_task
from tests.storage.test_migrations import _fill, empty_url  # noqa: F401 - fixture

NEW = {"annotations": {"ix_annotations_task_state", "ix_annotations_annotator_stats"},
       "tasks": {"ix_tasks_project_deleted"}}
OLD = {"annotations": {"ix_annotations_task_live", "ix_annotations_annotator_live"},
       "item_assets": {"ix_item_assets_item_id"}, "tasks": {"ix_tasks_project_id"}}


def _indexes(engine, table: str) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes(table)}


def _columns(engine, table: str, name: str) -> list[str]:
    return next(i["column_names"] for i in inspect(engine).get_indexes(table) if i["name"] == name)


def query_plan(conn, dialect: str, sql: str) -> str:
    """The plan of `sql` as one string (PostgreSQL's with sequential scans off: tiny tables would take one)."""
    if dialect == "sqlite":
        return " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    conn.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask which index would serve
    return " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))


@contextmanager
def store_with_a_task(url: str, revision: str):
    """A store at `revision` with the rows of test_migrations, one project, one task and one annotation ("cat"):
    yields its engine and the connection of the transaction, which commits when the block ends."""
    upgrade(url, revision)
    _fill(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        project_and_task(conn)
        conn.execute(text(ANNOTATION), {"ls": 1, "h": "1" * 64, "targets": '[{"label": "cat"}]'})
        yield engine, conn


def test_0008_swaps_indexes_keeps_rows_and_goes_down_and_up(empty_url):  # noqa: F811
    with store_with_a_task(empty_url, "0007") as (engine, conn):
        conn.execute(text("INSERT INTO items (source_id, canonical_url, page_url, robots_decision, fields, fetched_at, "
                          "first_seen_at, last_seen_at) VALUES (1, 'http://x.test/p', 'http://x.test/p', 'allowed', "
                          "'{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO item_assets (item_id, asset_id, url, position, fetched_at, last_seen_at) "
                          "VALUES (1, 1, 'http://x.test/i.jpg', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    for table, names in OLD.items():
        assert names <= _indexes(engine, table)
    engine.dispose()

    upgrade(empty_url, "0008")
    engine = make_engine(empty_url)
    for table, names in NEW.items():
        assert names <= _indexes(engine, table)
    for table, names in OLD.items():
        assert not names & _indexes(engine, table)
    assert _columns(engine, "annotations", "ix_annotations_task_state") == [
        "task_id", "deleted_at", "valid", "was_cancelled", "ground_truth"]
    with engine.begin() as conn:
        plan = query_plan(conn, engine.dialect.name, "SELECT asset_id FROM item_assets WHERE item_id = 1")
        assert "ix_item_assets_item_asset" in plan
        conn.execute(text(ANNOTATION), {"ls": 2, "h": "2" * 64, "targets": '[{"label": "dog"}]'})  # 0007's trigger
        assert _labels(conn) == {(1, "cat", 1), (2, "dog", 1)}
        assert conn.execute(text("SELECT count(*) FROM item_assets")).scalar() == 1
    engine.dispose()

    downgrade(empty_url, "0007")
    engine = make_engine(empty_url)
    for table, names in NEW.items():
        assert not names & _indexes(engine, table)
    for table, names in OLD.items():
        assert names <= _indexes(engine, table)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM annotations")).scalar() == 2
    engine.dispose()

    upgrade(empty_url)
    engine = make_engine(empty_url)
    assert NEW["annotations"] <= _indexes(engine, "annotations")
    assert "ix_item_assets_item_id" not in _indexes(engine, "item_assets")
    engine.dispose()


def test_a_new_store_is_not_analyzed_as_empty(empty_url):  # noqa: F811
    """No migration records the new store's annotations as analyzed-empty (reltuples 0): PostgreSQL would then
    check annotation_labels' foreign key by a sequential scan of annotations for the rest of a bulk insert."""
    upgrade(empty_url)
    engine = make_engine(empty_url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        return
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'annotations'")).scalar() == -1
    engine.dispose()
