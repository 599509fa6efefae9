"""ingest_job.secret_source: a signed source waits for its fetch here, not in Prefect

Revision ID: b3c1d2e4f5a6
Revises: 9702863ac619
Create Date: 2026-12-01 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3c1d2e4f5a6"
down_revision: str | None = "9702863ac619"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_source", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_job", schema=None) as batch_op:
        batch_op.drop_column("secret_source")
