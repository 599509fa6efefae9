"""Assets built by hand: file sets on configured storages, files in place, nested collections

Revision ID: a8b3c5d7e9f1
Revises: 13e1a18705b2
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a8b3c5d7e9f1"
down_revision: str | None = "13e1a18705b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("collection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            "fk_collection_parent_id_collection", "collection", ["parent_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_collection_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index("ix_collection_created_at_id", ["created_at", "id"], unique=False)
    with op.batch_alter_table("file_set", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("storage", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("components", _JSON, nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("file_set", schema=None) as batch_op:
        batch_op.alter_column("components", server_default=None)
    with op.batch_alter_table("file", schema=None) as batch_op:
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column(
            "key", existing_type=sa.String(length=256), type_=sa.String(length=1024)
        )
        batch_op.add_column(sa.Column("storage", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("checksum", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("file", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("checksum")
        batch_op.drop_column("storage")
        batch_op.alter_column(
            "key", existing_type=sa.String(length=1024), type_=sa.String(length=256)
        )
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("file_set", schema=None) as batch_op:
        batch_op.drop_column("components")
        batch_op.drop_column("storage")
        batch_op.drop_column("name")
    with op.batch_alter_table("collection", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_created_at_id")
        batch_op.drop_index(batch_op.f("ix_collection_parent_id"))
        batch_op.drop_constraint("fk_collection_parent_id_collection", type_="foreignkey")
        batch_op.drop_column("parent_id")
