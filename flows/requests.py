"""The typed parameters of the flows: what the Prefect UI renders as forms."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AssetRequest(BaseModel):
    """One asset to ingest: where its bytes are and what to call it."""

    source: str = Field(
        description="http(s) URL, signed URL, video page URL, s3://bucket/key, or a local path"
    )
    project: str = Field(default="default", description="Project the asset belongs to")
    identifier: str | None = Field(
        default=None,
        description="Unique within the project; defaults to the (redacted) source",
    )
    title: str | None = None
    description: str | None = None
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    external_id: str | None = Field(default=None, description="The id in the user's own system")
