"""Indexes for a library of millions: phash bands, keyset listing, tags, covering term postings

The phash gets four 16-bit band columns (backfilled from the hash) with
covering indexes, so the near-duplicate search probes bands instead of
reading every hash. Listing pages by (created_at, id) under each filter it
takes; tags get a table of their own (backfilled from asset.tags) indexed
by (tag, created_at, asset_id). The fingerprint term index covers its postings; fingerprints by file
and jobs by flow run get the indexes their deletes and hooks look them up by.
Indexes that a new one starts with are dropped.

Revision ID: c4d7e9a1b2f3
Revises: c7e2a91d4b30
Create Date: 2026-12-01 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d7e9a1b2f3"
down_revision: str | None = "c7e2a91d4b30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS = range(4)
ASSET_LISTING = {
    "ix_asset_created_at_id": ["created_at", "id"],
    "ix_asset_project_created_at_id": ["project_id", "created_at", "id"],
    "ix_asset_status_created_at_id": ["status", "created_at", "id"],
    "ix_asset_kind_created_at_id": ["kind", "created_at", "id"],
}

# Each distinct tag of every asset, from the JSON array in asset.tags.
_BACKFILL_TAGS = {
    "postgresql": (
        "INSERT INTO asset_tag (asset_id, tag, created_at) "
        "SELECT DISTINCT asset.id, tag.value, asset.created_at "
        "FROM asset, jsonb_array_elements_text(asset.tags) AS tag(value)"
    ),
    "sqlite": (
        "INSERT INTO asset_tag (asset_id, tag, created_at) "
        "SELECT DISTINCT asset.id, tag.value, asset.created_at "
        "FROM asset, json_each(asset.tags) AS tag"
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("image_hash") as batch_op:
        for k in BANDS:
            batch_op.add_column(sa.Column(f"phash_band{k}", sa.Integer(), nullable=True))
    # Band k is bits 16k..16k+15 of the unsigned hash; >> sign-extends a negative
    # BIGINT on both databases, and the mask keeps only the band's bits.
    op.execute(
        "UPDATE image_hash SET "
        + ", ".join(f"phash_band{k} = (phash >> {16 * k}) & 65535" for k in BANDS)
    )
    with op.batch_alter_table("image_hash") as batch_op:
        for k in BANDS:
            batch_op.alter_column(f"phash_band{k}", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_image_hash_phash")
    for k in BANDS:
        op.create_index(
            f"ix_image_hash_phash_band{k}", "image_hash", [f"phash_band{k}", "phash", "asset_id"]
        )

    op.drop_index("ix_asset_project_id", table_name="asset")
    op.drop_index("ix_asset_status", table_name="asset")
    for name, columns in ASSET_LISTING.items():
        op.create_index(name, "asset", columns)

    op.create_table(
        "asset_tag",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.PrimaryKeyConstraint("asset_id", "tag"),
    )
    op.execute(_BACKFILL_TAGS[op.get_bind().dialect.name])
    op.create_index(
        "ix_asset_tag_tag_created_at_asset_id", "asset_tag", ["tag", "created_at", "asset_id"]
    )

    op.drop_index("ix_fingerprint_term_term", table_name="fingerprint_term")
    op.create_index(
        "ix_fingerprint_term_term_posting",
        "fingerprint_term",
        ["term", "fingerprint_id", "position"],
    )
    op.create_index("ix_fingerprint_file_id", "fingerprint", ["file_id"])
    op.create_index("ix_ingest_job_flow_run_id", "ingest_job", ["flow_run_id"])


def downgrade() -> None:
    op.drop_index("ix_ingest_job_flow_run_id", table_name="ingest_job")
    op.drop_index("ix_fingerprint_file_id", table_name="fingerprint")
    op.drop_index("ix_fingerprint_term_term_posting", table_name="fingerprint_term")
    op.create_index("ix_fingerprint_term_term", "fingerprint_term", ["term"])
    op.drop_table("asset_tag")

    for name in ASSET_LISTING:
        op.drop_index(name, table_name="asset")
    op.create_index("ix_asset_status", "asset", ["status"])
    op.create_index("ix_asset_project_id", "asset", ["project_id"])

    for k in BANDS:
        op.drop_index(f"ix_image_hash_phash_band{k}", table_name="image_hash")
    with op.batch_alter_table("image_hash") as batch_op:
        batch_op.create_index("ix_image_hash_phash", ["phash"])
        for k in BANDS:
            batch_op.drop_column(f"phash_band{k}")
