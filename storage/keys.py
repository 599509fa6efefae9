"""The one place that names object keys: everything is keyed by its content."""

from __future__ import annotations

import re

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Every content key starts with this.
CONTENT_PREFIX = "sha256/"
# Every staging key (an upload session's bytes until its ingest) starts with this.
STAGING_PREFIX = "uploads/"


def content_key(sha256: str) -> str:
    """Name the object that holds the bytes with this sha256 (``sha256/ab/cd/<hex>``).

    Originals and derivatives alike: the same bytes get the same key, so they
    are stored once and never rewritten. Fan-out by the first two byte pairs
    keeps directories small on the filesystem backend and listings cheap on S3.
    """
    digest = sha256.lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"{CONTENT_PREFIX}{digest[:2]}/{digest[2:4]}/{digest}"


def sha256_of_key(key: str) -> str | None:
    """Return the sha256 a content key names, or None for a key that is not one."""
    digest = key.rsplit("/", 1)[-1]
    if _SHA256_HEX.fullmatch(digest) and content_key(digest) == key:
        return digest
    return None


def staged_key(session_id: str) -> str:
    """Name the staging object of an upload session (``uploads/<session id>``)."""
    if not re.fullmatch(r"[0-9a-f-]{36}", session_id):
        raise ValueError(f"not an upload session id: {session_id!r}")
    return f"{STAGING_PREFIX}{session_id}"
