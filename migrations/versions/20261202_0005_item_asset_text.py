"""item_assets: alt text, title and caption of each image as its page shows it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 21:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alt', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('title', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('caption', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('item_assets', schema=None) as batch_op:
        batch_op.drop_column('caption')
        batch_op.drop_column('title')
        batch_op.drop_column('alt')
