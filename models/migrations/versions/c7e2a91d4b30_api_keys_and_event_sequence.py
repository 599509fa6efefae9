"""api keys, project descriptions, and events numbered in the order they were written

Revision ID: c7e2a91d4b30
Revises: b3c1d2e4f5a6
Create Date: 2026-12-01 18:00:00.000000

The event table is rebuilt: its uuid key becomes an ever-growing integer
(readers page by it; webhook receivers drop duplicates by it), numbered for
the rows already there in the order they were written, and it gains the job
an event is about.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.tables

revision: str = "c7e2a91d4b30"
down_revision: str | None = "b3c1d2e4f5a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
COPIED = "asset_id, type, payload, created_at, delivered_at"


def _event_table(name: str, id_column: sa.Column, *extra: sa.Column) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        name,
        id_column,
        sa.Column("asset_id", sa.Uuid(), sa.ForeignKey("asset.id"), nullable=True),
        *extra,
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=False),
        sa.Column("created_at", models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"{name}_pkey"),
        **({"sqlite_autoincrement": True} if sqlite and id_column.autoincrement is True else {}),
    )


def _swap_event_table(new: str, *, indexes: Sequence[str]) -> None:
    """Replace the event table by ``new`` (already filled), keeping the usual names."""
    op.drop_table("event")
    op.rename_table(new, "event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE event RENAME CONSTRAINT "{new}_pkey" TO event_pkey')
        op.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_class WHERE relname = '{new}_id_seq') "
            f"THEN ALTER SEQUENCE {new}_id_seq RENAME TO event_id_seq; END IF; END $$"
        )
    for column in indexes:
        op.create_index(f"ix_event_{column}", "event", [column], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))

    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON_TYPE, nullable=False),
        sa.Column("created_at", models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_key_prefix", "api_key", ["prefix"], unique=True)

    if op.get_bind().dialect.name == "sqlite":
        id_column = sa.Column("id", sa.Integer(), autoincrement=True)
    else:
        id_column = sa.Column("id", sa.BigInteger(), sa.Identity(), autoincrement=True)
    _event_table(
        "event_next",
        id_column,
        sa.Column("job_id", sa.Uuid(), sa.ForeignKey("ingest_job.id"), nullable=True),
    )
    op.execute(
        f"INSERT INTO event_next ({COPIED}) SELECT {COPIED} FROM event ORDER BY created_at"
    )
    _swap_event_table("event_next", indexes=("asset_id", "job_id"))


def downgrade() -> None:
    _event_table("event_prev", sa.Column("id", sa.Uuid(), nullable=False, autoincrement=False))
    new_id = (
        "lower(hex(randomblob(16)))"
        if op.get_bind().dialect.name == "sqlite"
        else "gen_random_uuid()"
    )
    op.execute(
        f"INSERT INTO event_prev (id, {COPIED}) SELECT {new_id}, {COPIED} FROM event ORDER BY id"
    )
    _swap_event_table("event_prev", indexes=("asset_id",))

    op.drop_index("ix_api_key_prefix", table_name="api_key")
    op.drop_table("api_key")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("description")
