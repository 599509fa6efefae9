"""The object store: content-addressed keys on a filesystem or S3 backend, chosen by URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from core.settings import Settings
from storage.base import ObjectInfo, ObjectStore, PutResult
from storage.filesystem import FilesystemStore
from storage.keys import content_key
from storage.s3 import S3Store

__all__ = [
    "FilesystemStore",
    "ObjectInfo",
    "ObjectStore",
    "PutResult",
    "S3Store",
    "content_key",
    "open_store",
    "store_at",
]


def open_store(settings: Settings) -> ObjectStore:
    """Build the content store that ``settings.storage_url`` names (see ``store_at``)."""
    return store_at(settings, settings.storage_url)


def store_at(settings: Settings, url: str) -> ObjectStore:
    """Build the store a storage URL names.

    ``file:///abs/path`` or ``file://./relative/path`` (relative to the working
    directory; created if missing) or ``s3://bucket[/prefix]`` with the
    endpoint and keys from the ``s3_*`` settings. The S3 bucket is not created
    here: see ``S3Store.ensure_bucket``.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        return _filesystem_store(url, parts.netloc, parts.path)
    if parts.scheme == "s3":
        return _s3_store(settings, url, bucket=parts.netloc, prefix=parts.path)
    raise ValueError(
        f"unsupported storage URL scheme {parts.scheme!r} in {url!r}: "
        "use file:///abs/path, file://./relative/path or s3://bucket[/prefix]"
    )


def _filesystem_store(url: str, netloc: str, path: str) -> FilesystemStore:
    # file://./data parses as netloc "." and path "/data"; file:///srv as netloc "".
    if netloc in (".", ".."):
        root = Path.cwd() / netloc / path.lstrip("/")
    elif netloc not in ("", "localhost"):
        raise ValueError(
            f"storage URL {url!r} names host {netloc!r}: use file:///abs/path "
            "or file://./relative/path"
        )
    elif not path.strip("/"):
        raise ValueError(f"storage URL {url!r} names no directory")
    else:
        root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    return FilesystemStore(root)


def _s3_store(settings: Settings, url: str, *, bucket: str, prefix: str) -> S3Store:
    if not bucket:
        raise ValueError(f"storage URL {url!r} names no bucket: use s3://bucket[/prefix]")
    endpoint, access_key, secret_key = (
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key,
    )
    if not endpoint or access_key is None or secret_key is None:
        missing = [
            name
            for name, value in (
                ("ASSETFLOW_S3_ENDPOINT", endpoint),
                ("ASSETFLOW_S3_ACCESS_KEY", access_key),
                ("ASSETFLOW_S3_SECRET_KEY", secret_key),
            )
            if not value
        ]
        raise ValueError(f"storage URL {url!r} needs {', '.join(missing)} to be set")
    return S3Store(
        endpoint=endpoint,
        access_key=access_key.get_secret_value(),
        secret_key=secret_key.get_secret_value(),
        bucket=bucket,
        region=settings.s3_region,
        secure=settings.s3_secure,
        prefix=prefix,
        outage_window_s=settings.outage_window_s,
    )
