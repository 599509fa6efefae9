"""One contract, both backends: what a caller of ObjectStore may rely on."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import httpx
import pytest

from core.errors import SourceNotFound
from storage import ObjectStore, content_key, open_store
from storage.filesystem import FilesystemStore, write_atomically
from storage.s3 import PART_SIZE, S3Store
from tests.fixtures.seaweed import S3Server


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """Return an empty store of each backend."""
    if request.param == "file":
        return FilesystemStore(tmp_path / "objects")
    settings = request.getfixturevalue("s3_settings")
    return open_store(settings)


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def read_all(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as reader:
        return reader.read()


def test_put_then_stat_exists_open_give_the_same_bytes(store: ObjectStore, tmp_path: Path) -> None:
    data = b"hello, assetflow\n" * 100
    key = content_key(hashlib.sha256(data).hexdigest())

    result = store.put_file(key, write_file(tmp_path / "src", data), content_type="text/plain")

    assert result.uploaded
    assert (result.backend, result.bucket, result.key, result.size) == (
        store.backend,
        store.bucket,
        key,
        len(data),
    )
    info = store.stat(key)
    assert info is not None
    assert (info.key, info.size) == (key, len(data))
    # The filesystem store keeps no content type (documented); S3 keeps it.
    assert info.content_type == ("text/plain" if store.backend == "s3" else None)
    assert store.exists(key)
    assert read_all(store, key) == data


def test_put_of_an_existing_key_uploads_nothing(store: ObjectStore, tmp_path: Path) -> None:
    key = "objects/same-key"
    first = store.put_file(key, write_file(tmp_path / "first", b"first bytes"))
    before = _fingerprint(store, key)

    # Different bytes under the same key prove that nothing was written.
    again = store.put_file(key, write_file(tmp_path / "second", b"other bytes, longer"))

    assert first.uploaded
    assert not again.uploaded
    assert again.size == len(b"first bytes")
    assert read_all(store, key) == b"first bytes"
    assert _fingerprint(store, key) == before


def _fingerprint(store: ObjectStore, key: str) -> object:
    """Return what would change if the object were written again."""
    if isinstance(store, FilesystemStore):
        info = Path(store.locate(key)).stat()
        return (info.st_ino, info.st_mtime_ns)
    assert isinstance(store, S3Store)
    stat = store._client.stat_object(store.bucket, store.prefix + key)
    return (stat.etag, stat.last_modified)


def test_a_multipart_sized_file_round_trips(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(40):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            out.write(chunk)
    size = source.stat().st_size
    assert size > 2 * PART_SIZE  # three parts on S3
    key = content_key(digest.hexdigest())

    assert store.put_file(key, source).uploaded

    info = store.stat(key)
    assert info is not None and (info.key, info.size) == (key, size)
    read_back = hashlib.sha256()
    with store.open(key) as reader:
        while chunk := reader.read(1024 * 1024):
            read_back.update(chunk)
    assert read_back.hexdigest() == digest.hexdigest()
    downloaded = tmp_path / "out" / "big.copy"
    downloaded.parent.mkdir()
    store.download(key, downloaded)
    assert downloaded.stat().st_size == size
    assert _sha256_file(downloaded) == digest.hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def test_open_of_a_missing_key_raises_source_not_found(store: ObjectStore) -> None:
    with pytest.raises(SourceNotFound, match="no-such-object"):
        store.open("missing/no-such-object")
    assert store.stat("missing/no-such-object") is None
    assert not store.exists("missing/no-such-object")


def test_download_of_a_missing_key_leaves_no_file(store: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "never"
    with pytest.raises(SourceNotFound):
        store.download("missing/key", target)
    assert not target.exists()


def test_download_replaces_the_target(store: ObjectStore, tmp_path: Path) -> None:
    store.put_file("a/b", write_file(tmp_path / "src", b"stored bytes"))
    target = write_file(tmp_path / "target", b"stale")

    store.download("a/b", target)

    assert target.read_bytes() == b"stored bytes"
    # No temp file is left beside the target.
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["src", "target"]


def test_delete_removes_and_tolerates_missing(store: ObjectStore, tmp_path: Path) -> None:
    store.put_file("to/delete", write_file(tmp_path / "src", b"x"))

    store.delete("to/delete")
    store.delete("to/delete")
    store.delete("never/stored")

    assert not store.exists("to/delete")
    with pytest.raises(SourceNotFound):
        store.open("to/delete")


def test_iter_keys_lists_content_keys_by_prefix_in_key_order(
    store: ObjectStore, tmp_path: Path
) -> None:
    source = write_file(tmp_path / "src", b"x")
    digests = [hashlib.sha256(bytes([n])).hexdigest() for n in range(12)]
    keys = [content_key(digest) for digest in digests]
    for key in keys:
        store.put_file(key, source)
    first = digests[0][:2]

    assert list(store.iter_keys()) == sorted(keys)
    assert list(store.iter_keys(f"sha256/{first}/")) == sorted(
        key for key in keys if key.startswith(f"sha256/{first}/")
    )
    assert list(store.iter_keys("sha256/zz")) == []


def test_iter_keys_matches_prefixes_that_end_mid_segment(
    store: ObjectStore, tmp_path: Path
) -> None:
    source = write_file(tmp_path / "src", b"x")
    keys = ["a/b/c", "a/b-d", "a/bc", "a/b/a", "b/a", "ab"]
    for key in keys:
        store.put_file(key, source)

    # Sorted before comparing: SeaweedFS lists directory by directory, so "a/b/a"
    # comes before "a/b-d" there, unlike AWS and MinIO (plain key order).
    assert sorted(store.iter_keys()) == sorted(keys)
    assert sorted(store.iter_keys("a/b")) == ["a/b-d", "a/b/a", "a/b/c", "a/bc"]
    assert sorted(store.iter_keys("a/b/")) == ["a/b/a", "a/b/c"]


def test_locate_points_at_the_bytes(store: ObjectStore, tmp_path: Path) -> None:
    data = b"located bytes"
    store.put_file("loc/obj", write_file(tmp_path / "src", data))

    where = store.locate("loc/obj", expires_s=60)

    if store.backend == "s3":
        response = httpx.get(where)
        assert response.status_code == 200
        assert response.content == data
    else:
        assert Path(where).is_absolute()
        assert Path(where).read_bytes() == data


def test_a_prefixed_s3_store_keeps_its_keys_below_the_prefix(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    settings = s3_server.settings(s3_bucket)
    prefixed = open_store(settings.model_copy(update={"storage_url": f"s3://{s3_bucket}/tenant/"}))
    prefixed.put_file("x/y", write_file(tmp_path / "src", b"below the prefix"))

    assert list(prefixed.iter_keys()) == ["x/y"]
    assert list(open_store(settings).iter_keys()) == ["tenant/x/y"]
    assert read_all(prefixed, "x/y") == b"below the prefix"


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../b", "a//b", "a\\b", "", "a/."])
def test_the_filesystem_store_rejects_keys_that_escape_its_root(tmp_path: Path, key: str) -> None:
    store = FilesystemStore(tmp_path / "objects")
    source = write_file(tmp_path / "src", b"x")

    with pytest.raises(ValueError, match="invalid object key"):
        store.put_file(key, source)
    with pytest.raises(ValueError, match="invalid object key"):
        store.open(key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "objects")

    class FailsAfterFirstRead(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self.sent:
                raise OSError("source went away")
            self.sent = len(buffer)
            buffer[:] = b"x" * len(buffer)
            return len(buffer)

    with pytest.raises(OSError, match="source went away"):
        write_atomically(io.BufferedReader(FailsAfterFirstRead()), store.root / "k", durable=True)
    assert list(store.root.iterdir()) == []
    assert not store.exists("k")
