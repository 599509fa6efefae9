"""Open s3://bucket/key sources on the configured S3 endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from pydantic import SecretStr

from core.errors import InvalidSource, SourceNotFound
from core.settings import Settings
from tasks.filenames import safe_filename
from tasks.source_stream import SourceStream
from tasks.spool import CHUNK_BYTES


def split_s3_url(source: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key (the key is taken literally)."""
    parts = urlsplit(source)
    key = parts.path.lstrip("/")
    if not parts.netloc or not key or parts.query or parts.fragment:
        raise InvalidSource(f"malformed S3 source {source}: expected s3://bucket/key")
    return parts.netloc, key


@contextmanager
def open_s3(source: str, *, settings: Settings) -> Iterator[SourceStream]:
    """Open an object of the S3 endpoint in ``settings`` for streaming."""
    # Imported here: the minio SDK is only loaded when an s3:// source is fetched.
    from storage.s3 import S3Store

    bucket, key = split_s3_url(source)
    if settings.s3_endpoint is None:
        raise InvalidSource(f"cannot fetch {source}: set ASSETFLOW_S3_ENDPOINT first")
    store = S3Store(
        endpoint=settings.s3_endpoint,
        access_key=_secret(settings.s3_access_key),
        secret_key=_secret(settings.s3_secret_key),
        bucket=bucket,
        region=settings.s3_region,
        secure=settings.s3_secure,
    )
    info = store.stat(key)
    if info is None:
        raise SourceNotFound(f"{source} does not exist")
    with store.open(key) as stream:
        yield SourceStream(
            chunks=iter(lambda: stream.read(CHUNK_BYTES), b""),
            size=info.size,
            content_type=info.content_type,
            filename=safe_filename(key.rsplit("/", 1)[-1]),
        )


def _secret(value: SecretStr | None) -> str:
    # An empty access key makes minio read anonymously (public buckets).
    return "" if value is None else value.get_secret_value()
