"""annotation_labels and member_labels (kept by triggers), covering indexes of the dashboard's counts

The grid's label filter reads these tables instead of matching the targets' JSON text. The database
fills them from the targets whoever writes a row (bulk inserts, the ORM, a pull): an AFTER INSERT trigger
on annotations and on version_members, and an AFTER UPDATE OF targets trigger that rewrites a row's labels.
Existing rows are filled here. On SQLite a later batch migration that recreates `annotations` or
`version_members` drops their triggers: such a migration must create them again (`_create_triggers`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:50:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# (table, its labels table, labels-table columns after (id, label), the SELECT of those columns from row `r`)
LABELLED = (
    ("annotations", "annotation_labels", "annotation_id, label, asset_id, annotator",
     "(SELECT t.asset_id FROM tasks t WHERE t.id = r.task_id), r.annotator"),
    ("version_members", "member_labels", "member_id, label, version_id, asset_id", "r.version_id, r.asset_id"),
)


def _sqlite_rows(rows: str, row: str, extra: str) -> str:
    """SELECT (row id, label, extra...) for every distinct string `label` of the targets of `rows` (named r)."""
    targets = f"{row}.targets"
    return (f"SELECT DISTINCT {row}.id, json_extract({targets}, j.fullkey || '.label'), {extra} "
            f"FROM {rows}, json_each(CASE WHEN json_valid({targets}) THEN "
            f"CASE WHEN json_type({targets}) = 'array' THEN {targets} END END) AS j "
            f"WHERE json_type({targets}, j.fullkey || '.label') = 'text'")


def _postgres_rows(rows: str, row: str, extra: str) -> str:
    return (f"SELECT DISTINCT {row}.id, e ->> 'label', {extra} FROM {rows} "
            f"CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof({row}.targets) = 'array' "
            f"THEN {row}.targets ELSE '[]'::json END) AS e WHERE json_typeof(e -> 'label') = 'string'")


def _create_triggers(dialect: str) -> None:
    for table, labels, columns, extra in LABELLED:
        key = columns.split(",")[0]
        if dialect == "sqlite":
            # SQLite's triggers are per row; the SELECT reads NEW through a one-row subquery named r
            new = f"(SELECT NEW.id AS id, NEW.targets AS targets, {_new_columns(table)}) AS r"
            op.execute(f"CREATE TRIGGER {labels}_insert AFTER INSERT ON {table} BEGIN "
                       f"INSERT INTO {labels} ({columns}) {_sqlite_rows(new, 'r', extra)}; END")
            op.execute(f"CREATE TRIGGER {labels}_update AFTER UPDATE OF targets ON {table} BEGIN "
                       f"DELETE FROM {labels} WHERE {key} = OLD.id; "
                       f"INSERT INTO {labels} ({columns}) {_sqlite_rows(new, 'r', extra)}; END")
        else:
            # PostgreSQL: one statement-level trigger per INSERT (bulk inserts stay set-based), and a row
            # trigger for an UPDATE of the targets (transition tables cannot go with a column list)
            op.execute(f"CREATE FUNCTION {labels}_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       f"INSERT INTO {labels} ({columns}) {_postgres_rows('new_rows AS r', 'r', extra)}; "
                       "RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER {labels}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {labels}_insert()")
            op.execute(f"CREATE FUNCTION {labels}_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       f"DELETE FROM {labels} WHERE {key} = OLD.id; "
                       f"INSERT INTO {labels} ({columns}) "
                       f"{_postgres_rows('(SELECT NEW.*) AS r', 'r', extra)}; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER {labels}_update AFTER UPDATE OF targets ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {labels}_update()")


def _new_columns(table: str) -> str:
    return "NEW.task_id AS task_id, NEW.annotator AS annotator" if table == "annotations" else "NEW.version_id AS version_id, NEW.asset_id AS asset_id"


def _fill(dialect: str) -> None:
    for table, labels, columns, extra in LABELLED:
        rows = f"{table} AS r"
        select = _sqlite_rows(rows, "r", extra) if dialect == "sqlite" else _postgres_rows(rows, "r", extra)
        op.execute(f"INSERT INTO {labels} ({columns}) {select}")


def upgrade() -> None:
    op.create_table('annotation_labels',
    sa.Column('annotation_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('annotator', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotations.id'], name=op.f('fk_annotation_labels_annotation_id_annotations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_annotation_labels_asset_id_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('annotation_id', 'label', name=op.f('pk_annotation_labels'))
    )
    op.create_table('member_labels',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_member_labels_asset_id_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['version_members.id'], name=op.f('fk_member_labels_member_id_version_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'], name=op.f('fk_member_labels_version_id_dataset_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'label', name=op.f('pk_member_labels'))
    )
    dialect = op.get_bind().dialect.name
    _fill(dialect)
    _create_triggers(dialect)
    op.create_index('ix_annotation_labels_label_asset', 'annotation_labels', ['label', 'asset_id'], unique=False)
    op.create_index('ix_member_labels_version_label_asset', 'member_labels', ['version_id', 'label', 'asset_id'], unique=False)
    op.create_index('ix_annotations_task_live', 'annotations', ['task_id', 'deleted_at', 'valid'], unique=False)
    op.create_index('ix_annotations_annotator_live', 'annotations', ['annotator', 'deleted_at', 'task_id'], unique=False)
    op.create_index('ix_items_licence_source', 'items', ['licence', 'source_id'], unique=False)
    op.create_index('ix_item_assets_item_asset', 'item_assets', ['item_id', 'asset_id'], unique=False)
    op.create_index('ix_version_members_version_split', 'version_members', ['version_id', 'split', 'asset_id'], unique=False)
    if dialect == "postgresql":  # the planner needs the new tables' statistics before autovacuum gets to them
        op.execute("ANALYZE annotation_labels")
        op.execute("ANALYZE member_labels")


def downgrade() -> None:
    op.drop_index('ix_version_members_version_split', table_name='version_members')
    op.drop_index('ix_item_assets_item_asset', table_name='item_assets')
    op.drop_index('ix_items_licence_source', table_name='items')
    op.drop_index('ix_annotations_annotator_live', table_name='annotations')
    op.drop_index('ix_annotations_task_live', table_name='annotations')
    dialect = op.get_bind().dialect.name
    for table, labels, _, _ in LABELLED:
        for kind in ("insert", "update"):
            if dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS {labels}_{kind}")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {labels}_{kind} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {labels}_{kind}()")
    op.drop_table('member_labels')
    op.drop_table('annotation_labels')
