"""Revision 0007 (label tables kept by triggers, covering indexes): up from 0006 fills the label tables from the
rows already stored; down to 0006 removes tables, triggers and indexes and keeps every annotation; up again."""
from __future__ import annotations

from sqlalchemy import inspect, text

from storage.engine import make_engine
from storage.migrate import downgrade, upgrade
from tests.storage.test_migrations import _fill, empty_url  # noqa: F401 - fixture

NEW_INDEXES = {"annotations": "ix_annotations_task_live", "items": "ix_items_licence_source",
               "item_assets": "ix_item_assets_item_asset", "version_members": "ix_version_members_version_split"}
ANNOTATION = ("INSERT INTO annotations (task_id, ls_annotation_id, revision, annotator, was_cancelled, ground_truth, "
              "result, targets, result_hash, valid, problems, received_via, received_at) VALUES "
              "(1, :ls, 1, 'a', false, false, '[]', :targets, :h, true, '[]', 'pull', CURRENT_TIMESTAMP)")


def project_and_task(conn) -> None:
    """A labeling project (id 1) with one task (id 1) of asset 1."""
    conn.execute(text("INSERT INTO labeling_projects (name, template, labels, label_config, options, created_at) "
                      "VALUES ('p', 'object-detection', '[]', '<View/>', '{}', CURRENT_TIMESTAMP)"))
    conn.execute(text("INSERT INTO tasks (project_id, sample_key, asset_id, data, created_at) "
                      "VALUES (1, 'asset:1', 1, '{}', CURRENT_TIMESTAMP)"))


def _labels(conn) -> set[tuple]:
    return set(conn.execute(text("SELECT a.ls_annotation_id, l.label, l.asset_id FROM annotation_labels l "
                                 "JOIN annotations a ON a.id = l.annotation_id")).all())


def test_0007_fills_from_stored_rows_and_goes_down_and_up(empty_url):  # noqa: F811
    upgrade(empty_url, "0006")
    _fill(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        project_and_task(conn)
        conn.execute(text(ANNOTATION), {"ls": 1, "h": "1" * 64,
                                        "targets": '[{"type": "choice", "label": "cat"}, {"label": "dog"}, "x"]'})
        conn.execute(text(ANNOTATION), {"ls": 2, "h": "2" * 64, "targets": '{"label": "no list"}'})
        conn.execute(text("INSERT INTO dataset_versions (name, seed, split_ratios, revision_rule, filter, content_hash, "
                          "stats, created_at) VALUES ('v1', 0, '[]', 'latest', '{}', :h, '{}', CURRENT_TIMESTAMP)"),
                     {"h": "0" * 64})
        conn.execute(text("INSERT INTO version_members (version_id, sample_key, asset_id, annotation_ids, split, targets, "
                          "annotators, provenance) VALUES (1, 'asset:1', 1, '[]', 'train', :t, '[]', '{}')"),
                     {"t": '[{"type": "choice", "label": "cat"}]'})
    engine.dispose()

    upgrade(empty_url, "0007")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        assert _labels(conn) == {(1, "cat", 1), (1, "dog", 1)}
        assert conn.execute(text("SELECT member_id, label, version_id, asset_id FROM member_labels")).all() == [
            (1, "cat", 1, 1)]
        conn.execute(text(ANNOTATION), {"ls": 3, "h": "3" * 64, "targets": '[{"label": "bird"}]'})  # the trigger
        assert (3, "bird", 1) in _labels(conn)
    for table, index in NEW_INDEXES.items():
        assert index in {i["name"] for i in inspect(engine).get_indexes(table)}
    engine.dispose()

    downgrade(empty_url, "0006")
    engine = make_engine(empty_url)
    names = set(inspect(engine).get_table_names())
    assert "annotation_labels" not in names and "member_labels" not in names
    for table, index in NEW_INDEXES.items():
        assert index not in {i["name"] for i in inspect(engine).get_indexes(table)}
    with engine.begin() as conn:  # no trigger left behind writes to a dropped table
        conn.execute(text(ANNOTATION), {"ls": 4, "h": "4" * 64, "targets": '[{"label": "fox"}]'})
        conn.execute(text("UPDATE annotations SET targets = '[]' WHERE ls_annotation_id = 2"))
        assert conn.execute(text("SELECT count(*) FROM annotations")).scalar() == 4
    engine.dispose()

    upgrade(empty_url, "0007")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert _labels(conn) == {(1, "cat", 1), (1, "dog", 1), (3, "bird", 1), (4, "fox", 1)}
    engine.dispose()
