"""What the API takes and answers: one model per request body and per object it returns.

Objects carry ``object`` (``"file"``, ``"task"``, ``"asset"``, ``"project"``,
``"event"``) so a client can tell them apart; times are ISO 8601 in UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.webhooks.subscriptions import EVENT_TYPES
from core.kinds import AssetKind
from models.tables import AssetStatus, DeliveryStatus, FileStatus, JobKind, JobStatus

# Schemes a client may hand the API as a source: never a path on the server's disk.
SOURCE_SCHEMES = ("http", "https", "s3")


class _Body(BaseModel):
    """A request body: an unknown field is refused, so a typo is not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _checked_scheme(value: str, schemes: tuple[str, ...], shown: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise ValueError(f"must be an {shown} URL")
    return value


class AssetFields(_Body):
    """What to call an asset, as every creating route takes it."""

    title: str | None = Field(default=None, max_length=1024)
    description: str | None = None
    category: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list)
    external_id: str | None = Field(default=None, max_length=256)
    folder: str | None = Field(default=None, max_length=1024)


class FileCreate(AssetFields):
    """POST /files and POST /tasks: a source to ingest and what to call the asset."""

    url: str = Field(description="An http(s) URL (signed or not), a video page, or s3://bucket/key")
    project: str | None = Field(
        default=None, max_length=200, description="A project name; made on first use"
    )
    filename: str | None = Field(default=None, max_length=512)
    identifier: str | None = Field(
        default=None,
        max_length=1024,
        description="Unique within the project; default: the URL without its signature",
    )

    @field_validator("url")
    @classmethod
    def _source_url(cls, value: str) -> str:
        return _checked_scheme(value, SOURCE_SCHEMES, "http(s) or s3://")


class TaskCreate(FileCreate):
    """POST /tasks: an ingest to run in the background."""

    kind: Literal["ingest"] = "ingest"
    webhook_url: str | None = Field(
        default=None,
        description="An http(s) URL told when this task ends (task.completed, task.failed)",
    )

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else _checked_scheme(value, ("http", "https"), "http(s)")


