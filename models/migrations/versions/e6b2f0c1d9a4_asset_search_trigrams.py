"""asset search: trigram indexes on title and identifier (PostgreSQL)

Revision ID: e6b2f0c1d9a4
Revises: a5d0c3e8f1b7
Create Date: 2026-12-01 21:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "e6b2f0c1d9a4"
# On main the head is 13e1a18705b2; this branch carries tus's upload sessions after it.
down_revision: str | None = "a5d0c3e8f1b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {"ix_asset_title_trgm": "title", "ix_asset_identifier_trgm": "identifier"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite searches by reading the rows
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in _INDEXES.items():
        op.create_index(
            name,
            "asset",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _INDEXES:
        op.drop_index(name, table_name="asset")
