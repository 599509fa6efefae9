"""The tus 1.0 protocol's headers: what a request says and what an answer must carry.

    TUS_VERSION, TUS_EXTENSIONS, EXPOSED_HEADERS   what the server announces
    check_resumable(headers)      412 unless the client speaks tus 1.0.0
    parse_metadata(value)         Upload-Metadata -> {key: text}
    asset_fields(metadata)        the asset fields a tus upload's metadata names
    file_type(metadata)           the content type it claims
    parse_checksum(value)         Upload-Checksum -> the sha1 digest in hex (400: another one)
    parse_length(value, header)   Upload-Length / Upload-Offset -> an int
    http_date(when)               the RFC 7231 date of Upload-Expires
    TusMiddleware                 Tus-Resumable on every answer; X-HTTP-Method-Override

Only the wire format lives here; the routes are api/routes/tus.py, the bytes
go to the upload session layer.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
TUS_CHECKSUM_ALGORITHMS = "sha1"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
# Where the answer of the PATCH that completes an upload (and HEAD after it) names the task.
TASK_HEADER = "Assetflow-Task-Id"
# What a browser tus client (tus-js-client, Uppy) must be able to read from an answer.
EXPOSED_HEADERS = (
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Expires",
    "Upload-Defer-Length",
    "Upload-Concat",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    TASK_HEADER,
)
# What a browser may send cross-origin (the answer to a preflight request).
ALLOWED_HEADERS = (
    "Authorization",
    "X-API-KEY",
    "Content-Type",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Checksum",
    "Upload-Defer-Length",
    "Upload-Concat",
    "Tus-Resumable",
    "X-HTTP-Method-Override",
    "X-Requested-With",
)
# Metadata keys that become a field of the asset as they are.
_TEXT_FIELDS = (
    "project",
    "identifier",
    "title",
    "description",
    "category",
    "external_id",
    "folder",
)
# Uppy sends the file's name and type under these keys as well as filename / filetype.
_FILENAME_KEYS = ("filename", "name")
_FILETYPE_KEYS = ("filetype", "type")


def check_resumable(headers: Headers) -> None:
    """Refuse (412) a request that does not speak tus 1.0.0."""
    version = headers.get("tus-resumable")
    if version != TUS_VERSION:
        raise ApiError(
            412,
            f"this server speaks tus {TUS_VERSION}: send 'Tus-Resumable: {TUS_VERSION}'",
            field="Tus-Resumable",
        )


def parse_metadata(value: str | None) -> dict[str, str]:
    """Decode Upload-Metadata: comma-separated pairs of a key and its base64 value (or a key)."""
    metadata: dict[str, str] = {}
    for pair in (value or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        if key in metadata:
            raise ApiError(400, f"Upload-Metadata names {key!r} twice", field="Upload-Metadata")
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(
                400,
                f"Upload-Metadata: the value of {key!r} is not base64 of UTF-8 text",
                field="Upload-Metadata",
            ) from exc
    return metadata


def _first(metadata: dict[str, str], keys: tuple[str, ...]) -> str:
    return next((metadata[key] for key in keys if metadata.get(key)), "")


def asset_fields(metadata: dict[str, str]) -> dict[str, Any]:
    """Return the asset fields (AssetRequest's names) the metadata gives.

    ``tags`` is comma-separated; the file's name is ``filename`` (or Uppy's
    ``name``). Keys assetflow does not know (Uppy's ``relativePath``, ...) are
    ignored.
    """
    fields: dict[str, Any] = {name: metadata[name] for name in _TEXT_FIELDS if name in metadata}
    if "tags" in metadata:
        fields["tags"] = [tag.strip() for tag in metadata["tags"].split(",") if tag.strip()]
    fields["filename"] = _first(metadata, _FILENAME_KEYS)
    return fields


def file_type(metadata: dict[str, str]) -> str | None:
    """Return the content type the client claims (``filetype``, or Uppy's ``type``)."""
    return _first(metadata, _FILETYPE_KEYS) or None


def parse_checksum(value: str | None) -> str | None:
    """Return the sha1 digest Upload-Checksum gives, in hex, or None without one.

    Another algorithm answers 400, as the checksum extension asks.
    """
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm.lower() != "sha1":
        raise ApiError(
            400,
            f"Upload-Checksum: the algorithm {algorithm!r} is not supported; use sha1",
            field="Upload-Checksum",
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 20:
        raise ApiError(
            400,
            "Upload-Checksum: the sha1 digest is not 20 bytes in base64",
            field="Upload-Checksum",
        )
    return digest.hex()


def parse_length(value: str | None, header: str) -> int | None:
    """Read a non-negative integer header (Upload-Length, Upload-Offset); None when absent."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ApiError(400, f"{header} must be a non-negative integer", field=header)
    return int(value.strip())


def http_date(when: datetime) -> str:
    """Format a time as RFC 7231 wants it (Upload-Expires); a naive time is taken as UTC."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return format_datetime(aware.astimezone(UTC), usegmt=True)


class TusMiddleware:
    """Under /uploads: take X-HTTP-Method-Override, and say Tus-Resumable on every answer.

    Every answer, errors included, carries ``Tus-Resumable`` (the core
    protocol asks it of all but OPTIONS, where it does no harm). A client
    that cannot send PATCH or DELETE (an old proxy, some browsers' fetch
    polyfills) sends POST with ``X-HTTP-Method-Override``, as tus allows.
    """

    def __init__(self, app: ASGIApp, *, prefix: str = "/uploads") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        override = Headers(scope=scope).get("x-http-method-override")
        if override and scope["method"] == "POST":
            scope = {**scope, "method": override.strip().upper()}

        async def send_resumable(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Tus-Resumable"] = TUS_VERSION
            await send(message)

        await self.app(scope, receive, send_resumable)
