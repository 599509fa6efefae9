"""open_store: the storage URL picks the backend, and bad settings say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import StorageUnavailable
from core.settings import Settings
from storage import FilesystemStore, S3Store, open_store
from tests.fixtures.ports import free_port


def settings(storage_url: str, **s3: object) -> Settings:
    fields: dict[str, object] = {
        "s3_endpoint": None,
        "s3_access_key": None,
        "s3_secret_key": None,
        **s3,
    }
    return Settings(storage_url=storage_url, **fields)  # type: ignore[arg-type]


S3_KEYS = {
    "s3_endpoint": "minio.lan:9443",
    "s3_access_key": SecretStr("access"),
    "s3_secret_key": SecretStr("secret-value"),
}


def test_an_absolute_file_url_opens_a_filesystem_store_and_makes_its_root(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "objects"

    store = open_store(settings(f"file://{root}"))

    assert isinstance(store, FilesystemStore)
    assert (store.backend, store.bucket) == ("file", str(root))
    assert root.is_dir()


def test_a_relative_file_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_store(settings("file://./data/objects"))

    assert store.bucket == str(tmp_path / "data" / "objects")
    assert (tmp_path / "data" / "objects").is_dir()


def test_an_s3_url_opens_an_s3_store_with_bucket_and_prefix() -> None:
    store = open_store(settings("s3://media/tenant-a/", **S3_KEYS))

    assert isinstance(store, S3Store)
    assert (store.backend, store.bucket, store.prefix) == ("s3", "media", "tenant-a/")


def test_an_s3_store_talks_tls_to_the_configured_endpoint() -> None:
    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens: the error names where it went
    # No outage to ride out: the first refusal is the answer.
    fields = S3_KEYS | {"s3_endpoint": endpoint, "outage_window_s": 0.0}
    store = open_store(settings("s3://media", **fields))

    with pytest.raises(StorageUnavailable, match=f"S3 at https://{endpoint}/media could not"):
        store.stat("k")


def test_an_s3_url_without_a_prefix_uses_the_bucket_root() -> None:
    store = open_store(settings("s3://media", **S3_KEYS))

    assert isinstance(store, S3Store)
    assert store.prefix == ""


@pytest.mark.parametrize(
    ("missing", "setting"),
    [
        ("s3_endpoint", "ASSETFLOW_S3_ENDPOINT"),
        ("s3_access_key", "ASSETFLOW_S3_ACCESS_KEY"),
        ("s3_secret_key", "ASSETFLOW_S3_SECRET_KEY"),
    ],
)
def test_an_s3_url_without_endpoint_or_keys_names_the_missing_setting(
    missing: str, setting: str
) -> None:
    given = {**S3_KEYS, missing: None}

    with pytest.raises(ValueError, match=setting) as raised:
        open_store(settings("s3://media", **given))
    assert "secret-value" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/objects", "unsupported storage URL scheme 'ftp'"),
        ("/srv/objects", "unsupported storage URL scheme ''"),
        ("file://data/objects", "names host 'data'"),
        ("file:///", "names no directory"),
        ("s3:///prefix", "names no bucket"),
    ],
)
def test_a_bad_storage_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(settings(url, **S3_KEYS))
