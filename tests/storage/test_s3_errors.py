"""S3 failures arrive as assetflow errors a person can act on."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from core.errors import ForbiddenSource, PermanentError, StorageUnavailable
from core.settings import Settings
from storage import S3Store, open_store
from tests.fixtures.seaweed import S3Server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_store(server: S3Server, bucket: str, **changes: object) -> S3Store:
    fields: dict[str, object] = {
        "endpoint": server.endpoint,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "bucket": bucket,
        "region": server.region,
        "secure": False,
        **changes,
    }
    return S3Store(**fields)  # type: ignore[arg-type]


def test_an_unreachable_endpoint_is_storage_unavailable_naming_it(
    s3_server: S3Server, tmp_path: Path
) -> None:
    endpoint = f"127.0.0.1:{closed_port()}"
    store = s3_store(s3_server, "media", endpoint=endpoint)
    source = tmp_path / "src"
    source.write_bytes(b"x")

    with pytest.raises(StorageUnavailable, match=f"http://{endpoint}/media") as raised:
        store.put_file("k", source)
    assert "Connection refused" in str(raised.value)
    with pytest.raises(StorageUnavailable, match=endpoint):
        store.open("k")
    with pytest.raises(StorageUnavailable, match=endpoint):
        list(store.iter_keys())


def test_a_wrong_secret_key_is_forbidden_and_not_echoed(
    s3_server: S3Server, s3_bucket: str
) -> None:
    store = s3_store(s3_server, s3_bucket, secret_key="not-the-right-secret")

    with pytest.raises(ForbiddenSource, match="ASSETFLOW_S3_SECRET_KEY") as raised:
        store.stat("k")
    assert "not-the-right-secret" not in str(raised.value)
    assert s3_server.secret_key not in str(raised.value)


def test_a_missing_bucket_is_a_permanent_error_naming_it(
    s3_server: S3Server, tmp_path: Path
) -> None:
    store = s3_store(s3_server, "no-such-bucket-here")
    source = tmp_path / "src"
    source.write_bytes(b"x")

    with pytest.raises(
        PermanentError,
        match="S3 bucket 'no-such-bucket-here' does not exist",
    ):
        store.put_file("k", source)


def test_ensure_bucket_creates_it_once_and_keeps_what_it_holds(
    s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = f"ensured-{uuid.uuid4().hex[:12]}"
    store = s3_store(s3_server, bucket)
    source = tmp_path / "src"
    source.write_bytes(b"kept")
    assert not s3_server.client().bucket_exists(bucket)

    store.ensure_bucket()
    assert store.put_file("k", source).uploaded
    store.ensure_bucket()  # the bucket exists: neither an error nor a new, empty bucket

    info = store.stat("k")
    assert info is not None and info.size == len(b"kept")


def test_a_stopped_server_is_unavailable_until_it_is_back(
    s3_server: S3Server, s3_settings: Settings, tmp_path: Path
) -> None:
    # A short outage window: the call gives up in a second, not the default minute.
    store = open_store(s3_settings.model_copy(update={"outage_window_s": 1.0}))
    source = tmp_path / "src"
    source.write_bytes(b"kept across a restart")
    store.put_file("k", source)

    s3_server.stop()
    try:
        with pytest.raises(StorageUnavailable, match=s3_server.endpoint):
            store.stat("k")
    finally:
        s3_server.start()

    with store.open("k") as reader:
        assert reader.read() == b"kept across a restart"
