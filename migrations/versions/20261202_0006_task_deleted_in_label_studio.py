"""tasks.ls_deleted_at: a task deleted in Label Studio is marked on pull, never erased

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 21:12:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import storage.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ls_deleted_at', storage.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('ls_deleted_at')
