"""Open upload://<session id>/<filename> sources: a finished upload, staged in the object store.

An upload over HTTP (api/sessions.py) ends as an ingest of this source. Its
fetch reads the staged object once, into the work file the probes and
derivatives need anyway, hashing sha256 and md5 on the way: that read is
what names the object. The store step then moves the staged object under its
content key (``ObjectStore.adopt_staged``: a rename, or a server-side copy on
S3) instead of uploading the work file again. Checksums the client gave at
finish ride along as ``expected_sha256`` and ``expected_md5`` and are checked
against what the fetch hashed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from core.errors import InvalidSource
from core.settings import Settings
from storage import open_store
from storage.keys import staged_key
from tasks.filenames import safe_filename
from tasks.source_stream import SourceStream
from tasks.spool import CHUNK_BYTES

SCHEME = "upload"


def upload_source(
    session_id: uuid.UUID, filename: str = "", *, sha256: str | None = None, md5: str | None = None
) -> str:
    """Name an upload session as an ingest source, with the checksums to check, if any."""
    source = f"{SCHEME}://{session_id}/{quote(filename, safe='')}"
    checks = {
        name: value.lower()
        for name, value in (("expected_sha256", sha256), ("expected_md5", md5))
        if value
    }
    return f"{source}?{urlencode(checks)}" if checks else source


def staged_key_of(source: str) -> str | None:
    """Return the staging key an upload source names, or None for any other source."""
    if not source.startswith(f"{SCHEME}://"):
        return None  # before any parse: other sources may not parse as URLs at all
    try:
        session_id = uuid.UUID(urlsplit(source).netloc)
    except ValueError as exc:
        raise InvalidSource(f"malformed upload source {source}: expected upload://<id>/") from exc
    return staged_key(str(session_id))


def expected_digests(source: str) -> tuple[str | None, str | None]:
    """Return the sha256 and md5 an upload source says its bytes have (None: not said)."""
    query = parse_qs(urlsplit(source).query)
    return (
        query.get("expected_sha256", [None])[0],
        query.get("expected_md5", [None])[0],
    )


@contextmanager
def open_upload(source: str, *, settings: Settings) -> Iterator[SourceStream]:
    """Open the staged object of a finished upload for streaming."""
    key = staged_key_of(source)
    assert key is not None  # the fetch picked this opener by the scheme
    name = unquote(urlsplit(source).path.lstrip("/"))
    with open_store(settings).open_staged(key) as stream:
        yield SourceStream(
            chunks=iter(lambda: stream.read(CHUNK_BYTES), b""),
            size=None,
            content_type=None,
            filename=safe_filename(name) if name else None,
        )


def discard_upload(source: str, *, settings: Settings) -> None:
    """Remove what is left of an upload's staged object once its ingest has ended."""
    key = staged_key_of(source)
    if key is not None:
        open_store(settings).abort_staged(key, None)
