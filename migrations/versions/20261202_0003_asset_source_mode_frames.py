"""assets: the original's pixel mode and frame count (normalized 8-bit copies, animations flagged)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 21:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_mode', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('frames', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_column('frames')
        batch_op.drop_column('source_mode')
