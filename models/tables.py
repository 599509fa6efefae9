"""The SQLModel tables of the asset graph.

Project -> Collection(s) -> Asset; an asset points at many files through
Format (what a set of files is) -> FileSet (where it lives) -> File (one
stored object), and every File names the Blob that holds its bytes. Enums are
stored as plain strings so PostgreSQL and SQLite hold the same schema and a new
value needs no type migration.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from core.kinds import AssetKind

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class AssetStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"


class FileStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobKind(StrEnum):
    INGEST = "ingest"
    REPROCESS = "reprocess"


# Names of formats that are not image sizes; sizes are SIZE_<longest edge>.
ORIGINAL = "ORIGINAL"
PROXY = "PROXY"
POSTER = "POSTER"
KEYFRAMES = "KEYFRAMES"
AUDIO_FRAGMENT = "AUDIO_FRAGMENT"
WAVEFORM = "WAVEFORM"


SIZE_PREFIX = "SIZE_"


def size_format(edge: int) -> str:
    """Name the format of an image size by its longest edge."""
    return f"{SIZE_PREFIX}{edge}"


# Table of projects: the top of the graph; identifiers are unique within one.
class Project(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_type=String(200), unique=True, index=True)
    description: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _timestamp()


# Table of drop folders: S3 prefixes the batch flow reads; assets that arrive
# through one carry its id. A row is written the first time a batch reads it.
class DropFolder(SQLModel, table=True):
    __tablename__ = "drop_folder"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # s3://bucket/prefix/, as the batch was given it (normalised, redacted).
    location: str = Field(sa_type=String(1024), unique=True)
    created_at: datetime = _timestamp()


# Table of collections: named groups of assets inside a project, nested in a tree.
class Collection(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        # An asset's collections are listed newest first from a cursor.
        Index("ix_collection_created_at_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="project.id", index=True)
    # The collection this one is nested in (None: at the top of its project).
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="collection.id", index=True)
    name: str = Field(sa_type=String(200))
    created_at: datetime = _timestamp()


# Membership of an asset in a collection (many to many).
class CollectionAsset(SQLModel, table=True):
    __tablename__ = "collection_asset"

    collection_id: uuid.UUID = Field(foreign_key="collection.id", primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", primary_key=True, index=True)


# Fields an asset shares between its table and the interfaces that create it.
class AssetBase(SQLModel):
    identifier: str = Field(sa_type=String(1024))
    external_id: str | None = Field(default=None, sa_type=String(256))
    title: str | None = Field(default=None, sa_type=String(1024))
    description: str | None = Field(default=None, sa_type=Text)
    category: str | None = Field(default=None, sa_type=String(200))
    tags: list[str] = Field(default_factory=list, sa_type=JSONType)
    role: str | None = Field(default=None, sa_type=String(64))


# Table of assets: one piece of media and everything known about it.
class Asset(AssetBase, table=True):
    # Listing walks (created_at, id) newest first from a cursor (models/listing.py):
    # one index per filter it takes, each ending in that order, so a page reads
    # its rows and no more, however large the library.
    __table_args__ = (
        UniqueConstraint("project_id", "identifier"),
        Index("ix_asset_created_at_id", "created_at", "id"),
        Index("ix_asset_project_created_at_id", "project_id", "created_at", "id"),
        Index("ix_asset_status_created_at_id", "status", "created_at", "id"),
        Index("ix_asset_kind_created_at_id", "kind", "created_at", "id"),
        # A search (ILIKE '%word%') finds the few rows holding a rare word through
        # these trigram indexes instead of reading every row (PostgreSQL's pg_trgm).
        Index(
            "ix_asset_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_asset_identifier_trgm",
            "identifier",
            postgresql_using="gin",
            postgresql_ops={"identifier": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="project.id")
    kind: AssetKind = Field(default=AssetKind.OTHER, sa_type=String(16))
    status: AssetStatus = Field(default=AssetStatus.PENDING, sa_type=String(16))
    processed: bool = False
    # The source as given, with credentials and signatures redacted.
    source: str = Field(sa_type=Text)
    original_filename: str | None = Field(default=None, sa_type=String(512))
    folder: str | None = Field(default=None, sa_type=String(1024))
    content_type: str | None = Field(default=None, sa_type=String(128))
    # A BlurHash string UIs paint before the image loads (images only).
    placeholder: str | None = Field(default=None, sa_type=String(128))
    error: str | None = Field(default=None, sa_type=Text)
    # While processing: when its run's lease runs out unless renewed (flows/lease.py);
    # a processing asset past it belongs to a run that died, and may be taken over.
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The asset this one hangs off: a product's image or video names the product.
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="asset.id", index=True)
    # The drop folder the asset arrived through (a batch of an S3 prefix).
    drop_folder_id: uuid.UUID | None = Field(default=None, foreign_key="drop_folder.id")
    # The name of the API key that created it.
    owner: str | None = Field(default=None, sa_type=String(200))
    # Free JSON a client attached (a product's image or video), kept verbatim.
    data: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # Tags a model gave it; nothing fills them yet.
    ai_tags: list[str] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


# One tag of an asset, with the asset's creation time: listing by tag walks
# (tag, created_at, asset_id) in order instead of reading every asset's tags.
# Kept equal to Asset.tags by models/graph.py.
class AssetTag(SQLModel, table=True):
    __tablename__ = "asset_tag"
    __table_args__ = (
        Index("ix_asset_tag_tag_created_at_asset_id", "tag", "created_at", "asset_id"),
    )

    asset_id: uuid.UUID = Field(foreign_key="asset.id", primary_key=True)
    tag: str = Field(sa_type=Text, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


# A relation between two assets, e.g. a likely near-duplicate image.
class AssetLink(SQLModel, table=True):
    __tablename__ = "asset_link"
    __table_args__ = (UniqueConstraint("asset_id", "other_id", "relation"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True)
    other_id: uuid.UUID = Field(foreign_key="asset.id", index=True)
    relation: str = Field(sa_type=String(32))
    distance: int | None = None
    created_at: datetime = _timestamp()


# Table of formats: what one set of an asset's files is, with its technical metadata.
class Format(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("asset_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True)
    name: str = Field(sa_type=String(64))
    # codec, width, height, frame rate, duration, bit rate, streams ...
    technical: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Digest of the recipe step and source content that made it: unchanged
    # recipe + unchanged source = nothing to recompute on a re-run.
    recipe_key: str | None = Field(default=None, sa_type=String(64))
    created_at: datetime = _timestamp()


# Table of file sets: where a format's files live (backend, bucket) and what they hold.
class FileSet(SQLModel, table=True):
    __tablename__ = "file_set"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    format_id: uuid.UUID = Field(foreign_key="format.id", index=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True)
    backend: str = Field(sa_type=String(16))
    bucket: str = Field(sa_type=String(1024))
    # A file set built by hand: its name, and the configured storage its files stay
    # on in place (Settings.storages; None: the content store).
    name: str | None = Field(default=None, sa_type=String(512))
    storage: str | None = Field(default=None, sa_type=String(64))
    # What the set's files carry, e.g. [{"name": "V1", "type": "video"}, ...].
    components: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = _timestamp()


# Table of blobs: one row per stored content; the same bytes are stored once. The
# row is written (claimed) before its object is stored, so a crash in between
# leaves a row that garbage collection finds (models/gc.py).
class Blob(SQLModel, table=True):
    sha256: str = Field(sa_type=String(64), primary_key=True)
    md5: str = Field(sa_type=String(32))
    size: int = Field(sa_type=BigInteger)
    content_type: str | None = Field(default=None, sa_type=String(128))
    backend: str = Field(sa_type=String(16))
    bucket: str = Field(sa_type=String(1024))
    key: str = Field(sa_type=String(256))
    # When an ingest last said it is about to store or refer to this content:
    # garbage collection leaves the object alone for a grace period after it.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp()


# Table of files: one stored object as a member of a file set.
class File(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    file_set_id: uuid.UUID = Field(foreign_key="file_set.id", index=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True)
    # None while a file registered by hand is OPEN: its bytes are not yet verified.
    sha256: str | None = Field(
        default=None, foreign_key="blob.sha256", sa_type=String(64), index=True
    )
    # The component's name inside its set (e.g. "sheet-000.jpg", "fragment-0003.opus").
    name: str = Field(sa_type=String(512))
    # The content key in the content store, or the path on ``storage`` of a file in place.
    key: str = Field(sa_type=String(1024))
    # The configured storage a file in place lives on (None: the content store).
    storage: str | None = Field(default=None, sa_type=String(64))
    # The checksum its registration declared (MD5 or SHA-256 hex), checked when it is closed.
    checksum: str | None = Field(default=None, sa_type=String(64))
    # Why the last attempt to close it failed (a checksum or size that does not match).
    error: str | None = Field(default=None, sa_type=Text)
    size: int = Field(sa_type=BigInteger)
    md5: str = Field(sa_type=String(32))
    content_type: str | None = Field(default=None, sa_type=String(128))
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    status: FileStatus = Field(default=FileStatus.OPEN, sa_type=String(8))
    technical: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _timestamp()


# Perceptual hashes of an image, as signed 64-bit integers for Hamming search.
# The phash is also cut into four 16-bit bands, each indexed with the hash and
# the asset (covering: a probe never reads the table), which is how
# models/similarity.py finds the hashes within a distance without a scan.
class ImageHash(SQLModel, table=True):
    __tablename__ = "image_hash"
    __table_args__ = tuple(
        Index(f"ix_image_hash_phash_band{k}", f"phash_band{k}", "phash", "asset_id")
        for k in range(4)
    )

    asset_id: uuid.UUID = Field(foreign_key="asset.id", primary_key=True)
    phash: int = Field(sa_type=BigInteger)
    dhash: int = Field(sa_type=BigInteger)
    # Bits 16k..16k+15 of the unsigned phash (see models/similarity.py: phash_bands).
    phash_band0: int
    phash_band1: int
    phash_band2: int
    phash_band3: int
    created_at: datetime = _timestamp()


# A Chromaprint fingerprint of a whole audio track or of one fragment of it.
class AudioFingerprint(SQLModel, table=True):
    __tablename__ = "fingerprint"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True)
    # The fragment's file; None for the whole-track fingerprint. Indexed: removing
    # a format deletes its fragments' fingerprints by file.
    file_id: uuid.UUID | None = Field(default=None, foreign_key="file.id", index=True)
    offset_s: float = 0.0
    duration_s: float
    compressed: str = Field(sa_type=Text)
    raw: list[int] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = _timestamp()


# The inverted index of fingerprint items that clip matching looks terms up in.
# The term index covers the postings, so a lookup reads only index pages.
class FingerprintTerm(SQLModel, table=True):
    __tablename__ = "fingerprint_term"
    __table_args__ = (
        Index("ix_fingerprint_term_term_posting", "term", "fingerprint_id", "position"),
    )

    fingerprint_id: uuid.UUID = Field(foreign_key="fingerprint.id", primary_key=True)
    position: int = Field(primary_key=True)
    term: int = Field(sa_type=BigInteger)


# Table of ingest jobs: the unit a user submits and polls.
class IngestJob(SQLModel, table=True):
    __tablename__ = "ingest_job"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: JobKind = Field(default=JobKind.INGEST, sa_type=String(16))
    status: JobStatus = Field(default=JobStatus.PENDING, sa_type=String(16), index=True)
    # What the user asked for, with the source redacted.
    input: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The source as given, when redaction changed it (a signed URL): the flow run
    # reads it here, since Prefect records run parameters as given; erased (None)
    # once the fetch has ended, and when the job ends.
    secret_source: str | None = Field(default=None, sa_type=Text)
    asset_id: uuid.UUID | None = Field(default=None, foreign_key="asset.id", index=True)
    idempotency_key: str | None = Field(default=None, sa_type=String(200), unique=True)
    # Indexed: a run's end hook finds its jobs by it.
    flow_run_id: uuid.UUID | None = Field(default=None, index=True)
    progress: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


# The outbox: asset and job events written in the same transaction as the change.
# ``id`` only grows (an identity on PostgreSQL, AUTOINCREMENT on SQLite, never
# reused): readers page by it and a receiver drops a duplicate by it. Ids are
# handed out at insert, not at commit, so a reader that has seen id N may still
# see a smaller id commit later: a sender tracks delivery per row, not a high-water mark.
class Event(SQLModel, table=True):
    __table_args__ = (
        # The events not yet handed to webhook subscriptions: few, looked up often.
        Index(
            "ix_event_undelivered",
            "id",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=BigInteger().with_variant(Integer(), "sqlite"),
    )
    asset_id: uuid.UUID | None = Field(default=None, foreign_key="asset.id", index=True)
    job_id: uuid.UUID | None = Field(default=None, foreign_key="ingest_job.id", index=True)
    type: str = Field(sa_type=String(64))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _timestamp()
    # When the webhook sender made this event's deliveries (None: not yet).
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# A key to the HTTP API: only its SHA-256 is kept; the key itself is shown once.
class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_type=String(200))
    # The key's public part (it starts every key), looked up before the hash is compared.
    prefix: str = Field(sa_type=String(32), unique=True, index=True)
    key_sha256: str = Field(sa_type=String(64))
    scopes: list[str] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = _timestamp()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due, leased to a sender, or waiting for its next retry
    DELIVERED = "delivered"
    FAILED = "failed"  # retries exhausted, or the receiver's address is refused
    CANCELLED = "cancelled"  # its subscription was deleted first


# A receiver of events: its URL, the event types it takes, and the secret that signs
# them (kept as given: signing needs it). ``job_id`` makes it a task's one-off
# subscription, which takes only that task's events.
class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(sa_type=Text)
    events: list[str] = Field(default_factory=list, sa_type=JSONType)
    secret: str = Field(sa_type=String(128))
    job_id: uuid.UUID | None = Field(default=None, foreign_key="ingest_job.id", index=True)
    created_at: datetime = _timestamp()
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# One event owed to one subscription. Deliveries with the same ``order_key`` (the
# event's asset, else its task) go out one at a time in event order.
# ``next_attempt_at`` is when a sender may take it: a claim moves it on by the
# lease, a failure by the retry delay.
class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_order", "subscription_id", "order_key", "status", "event_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id")
    event_id: int = Field(
        foreign_key="event.id", sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    order_key: str = Field(sa_type=String(64))
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime = _timestamp()
    created_at: datetime = _timestamp()
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# One try at a delivery: the receiver's status code, or why no answer came.
class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="webhook_delivery.id", index=True)
    number: int
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int = 0
    attempted_at: datetime = _timestamp()


class UploadProtocol(StrEnum):
    CHUNKED = "chunked"  # POST /assets upload_phase start, transfer, finish
    TUS = "tus"  # tus 1.0 at /uploads/
    FORM = "form"  # POST /assets as multipart/form-data: one piece, its size known at the end


class UploadStatus(StrEnum):
    OPEN = "open"  # taking bytes
    FINISHED = "finished"  # all bytes in, its ingest job written (``job_id``)


# An upload session: a file arriving over HTTP in pieces, staged in the object store
# (an S3 multipart upload, or a file under the filesystem store's root) until its
# ingest. Everything a process needs to take the next piece is here, so any API
# process can, and a restart loses nothing. ``offset`` only counts bytes written
# to the store or held in ``tail``. ``writer`` and ``writer_until`` lease the
# session to the one request writing a piece (see api/sessions.py).
class UploadSession(SQLModel, table=True):
    __tablename__ = "upload_session"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # The API key that opened it: only that key may add to it, and its quota counts it.
    key_id: uuid.UUID = Field(foreign_key="api_key.id", index=True)
    protocol: UploadProtocol = Field(sa_type=String(8))
    status: UploadStatus = Field(default=UploadStatus.OPEN, sa_type=String(16))
    # The AssetRequest to ingest once finished (its source names this session).
    request: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    filename: str = Field(default="", sa_type=String(512))
    content_type: str | None = Field(default=None, sa_type=String(128))
    # tus: the Upload-Metadata header as the client sent it, to send back on HEAD.
    tus_metadata: str | None = Field(default=None, sa_type=Text)
    file_size: int = Field(sa_type=BigInteger)
    offset: int = Field(default=0, sa_type=BigInteger)
    # Where the bytes are staged: the store's backend and bucket, the staging key,
    # and on S3 the multipart upload's id.
    backend: str = Field(sa_type=String(16))
    bucket: str = Field(sa_type=String(1024))
    staged_key: str = Field(sa_type=String(256))
    s3_upload_id: str | None = Field(default=None, sa_type=String(1024))
    # The size of the parts a long piece is cut into (S3 takes at most 10 000 parts).
    part_size: int = Field(sa_type=BigInteger)
    # The parts written so far: [{"number", "etag", "size"}], in order.
    parts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # Bytes received but not yet a part: S3 parts but the last are at least
    # 5 MiB, so smaller pieces wait here (never 5 MiB or more). Kept in the row so
    # that they commit with ``offset`` and any process can continue.
    tail: bytes = Field(default=b"", sa_type=LargeBinary)
    writer: str | None = Field(default=None, sa_type=String(64))
    writer_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    job_id: uuid.UUID | None = Field(default=None, foreign_key="ingest_job.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
