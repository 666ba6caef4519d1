"""Covering indexes of the labeling page; drop the indexes the covering ones make redundant

- annotations (task_id, deleted_at, valid, was_cancelled, ground_truth) replaces (task_id, deleted_at, valid):
  labeled and reviewed tasks, the overview's counts and the newest multi-annotator tasks read it alone;
- annotations (annotator, deleted_at, task_id, was_cancelled, lead_time, updated_at) replaces
  (annotator, deleted_at, task_id): the per-annotator figures read it alone;
- tasks (project_id, ls_deleted_at) replaces (project_id): tasks and tasks deleted in Label Studio per project
  from the index alone;
- item_assets (item_id) goes: (item_id, asset_id) and the unique (item_id, url) both start with item_id.

Indexes only: no table is recreated on SQLite, so the triggers of 0007 stay.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:40:00
"""
from __future__ import annotations

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_annotations_task_state', 'annotations',
                    ['task_id', 'deleted_at', 'valid', 'was_cancelled', 'ground_truth'], unique=False)
    op.create_index('ix_annotations_annotator_stats', 'annotations',
                    ['annotator', 'deleted_at', 'task_id', 'was_cancelled', 'lead_time', 'updated_at'], unique=False)
    op.drop_index('ix_annotations_task_live', table_name='annotations')
    op.drop_index('ix_annotations_annotator_live', table_name='annotations')
    op.create_index('ix_tasks_project_deleted', 'tasks', ['project_id', 'ls_deleted_at'], unique=False)
    op.drop_index('ix_tasks_project_id', table_name='tasks')
    op.drop_index('ix_item_assets_item_id', table_name='item_assets')
    # no ANALYZE: plain columns have their statistics already, and analyzing a new store's empty annotations
    # table would record it as empty, so that the foreign-key checks of annotation_labels scan it sequentially
    # for the rest of a bulk insert (seen: minutes for 200,000 rows instead of seconds)


def downgrade() -> None:
    op.create_index('ix_tasks_project_id', 'tasks', ['project_id'], unique=False)
    op.drop_index('ix_tasks_project_deleted', table_name='tasks')
    op.create_index('ix_item_assets_item_id', 'item_assets', ['item_id'], unique=False)
    op.create_index('ix_annotations_annotator_live', 'annotations', ['annotator', 'deleted_at', 'task_id'], unique=False)
    op.create_index('ix_annotations_task_live', 'annotations', ['task_id', 'deleted_at', 'valid'], unique=False)
    op.drop_index('ix_annotations_annotator_stats', table_name='annotations')
    op.drop_index('ix_annotations_task_state', table_name='annotations')
