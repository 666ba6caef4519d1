"""model predictions and asset quality

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 20:36:54.156565
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import storage.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asset_quality',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('blur', sa.Float(), nullable=False),
    sa.Column('brightness', sa.Float(), nullable=False),
    sa.Column('dark_fraction', sa.Float(), nullable=False),
    sa.Column('bright_fraction', sa.Float(), nullable=False),
    sa.Column('entropy', sa.Float(), nullable=False),
    sa.Column('aspect', sa.Float(), nullable=False),
    sa.Column('colourfulness', sa.Float(), nullable=False),
    sa.Column('measured_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_asset_quality_asset_id_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', name=op.f('pk_asset_quality'))
    )
    op.create_table('model_predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_key', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('source_format', sa.String(length=40), nullable=False),
    sa.Column('source_file', sa.String(length=2048), nullable=True),
    sa.Column('imported_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'], name=op.f('fk_model_predictions_version_id_dataset_versions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_predictions')),
    sa.UniqueConstraint('sample_key', 'model', name=op.f('uq_model_predictions_sample_key_model'))
    )
    with op.batch_alter_table('model_predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_predictions_model'), ['model'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_predictions_sample_key'), ['sample_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('model_predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_predictions_sample_key'))
        batch_op.drop_index(batch_op.f('ix_model_predictions_model'))

    op.drop_table('model_predictions')
    op.drop_table('asset_quality')
