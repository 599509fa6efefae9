"""The one settings object: every knob, from ``ASSETFLOW_*`` environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

GIB = 1024**3

DEFAULT_YTDLP_EXTRACTORS = (
    "generic",
    "youtube",
    "vimeo",
    "dailymotion",
    "twitch",
    "twitter",
    "facebook",
    "instagram",
    "tiktok",
    "reddit",
    "soundcloud",
    "bandcamp",
    "bilibili",
    "archive.org",
    "streamable",
    "wistia",
)


class Settings(BaseSettings):
    """Validated configuration; build it once per process or flow run and pass it down."""

    model_config = SettingsConfigDict(env_prefix="ASSETFLOW_", env_file=".env", extra="ignore")

    # Object store: file:///abs/path (or file://./relative) or s3://bucket[/prefix].
    storage_url: str = "file://./data/objects"
    s3_endpoint: str | None = Field(default=None, description="host:port of the S3 endpoint")
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_secure: bool = True

    # Asset store: a SQLAlchemy URL (sqlite:///... or postgresql+psycopg://...).
    database_url: str = "sqlite:///./data/assetflow.db"

    # Faults (core/outage.py, flows/lease.py, models/gc.py). A lost database or S3
    # connection is retried for this long before the item fails: a PostgreSQL or
    # S3 restart takes seconds.
    outage_window_s: float = Field(default=60.0, ge=0.0)
    # A processing asset's lease: its run renews it every third of this; once it
    # has run out (the worker died), the next run of the asset takes it over.
    # Longer than the outage window, so an item riding out an outage keeps it.
    lease_s: float = Field(default=180.0, gt=0.0)
    # Stored objects nothing refers to are collected once older than this: far
    # longer than any ingest takes between claiming content and recording it.
    gc_grace_s: float = Field(default=24 * 3600.0, ge=0.0)

    # Sources.
    max_source_bytes: int = 20 * GIB
    # Networks that may be fetched although private (e.g. 127.0.0.1/32 in tests,
    # or a lab NAS). Empty: only public addresses are fetched.
    allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    # Local directories that file:// and plain path sources may read below.
    local_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_redirects: int = 5

    # yt-dlp extractors a video page may be read with, by name as yt-dlp lists
    # them (`yt-dlp --list-extractors`, case-insensitive); a name also allows its
    # sub-extractors ("youtube" allows "youtube:tab"); "all" allows every one.
    # Each extractor is code that parses what a remote page says, so the default
    # is the generic page reader and the big video sites.
    ytdlp_extractors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_YTDLP_EXTRACTORS)
    )

    # Scratch space for downloads and renditions; None: the system temp dir.
    temp_dir: Path | None = None

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_retry_schedule_s", "api_cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        # A lease that lapsed while its attempt was still waiting for an answer
        # would let a second sender post the same delivery at the same time.
        if self.webhook_lease_s <= self.webhook_timeout_s:
            raise ValueError("webhook_lease_s must be longer than webhook_timeout_s")
        return self

    @field_validator("ytdlp_extractors", mode="before")
    @classmethod
    def _split_extractors(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [str(part).strip().lower() for part in value if str(part).strip()]
        return value

    @field_validator("local_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part.strip()) for part in value.split(",") if part.strip()]
        return value

    @field_validator("local_roots")
    @classmethod
    def _resolve_roots(cls, value: list[Path]) -> list[Path]:
        return [root.expanduser().resolve() for root in value]

    # Orchestration (deployments/): the process work pool the deployments run on.
    work_pool: str = "assetflow"
    # When the batch-ingest deployment runs, and the manifest (path, URL or s3://
    # drop folder) it reads then; without a manifest the deployment has no schedule.
    batch_schedule_cron: str = "0 * * * *"
    batch_manifest: str | None = None
    # A flow run whose heartbeats (every 30 s, Prefect's minimum) stop for this long
    # is marked Crashed by the server, and its job failed: 90 s is three missed beats.
    crash_after_silent_s: float = Field(default=90.0, gt=30.0)

    # Batch ingest: items ingested at once, and where the fan-out runs. With a
    # Dask scheduler address (tcp://host:8786) the items run on that cluster
    # through prefect-dask; without one, on threads of the flow's process.
    batch_concurrency: int = Field(default=4, ge=1)
    # Most items one task run of the batch ingests, one after another: a task run
    # costs Prefect tens of ms, on Dask hundreds (bench/bench_orchestration.py).
    batch_items_per_task: int = Field(default=8, ge=1, le=100)
    dask_address: str | None = None

    # Transcodes at once across all workers (a Prefect global concurrency limit
    # that serve/deploy create): one per 2-core worker keeps them from thrashing.
    transcode_slots: int = Field(default=1, ge=1)

    # HTTP API (assetflow api): how long POST /files waits for its ingest before
    # answering 202 with the task instead, and, when it runs ingests itself (no
    # PREFECT_API_URL), how many at once.
    api_sync_timeout_s: float = Field(default=30.0, ge=0.0)
    api_ingest_workers: int = Field(default=2, ge=1)
    # Web pages on these origins (``https://cms.example.com``) may call the API from a
    # browser (CORS), tus uploads included; empty: only pages the API serves itself.
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # GET /files/{id}/content on S3: redirect to a presigned URL (the S3 endpoint
    # must then be reachable by the API's clients), or stream through the API.
    api_s3_redirect: bool = True
    # Largest body POST /match takes (a clip is matched on its first 2 minutes).
    api_max_clip_bytes: int = Field(default=512 * 1024**2, ge=1)

    # Uploads over HTTP (POST /assets, /assets/{id}/multipart, tus at /uploads/).
    # The chunk size the chunked phases answer; a long piece is also cut into
    # parts of this size, so the API holds at most this much of one upload in memory.
    upload_chunk_bytes: int = Field(default=52_428_800, ge=5 * 1024**2)
    # Largest upload, direct or in pieces (a direct upload past it answers 413).
    upload_max_bytes: int = Field(default=20 * GIB, ge=1)
    # An upload session not finished this long after its last piece is aborted
    # (its S3 multipart upload or staging file removed) by `assetflow gc`.
    upload_expiry_s: float = Field(default=24 * 3600.0, gt=0.0)
    # Per API key: open upload sessions, and the bytes they announce, at once (429 past either).
    upload_max_sessions_per_key: int = Field(default=20, ge=1)
    upload_max_open_bytes_per_key: int = Field(default=100 * GIB, ge=1)

    # Webhooks (api/webhooks): seconds to wait before each retry of a failed
    # delivery, each stretched or shrunk by up to a fifth at random (jitter);
    # after the last, the delivery is given up. The default is Svix's schedule
    # (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): retries span about 27 hours.
    webhook_retry_schedule_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    # One attempt's connect and read limit; the receiver answers within it or it is a failure.
    webhook_timeout_s: float = Field(default=15.0, gt=0.0)
    # How long a claimed delivery is held by its sender: another sender takes it up
    # only after this (a sender killed mid-delivery). Longer than an attempt can last.
    webhook_lease_s: float = Field(default=60.0, gt=0.0)
    # Seconds a sender waits between looks at the outbox when nothing was due.
    webhook_poll_s: float = Field(default=1.0, gt=0.0)
    # Deliveries sent at once by one sender (each to a different asset: order holds per asset).
    webhook_concurrency: int = Field(default=8, ge=1)
