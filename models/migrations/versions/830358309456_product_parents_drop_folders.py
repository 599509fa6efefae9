"""product parents, drop folders, owners, client data

Revision ID: 830358309456
Revises: a8b3c5d7e9f1
Create Date: 2026-12-01 20:37:23.235757

Existing assets get no parent, no drop folder, no owner, no data and no AI tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables
from sqlalchemy.dialects import postgresql

revision: str = '830358309456'
down_revision: str | None = "a8b3c5d7e9f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('drop_folder',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('location', sa.String(length=1024), nullable=False),
    sa.Column('created_at', models.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('location')
    )
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('drop_folder_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('data', JSON, nullable=True))
        batch_op.add_column(sa.Column('ai_tags', JSON, nullable=False, server_default='[]'))
        batch_op.create_index(batch_op.f('ix_asset_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key('fk_asset_drop_folder_id', 'drop_folder', ['drop_folder_id'], ['id'])
        batch_op.create_foreign_key('fk_asset_parent_id', 'asset', ['parent_id'], ['id'])
    # The default only fills the rows that exist; the models write the value.
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.alter_column('ai_tags', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.drop_constraint('fk_asset_parent_id', type_='foreignkey')
        batch_op.drop_constraint('fk_asset_drop_folder_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_asset_parent_id'))
        batch_op.drop_column('ai_tags')
        batch_op.drop_column('data')
        batch_op.drop_column('owner')
        batch_op.drop_column('drop_folder_id')
        batch_op.drop_column('parent_id')

    op.drop_table('drop_folder')
