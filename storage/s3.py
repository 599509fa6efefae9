"""The S3 backend (MinIO, SeaweedFS, AWS ...) through the minio SDK.

Every minio and urllib3 failure leaves this module as one of assetflow's own
errors: unreachable endpoint, timeouts, 5xx and SlowDown become
``StorageUnavailable`` (worth retrying); a missing object ``SourceNotFound``;
refused credentials ``ForbiddenSource``; anything else ``PermanentError``.
Messages name the endpoint and bucket, never the secret key. Writes, reads
of metadata and deletes ride out an outage of the endpoint (a restart, a run
of 503s) for the store's outage window (core/outage.py) before they fail.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

import urllib3
from minio import Minio
from minio.commonconfig import ComposeSource
from minio.datatypes import Part
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError

from core.errors import (
    ForbiddenSource,
    PermanentError,
    SourceNotFound,
    StorageUnavailable,
)
from core.logs import get_logger
from core.outage import OutageWindow
from storage.base import ObjectInfo, ObjectStore, PutResult, StagedPart
from storage.filesystem import COPY_BUFFER_BYTES, write_atomically
from storage.keys import STAGING_PREFIX

T = TypeVar("T")

logger = get_logger("storage.s3")

# minio-py holds part size x parallel parts in memory during a multipart upload,
# plus the part being read. 8 MiB (the AWS CLI's default) x 3 measured a peak RSS
# of 93 MiB for a 1 GiB upload, 37 MiB above the process at rest; 16 MiB x 2
# took 113 MiB, 64 MiB x 4 took 408 MiB (bench/bench_storage.py).
PART_SIZE = 8 * 1024 * 1024
PARALLEL_UPLOADS = 3
# S3 allows at most this many parts: objects beyond 78 GiB get larger parts.
MAX_PARTS = 10_000
# S3's smallest part but the last.
MIN_PART_BYTES = 5 * 1024 * 1024

CONNECT_TIMEOUT_S = 10.0
# Per socket read, not per request: a multipart part or a slow stream may take longer in all.
READ_TIMEOUT_S = 120.0
# A few quick retries inside one call; longer outages are the caller's (Prefect's) to retry.
HTTP_RETRIES = 3
RETRY_BACKOFF_S = 0.1

_TRANSIENT_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "OperationAborted"}
)
_FORBIDDEN_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject"})


class S3Store(ObjectStore):
    """Objects in one S3 bucket, optionally below a key prefix."""

    backend = "s3"
    min_part_bytes = MIN_PART_BYTES

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str,
        secure: bool,
        prefix: str = "",
        outage_window_s: float = 0.0,
    ) -> None:
        self.bucket = bucket
        self._outage = OutageWindow(outage_window_s)
        self.endpoint = endpoint
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._where = f"{'https' if secure else 'http'}://{endpoint}/{bucket}"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
            # One connection per parallel part and a few readers at once.
            maxsize=10,
            retries=urllib3.Retry(
                total=HTTP_RETRIES,
                backoff_factor=RETRY_BACKOFF_S,
                status_forcelist=[500, 502, 503, 504],
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            secure=secure,
            http_client=http,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""
        with self._errors("creating the bucket"):
            if self._client.bucket_exists(self.bucket):
                return
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as exc:
                # Another process created it between our check and our call.
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> PutResult:
        """Upload ``path`` under ``key`` unless it exists; multipart in bounded parts when large."""
        return self._riding_out(f"uploading {key!r}", lambda: self._put(key, path, content_type))

    def _put(self, key: str, path: Path, content_type: str | None) -> PutResult:
        existing = self._stat(key)
        if existing is not None:
            return PutResult(self.backend, self.bucket, key, existing.size, uploaded=False)
        size = path.stat().st_size
        with self._errors("uploading", key):
            # S3 makes an object visible only once its PUT or multipart upload
            # completes; minio aborts the multipart upload when a part fails.
            self._client.fput_object(
                self.bucket,
                self._full(key),
                str(path),
                content_type=content_type or "application/octet-stream",
                part_size=_part_size(size),
                num_parallel_uploads=PARALLEL_UPLOADS,
            )
        return PutResult(self.backend, self.bucket, key, size, uploaded=True)

    def stat(self, key: str) -> ObjectInfo | None:
        """Describe the object under ``key``, or None when there is none."""
        return self._riding_out(f"reading the metadata of {key!r}", lambda: self._stat(key))

    def _stat(self, key: str) -> ObjectInfo | None:
        with self._errors("reading the metadata of", key):
            try:
                info = self._client.stat_object(self.bucket, self._full(key))
            except S3Error as exc:
                if exc.code in _MISSING_CODES:
                    return None
                raise
        return ObjectInfo(key=key, size=info.size or 0, content_type=info.content_type)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        """Open the object for streaming reads; closing the reader releases the connection.

        With ``offset`` and ``length`` only those bytes are asked for (one ranged
        GET), so serving a seek never reads the object from its start.
        """
        response = self._riding_out(
            f"opening {key!r}", lambda: self._get(key, offset=offset, length=length)
        )
        return io.BufferedReader(_ObjectReader(self, key, response), COPY_BUFFER_BYTES)

    def download(self, key: str, path: Path) -> None:
        """Stream the object into ``path``, replacing ``path`` only once complete."""
        with self.open(key) as source:
            write_atomically(source, path, durable=False)

    def locate(self, key: str, *, expires_s: int = 3600) -> str:
        """Return a presigned GET URL for the object, valid for ``expires_s`` seconds."""
        with self._errors("presigning", key):
            return self._client.presigned_get_object(
                self.bucket, self._full(key), expires=timedelta(seconds=expires_s)
            )

    def delete(self, key: str) -> None:
        """Remove the object; S3 itself treats a missing key as removed."""
        self._riding_out(f"deleting {key!r}", lambda: self._delete(key))

    def _delete(self, key: str) -> None:
        with self._errors("deleting", key):
            self._client.remove_object(self.bucket, self._full(key))

    def _get(self, key: str, *, offset: int, length: int | None) -> urllib3.BaseHTTPResponse:
        with self._errors("opening", key):
            return self._client.get_object(
                self.bucket, self._full(key), offset=offset, length=length or 0
            )

    def _riding_out(self, doing: str, attempt: Callable[[], T]) -> T:
        """Run one call, again while the endpoint is unavailable, for the outage window."""
        return self._outage.ride_out(
            attempt, describe=f"S3 at {self._where} {doing}", logger=logger
        )

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys starting with ``prefix``, a listing page at a time, in the server's order.

        AWS and MinIO list in key order; SeaweedFS lists directory by directory
        (``a/b/x`` before ``a/b-c``), which is the same order for content keys.
        """
        with self._errors(f"listing keys starting with {prefix!r}"):
            for item in self._client.list_objects(
                self.bucket, prefix=self._full(prefix), recursive=True
            ):
                if item.object_name is not None:
                    yield item.object_name[len(self.prefix) :]

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the objects whose keys start with ``prefix``, with size and last-modified time."""
        with self._errors(f"listing objects starting with {prefix!r}"):
            for item in self._client.list_objects(
                self.bucket, prefix=self._full(prefix), recursive=True
            ):
                if item.object_name is not None:
                    yield ObjectInfo(
                        key=item.object_name[len(self.prefix) :],
                        size=item.size or 0,
                        content_type=None,
                        modified=item.last_modified,
                    )

    def _full(self, key: str) -> str:
        return self.prefix + key

    # Staged writes: S3 multipart uploads, driven one part at a time. minio's
    # multipart calls are private (its public API only uploads whole files),
    # but they are the plain S3 operations and stable across its releases.

    def begin_staged(self, key: str, *, content_type: str | None) -> str | None:
        """Create the multipart upload (CreateMultipartUpload); return its upload id."""
        headers: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": content_type or "application/octet-stream"
        }
        return self._riding_out(
            f"starting an upload to {key!r}",
            lambda: self._call(
                "starting an upload to",
                key,
                lambda: self._client._create_multipart_upload(
                    self.bucket, self._full(key), headers
                ),
            ),
        )

    def write_staged_part(
        self,
        key: str,
        upload_id: str | None,
        *,
        number: int,
        offset: int,
        data: bytes | bytearray | memoryview,
    ) -> StagedPart:
        """Upload one part (UploadPart); ``offset`` is the multipart upload's business."""
        upload = _upload_id(upload_id, key)
        etag = self._riding_out(
            f"uploading part {number} of {key!r}",
            lambda: self._call(
                f"uploading part {number} of",
                key,
                # A bytearray or memoryview goes out as it is (urllib3 takes any buffer): no copy.
                lambda: self._client._upload_part(
                    self.bucket, self._full(key), cast(bytes, data), None, upload, number
                ),
            ),
        )
        return StagedPart(number=number, etag=etag, size=len(data))

    def complete_staged(self, key: str, upload_id: str | None, parts: Sequence[StagedPart]) -> None:
        """Complete the multipart upload; one completed already (NoSuchUpload) stands."""
        upload = _upload_id(upload_id, key)
        listed = [Part(part.number, part.etag) for part in parts]

        def attempt() -> None:
            with self._errors("completing the upload to", key):
                try:
                    self._client._complete_multipart_upload(
                        self.bucket, self._full(key), upload, listed
                    )
                except S3Error as exc:
                    if exc.code != "NoSuchUpload" or self._stat(key) is None:
                        raise

        self._riding_out(f"completing the upload to {key!r}", attempt)

    def abort_staged(self, key: str, upload_id: str | None) -> None:
        """Abort the multipart upload (its parts go) and remove a completed staged object."""

        def attempt() -> None:
            with self._errors("aborting the upload to", key):
                if upload_id is not None:
                    try:
                        self._client._abort_multipart_upload(
                            self.bucket, self._full(key), upload_id
                        )
                    except S3Error as exc:
                        if exc.code != "NoSuchUpload":
                            raise
                self._client.remove_object(self.bucket, self._full(key))

        self._riding_out(f"aborting the upload to {key!r}", attempt)

    def open_staged(self, key: str) -> BinaryIO:
        """Open the completed staged object (a plain object under its staging key)."""
        return self.open(key)

    def adopt_staged(self, staged_key: str, key: str, *, content_type: str | None) -> PutResult:
        """Copy the staged object to ``key`` server-side (UploadPartCopy past 5 GiB), drop it."""

        def attempt() -> PutResult:
            existing = self._stat(key)
            if existing is None:
                with self._errors("copying the upload to", key):
                    self._client.compose_object(
                        self.bucket,
                        self._full(key),
                        [ComposeSource(self.bucket, self._full(staged_key))],
                        metadata={"Content-Type": content_type} if content_type else None,
                    )
            with self._errors("removing the upload", staged_key):
                self._client.remove_object(self.bucket, self._full(staged_key))
            stored = existing or self._stat(key)
            assert stored is not None
            return PutResult(self.backend, self.bucket, key, stored.size, uploaded=existing is None)

        return self._riding_out(f"storing the upload as {key!r}", attempt)

    def iter_staged(self) -> Iterator[tuple[str, str | None]]:
        """Yield the multipart uploads under the staging prefix (ListMultipartUploads)."""
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            with self._errors("listing the uploads in progress"):
                page = self._client._list_multipart_uploads(
                    self.bucket,
                    prefix=self._full(STAGING_PREFIX),
                    key_marker=key_marker,
                    upload_id_marker=upload_marker,
                )
            for upload in page.uploads:
                if upload.object_name is not None:
                    yield upload.object_name[len(self.prefix) :], upload.upload_id
            if not page.is_truncated or not page.next_key_marker:
                return
            key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker

    def _call(self, action: str, key: str, call: Callable[[], T]) -> T:
        with self._errors(action, key):
            return call()

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Translate minio and urllib3 failures inside the block into assetflow errors."""
        doing = f"{action} {key!r}" if key is not None else action
        try:
            yield
        except S3Error as exc:
            raise self._translate(exc, doing, key) from exc
        except ServerError as exc:
            error = StorageUnavailable if exc.status_code >= 500 else PermanentError
            raise error(f"S3 at {self._where} failed while {doing}: {exc}") from exc
        except InvalidResponseError as exc:
            # A non-S3 answer: typically an HTML error page from a proxy or load balancer.
            raise StorageUnavailable(
                f"S3 at {self._where} gave a non-S3 answer while {doing}: {exc}"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StorageUnavailable(
                f"S3 at {self._where} could not be reached while {doing}: {reason}"
            ) from exc
        except MinioException as exc:
            raise PermanentError(f"S3 at {self._where} failed while {doing}: {exc}") from exc

    def _translate(self, exc: S3Error, doing: str, key: str | None) -> Exception:
        """Return the assetflow error for an S3 error response."""
        detail = f"{exc.code}: {exc.message}"
        status = exc.response.status if exc.response is not None else 0
        if exc.code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return StorageUnavailable(
                f"S3 at {self._where} is unavailable while {doing} ({detail})"
            )
        if exc.code in _MISSING_CODES:
            return SourceNotFound(f"no object {key!r} in {self._where} ({detail})")
        if exc.code == "NoSuchBucket":
            return PermanentError(
                f"S3 bucket {self.bucket!r} does not exist at {self._where} (while {doing}): "
                "create it or fix ASSETFLOW_STORAGE_URL"
            )
        if exc.code in _FORBIDDEN_CODES or status in (401, 403):
            return ForbiddenSource(
                f"S3 at {self._where} refused access while {doing} ({detail}): check "
                "ASSETFLOW_S3_ACCESS_KEY, ASSETFLOW_S3_SECRET_KEY and the bucket policy"
            )
        return PermanentError(f"S3 at {self._where} failed while {doing} ({detail})")


def _part_size(size: int) -> int:
    """Return the multipart part size for an object of ``size`` bytes: PART_SIZE, or more."""
    mib = 1024 * 1024
    needed = -(-size // MAX_PARTS)  # ceiling division
    return max(PART_SIZE, -(-needed // mib) * mib)


class _ObjectReader(io.RawIOBase):
    """The body of a GET as a raw stream whose errors are assetflow errors."""

    def __init__(self, store: S3Store, key: str, response: urllib3.BaseHTTPResponse) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        with self._store._errors("reading", self._key):
            return self._response.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()


def _upload_id(upload_id: str | None, key: str) -> str:
    if upload_id is None:
        raise ValueError(f"the staged upload {key!r} on S3 needs its upload id")
    return upload_id