class UrlMedia(_Body):
    """Media to fetch from a URL."""

    file_url: str
    filename: str | None = Field(default=None, max_length=512)

    @field_validator("file_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _checked_scheme(value, ("http", "https"), "http(s)")


class S3Media(_Body):
    """Media to copy from S3: ``s3://bucket/key``."""

    s3_key: str
    filename: str | None = Field(default=None, max_length=512)

    @field_validator("s3_key")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        return _checked_scheme(value, ("s3",), "s3://bucket/key")


class ProjectAssetCreate(AssetFields):
    """POST /projects/{id}/assets: an asset, with media from a URL or S3, or none yet."""

    title: str = Field(min_length=1, max_length=1024)
    identifier: str | None = Field(default=None, max_length=1024)
    url: UrlMedia | None = None
    s3: S3Media | None = None


class AssetUpdate(AssetFields):
    """PUT /assets/{id}: the metadata to change; fields left out stay as they are."""

    tags: list[str] | None = None  # type: ignore[assignment]
    role: str | None = Field(default=None, max_length=64)


class ProjectCreate(_Body):
    """POST /projects."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None


class ProjectObject(BaseModel):
    """A project."""

    id: uuid.UUID
    object: Literal["project"] = "project"
    name: str
    description: str | None
    created: datetime


class FileObject(BaseModel):
    """An ingested file: the asset as the files API shows it, its original's facts."""

    id: uuid.UUID
    object: Literal["file"] = "file"
    project: str
    identifier: str
    kind: AssetKind
    content_type: str | None
    width: int | None
    height: int | None
    duration: float | None
    fps: float | None
    filesize: int | None
    sha256: str | None
    md5: str | None
    folder: str | None
    filename: str | None
    status: AssetStatus
    error: str | None
    download_url: str = Field(description="Where the original's bytes are: GET it with the key")
    created: datetime
    updated: datetime


class TaskObject(BaseModel):
    """A task: one ingest job, polled until it ends."""

    id: uuid.UUID
    object: Literal["task"] = "task"
    kind: JobKind
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    error: str | None
    asset_id: uuid.UUID | None
    created: datetime
    updated: datetime
    file: FileObject | None = Field(default=None, description="The file, once completed")
    webhook: WebhookCreated | None = Field(
        default=None,
        description="The one-off subscription of ``webhook_url``, with its secret: in the "
        "answer to POST /tasks only",
    )


class AssetObject(BaseModel):
    """An asset's own fields."""

    id: uuid.UUID
    object: Literal["asset"] = "asset"
    project_id: uuid.UUID
    project: str
    identifier: str
    external_id: str | None
    title: str | None
    description: str | None
    category: str | None
    tags: list[str]
    kind: AssetKind
    role: str | None
    status: AssetStatus
    processed: bool
    source: str
    filename: str | None
    folder: str | None
    content_type: str | None
    placeholder: str | None
    md5_sum: str | None = Field(description="The original's MD5, once stored")
    error: str | None
    created: datetime
    updated: datetime


class StoredFile(BaseModel):
    """One stored object of a format."""

    id: uuid.UUID
    name: str
    key: str
    size: int
    sha256: str
    md5: str
    content_type: str | None
    width: int | None
    height: int | None
    duration_s: float | None
    status: FileStatus
    technical: dict[str, Any]
    fingerprint: str | None = Field(
        default=None, description="An audio fragment's Chromaprint fingerprint (compressed)"
    )


class FileSetObject(BaseModel):
    """Where a format's files live."""

    id: uuid.UUID
    backend: str
    bucket: str
    files: list[StoredFile]


class FormatObject(BaseModel):
    """What one set of an asset's files is: ORIGINAL, PROXY, POSTER, SIZE_320 ..."""

    name: str
    technical: dict[str, Any]
    file_sets: list[FileSetObject]


class AssetDetail(AssetObject):
    """An asset with its whole graph: formats, file sets, files, jobs."""

    formats: list[FormatObject]
    tasks: list[TaskObject]


class EventObject(BaseModel):
    """One change, as the outbox recorded it; ``id`` only grows."""

    id: int
    object: Literal["event"] = "event"
    type: str
    asset_id: uuid.UUID | None
    task_id: uuid.UUID | None
    payload: dict[str, Any]
    created: datetime


class AssetPage(BaseModel):
    """A page of assets, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    data: list[AssetObject]
    next_cursor: str | None


class ProjectPage(BaseModel):
    """A page of projects, newest first."""

    data: list[ProjectObject]
    next_cursor: str | None


class EventPage(BaseModel):
    """A page of events in the order they were written; pass ``next_cursor`` as ``after``."""

    data: list[EventObject]
    next_cursor: int | None


class Health(BaseModel):
    """GET /healthz."""

    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"
    store: Literal["ok"] = "ok"


class WebhookCreate(_Body):
    """POST /webhooks: where to send events, and which."""

    url: str = Field(description="The receiver: an http(s) URL on a permitted address")
    events: list[str] = Field(
        default_factory=lambda: list(EVENT_TYPES),
        min_length=1,
        description="Event types to send; default: all",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _checked_scheme(value, ("http", "https"), "http(s)")

    @field_validator("events")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
        return value


class WebhookObject(BaseModel):
    """A webhook subscription (its secret is shown only when it is made)."""

    id: uuid.UUID
    object: Literal["webhook"] = "webhook"
    url: str
    events: list[str]
    task_id: uuid.UUID | None = Field(description="Set on a task's one-off subscription")
    created: datetime


class WebhookCreated(WebhookObject):
    """A subscription just made, with the secret that verifies its deliveries, shown this once."""

    secret: str = Field(description="whsec_...: give it to a Standard Webhooks verifier")


class WebhookPage(BaseModel):
    """The live subscriptions, oldest first."""

    data: list[WebhookObject]


class AttemptObject(BaseModel):
    """One try at a delivery: the receiver's status code, or why none came."""

    number: int
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted: datetime


class DeliveryObject(BaseModel):
    """One event owed to one subscription, and every try at it."""

    id: uuid.UUID
    object: Literal["delivery"] = "delivery"
    event_id: int = Field(description="Also the webhook-id header: a receiver drops repeats by it")
    event_type: str
    status: DeliveryStatus
    next_attempt: datetime | None = Field(description="When it is tried next, while pending")
    created: datetime
    delivered: datetime | None
    attempts: list[AttemptObject]


class DeliveryPage(BaseModel):
    """A page of deliveries, newest event first; pass ``next_cursor`` as ``before``."""

    data: list[DeliveryObject]
    next_cursor: int | None


class UploadFields(AssetFields):
    """The asset an upload becomes: the metadata fields of an upload's start or form."""

    project: str | None = Field(
        default=None, max_length=200, description="A project name; made on first use"
    )
    identifier: str | None = Field(
        default=None,
        max_length=1024,
        description="Unique within the project; default: upload://<session id>/<filename>",
    )


class UploadStart(UploadFields):
    """POST /assets as JSON: open a chunked upload session."""

    upload_phase: Literal["start"]
    file_size: int = Field(ge=1, description="The whole file's size in bytes")
    filename: str = Field(min_length=1, max_length=512)
    content_type: str | None = Field(default=None, max_length=128)


class UploadFinish(_Body):
    """POST /assets/{id}/multipart as JSON: close the session and ingest its bytes."""

    upload_phase: Literal["finish"]
    sha256: str | None = Field(
        default=None, pattern="^[0-9a-fA-F]{64}$", description="The file's sha256, checked"
    )
    md5: str | None = Field(
        default=None, pattern="^[0-9a-fA-F]{32}$", description="The file's md5, checked"
    )


class UploadSessionObject(BaseModel):
    """An upload session: how far its bytes have come, and what to send next."""

    id: uuid.UUID
    object: Literal["upload_session"] = "upload_session"
    protocol: str
    status: str
    filename: str
    content_type: str | None
    file_size: int
    offset: int = Field(description="The bytes received: the next chunk starts here")
    start_offset: int = Field(description="Where the next chunk starts (the offset)")
    end_offset: int = Field(description="Where the next chunk ends, at the chunk size")
    chunk_size: int
    expires: datetime
    task_id: uuid.UUID | None = Field(description="The ingest's task, once finished")
