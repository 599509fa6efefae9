"""Fetch a source (http(s) URL, s3:// object, file:// URL or local path) into a hashed file."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.errors import CorruptUpload, InvalidSource
from core.logs import get_logger
from core.redact import normalise_source, redact_source
from core.settings import Settings
from storage.digest import FileDigest
from tasks.filenames import suffix_of
from tasks.http_fetch import open_http
from tasks.local_fetch import open_local
from tasks.retrying import RetryPolicy
from tasks.s3_fetch import open_s3
from tasks.source_stream import SourceOpener
from tasks.spool import Spooled, spool, too_large
from tasks.upload_fetch import SCHEME as UPLOAD_SCHEME
from tasks.upload_fetch import expected_digests, open_upload, staged_key_of

log = get_logger("fetch")

_OPENERS: dict[str, SourceOpener] = {
    "http": open_http,
    "https": open_http,
    "s3": open_s3,
    "file": open_local,
    UPLOAD_SCHEME: open_upload,
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class FetchedSource:
    """A source's bytes, now in a local file, with their digests and what the source said."""

    path: Path
    size: int
    sha256: str
    md5: str
    # As the source declared it (Content-Type, S3 metadata): untrusted, sniff the bytes.
    content_type: str | None
    # A plain basename from Content-Disposition or the URL or file name; never a path.
    filename: str | None
    # The source with credentials and signatures redacted: safe to log and record.
    source: str

    @property
    def digest(self) -> FileDigest:
        """Return the digest in the form ``storage.stored.store_content`` takes."""
        return FileDigest(sha256=self.sha256, md5=self.md5, size=self.size)


def fetch_source(
    source: str, *, dest_dir: Path, settings: Settings, retry: RetryPolicy | None = None
) -> FetchedSource:
    """Stream ``source`` into a new file in ``dest_dir``, hashing it on the way.

    The file is named ``<sha256><ext>``. Transient failures (timeouts, 5xx,
    429, truncated bodies) are retried by ``retry`` (default: 4 attempts with
    jittered backoff; a caller that retries the whole call itself, such as a
    flow step, passes ``ONE_ATTEMPT``); permanent ones raise at once. A failed attempt leaves
    no file behind. Errors and log lines name the source redacted.
    """
    source = normalise_source(source)
    shown = redact_source(source)
    opener = opener_for(source, shown=shown)
    policy = RetryPolicy() if retry is None else retry
    fetched = policy.call(
        lambda: _fetch_once(opener, source, shown=shown, dest_dir=dest_dir, settings=settings),
        describe=f"fetching {shown}",
        logger=log,
    )
    log.info("fetched %s: %d bytes, sha256 %s", shown, fetched.size, fetched.sha256)
    return fetched


def opener_for(source: str, *, shown: str) -> SourceOpener:
    """Pick the opener for the source's scheme; no scheme means a local path."""
    if not source:
        raise InvalidSource("the source is empty")
    if any(unicodedata.category(ch) == "Cc" for ch in source):
        raise InvalidSource(f"the source {shown!r} contains control characters")
    match = _SCHEME.match(source)
    if match is None:
        return open_local
    scheme = match.group(1).lower()
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise InvalidSource(
            f"unsupported scheme {scheme!r} in {shown}: "
            "use http(s)://, s3://bucket/key, file:// or a local path"
        )
    return opener


def _fetch_once(
    opener: SourceOpener, source: str, *, shown: str, dest_dir: Path, settings: Settings
) -> FetchedSource:
    limit = settings.max_source_bytes
    with opener(source, settings=settings) as stream:
        if stream.size is not None and stream.size > limit:
            raise too_large(shown, limit, stream.size)
        spooled = spool(
            stream.chunks,
            dest_dir=dest_dir,
            max_bytes=limit,
            label=shown,
            suffix=suffix_of(stream.filename),
        )
    _check_expected(source, spooled, shown=shown)
    return FetchedSource(
        path=spooled.path,
        size=spooled.digest.size,
        sha256=spooled.digest.sha256,
        md5=spooled.digest.md5,
        content_type=stream.content_type,
        filename=stream.filename,
        source=shown,
    )


def _check_expected(source: str, spooled: Spooled, *, shown: str) -> None:
    """Refuse bytes whose sha256 or md5 is not the one an upload's client gave; drop the file."""
    sha256, md5 = expected_digests(source) if staged_key_of(source) else (None, None)
    for name, expected, actual in (
        ("sha256", sha256, spooled.digest.sha256),
        ("md5", md5, spooled.digest.md5),
    ):
        if expected is not None and expected != actual:
            spooled.path.unlink(missing_ok=True)
            raise CorruptUpload(
                f"the bytes of {shown} have the {name} {actual}, not {expected} as the client "
                "said: nothing was stored"
            )
