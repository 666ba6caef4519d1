"""items belong to their source: unique on (source_id, canonical_url)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 20:40:00

Before, an item's URL was unique across all sources, so a second source over the same pages took the
first one's items (and their licence and attribution). Upgrade keeps every row. Downgrade restores the
old global uniqueness and therefore refuses (changing nothing) while two sources share a URL: the old
schema cannot hold both items, and dropping one would lose its provenance.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from storage.errors import DowngradeRefused


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_constraint('uq_items_canonical_url', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_items_source_id_canonical_url'), ['source_id', 'canonical_url'])
        batch_op.create_index(batch_op.f('ix_items_canonical_url'), ['canonical_url'], unique=False)


def downgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        "SELECT canonical_url FROM items GROUP BY canonical_url HAVING COUNT(*) > 1 ORDER BY canonical_url LIMIT 5"
    )).scalars().all()
    if shared:
        raise DowngradeRefused(
            "cannot downgrade below 0002: the same URL is an item of more than one source (for example "
            f"{', '.join(shared)}), and revision 0001 allows one item per URL. Nothing was changed; "
            "delete the items you do not need (or one of the sources) first."
        )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_canonical_url'))
        batch_op.drop_constraint(batch_op.f('uq_items_source_id_canonical_url'), type_='unique')
        batch_op.create_unique_constraint('uq_items_canonical_url', ['canonical_url'])
