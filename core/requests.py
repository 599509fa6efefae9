"""What a user asks for: one asset to ingest, the one definition every entry point builds.

The CLI's options, ``submit_ingest``, the batch manifest's columns, the flow's
UI form and the HTTP API all take an ``AssetRequest``; its validators are the
one place a source is normalised before anything redacts, logs or stores it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.forms import number_fields
from core.redact import normalise_source, redact_source

DEFAULT_PROJECT = "default"
# The texts that describe the asset (with ``tags``, columns of Asset of the same
# names); the other fields say where the bytes are and where the asset goes.
ASSET_TEXTS = ("title", "description", "category", "external_id", "folder")


class AssetRequest(BaseModel):
    """One asset to ingest: where its bytes are and what to call it.

    Every text is stripped, and an empty one means "not given"; ``source`` also
    loses control and invisible characters at its ends (``normalise_source``).
    It is kept otherwise as given, signature and all: record and show ``redacted()``.
    """

    model_config = ConfigDict(json_schema_extra=number_fields)

    source: str = Field(
        title="Source",
        description="An http(s) URL (signed or not), a video page URL, s3://bucket/key, "
        "or a local path below ASSETFLOW_LOCAL_ROOTS",
    )
    project: str = Field(
        default=DEFAULT_PROJECT,
        title="Project",
        description="The project the asset belongs to",
    )
    identifier: str = Field(
        default="",
        title="Identifier",
        description="Unique within the project; empty: the source, with any signature removed",
    )
    title: str = Field(default="", title="Title", description="A title for people")
    description: str = Field(default="", title="Description", description="What the asset shows")
    category: str = Field(default="", title="Category", description="A category of your own")
    tags: list[str] = Field(
        default_factory=list, title="Tags", description="Labels to find the asset by"
    )
    external_id: str = Field(
        default="", title="External id", description="The asset's id in your own system"
    )
    folder: str = Field(
        default="", title="Folder", description="A folder of your own to file the asset in"
    )
    filename: str = Field(
        default="",
        title="Filename",
        description="The original filename to record; empty: the one the source gives",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        # None from older job rows and JSON clients means "not given" too.
        if value is None:
            return ""
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, list):
            return [item.strip() for item in value if not isinstance(item, str) or item.strip()]
        return value

    @field_validator("source")
    @classmethod
    def _normalise_source(cls, value: str) -> str:
        # Beyond spaces: control and invisible characters around it (a BOM, U+200B).
        return normalise_source(value)

    @field_validator("project")
    @classmethod
    def _default_project(cls, value: str) -> str:
        return value or DEFAULT_PROJECT

    @property
    def asset_identifier(self) -> str:
        """Return the identifier the asset gets: the one given, or the redacted source."""
        return self.identifier or redact_source(self.source)

    def redacted(self) -> AssetRequest:
        """Return this request with credentials and signatures removed from its source."""
        return self.model_copy(update={"source": redact_source(self.source)})

    def asset_fields(self) -> dict[str, Any]:
        """Return the fields the asset records, an empty text as None."""
        texts = {name: getattr(self, name) or None for name in ASSET_TEXTS}
        return texts | {"tags": list(self.tags)}
