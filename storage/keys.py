"""The one place that names object keys: everything is keyed by its content."""

from __future__ import annotations

import re

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def content_key(sha256: str) -> str:
    """Name the object that holds the bytes with this sha256 (``sha256/ab/cd/<hex>``).

    Originals and derivatives alike: the same bytes get the same key, so they
    are stored once and never rewritten. Fan-out by the first two byte pairs
    keeps directories small on the filesystem backend and listings cheap on S3.
    """
    digest = sha256.lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
