"""asset.lease_expires_at and blob.claimed_at: take over dead runs, collect orphaned objects

Revision ID: f4a1c7e2b9d3
Revises: c4d7e9a1b2f3
Create Date: 2026-12-01 17:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4a1c7e2b9d3"
down_revision: str | None = "c4d7e9a1b2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("blob", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blob", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
