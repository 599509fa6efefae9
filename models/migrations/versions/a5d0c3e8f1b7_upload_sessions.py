"""upload sessions: files arriving over HTTP in pieces, staged in the object store

Revision ID: a5d0c3e8f1b7
Revises: 13e1a18705b2
Create Date: 2026-12-01 20:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.tables

revision: str = "a5d0c3e8f1b7"
down_revision: str | None = "13e1a18705b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "upload_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", JSON_TYPE, nullable=False),
        sa.Column("filename", sa.String(length=512), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("tus_metadata", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=1024), nullable=False),
        sa.Column("staged_key", sa.String(length=256), nullable=False),
        sa.Column("s3_upload_id", sa.String(length=1024), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("parts", JSON_TYPE, nullable=False),
        sa.Column("tail", sa.LargeBinary(), nullable=False),
        sa.Column("writer", sa.String(length=64), nullable=True),
        sa.Column("writer_until", models.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["ingest_job.id"]),
        sa.ForeignKeyConstraint(["key_id"], ["api_key.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("upload_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_session_key_id"), ["key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_upload_session_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_upload_session_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("upload_session")
