"""Drop the task_id indexes of annotations and predictions: other indexes start with task_id

- annotations: the unique (task_id, ls_annotation_id, revision) and ix_annotations_task_state (0008);
- predictions: the unique (task_id, model_version).

Lookups by task and the ON DELETE CASCADE from tasks read those instead. Indexes only: no table is recreated
on SQLite, so the triggers of 0007 stay.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00
"""
from __future__ import annotations

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_annotations_task_id', table_name='annotations')
    op.drop_index('ix_predictions_task_id', table_name='predictions')


def downgrade() -> None:
    op.create_index('ix_predictions_task_id', 'predictions', ['task_id'], unique=False)
    op.create_index('ix_annotations_task_id', 'annotations', ['task_id'], unique=False)
