"""Staged writes, both backends: an object written a part at a time, then adopted or aborted."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from core.errors import SourceNotFound
from storage import ObjectStore, content_key, open_store
from storage.filesystem import FilesystemStore
from storage.keys import staged_key
from storage.s3 import MIN_PART_BYTES


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """Return an empty store of each backend."""
    if request.param == "file":
        return FilesystemStore(tmp_path / "objects")
    return open_store(request.getfixturevalue("s3_settings"))


def _read(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as reader:
        return reader.read()


def test_parts_written_again_replace_and_adoption_names_the_bytes(store: ObjectStore) -> None:
    first, second = os.urandom(MIN_PART_BYTES), os.urandom(1000)
    key = staged_key(str(uuid.uuid4()))
    upload_id = store.begin_staged(key, content_type="application/octet-stream")
    store.write_staged_part(key, upload_id, number=1, offset=0, data=os.urandom(MIN_PART_BYTES))
    # A retried first part replaces the one before it, whatever that held.
    parts = [
        store.write_staged_part(key, upload_id, number=1, offset=0, data=bytearray(first)),
        store.write_staged_part(key, upload_id, number=2, offset=len(first), data=second),
    ]
    assert (key, upload_id) in list(store.iter_staged())

    store.complete_staged(key, upload_id, parts)
    store.complete_staged(key, upload_id, parts)  # a finish retried after it went through
    target = content_key(hashlib.sha256(first + second).hexdigest())
    adopted = store.adopt_staged(key, target, content_type="video/mp4")

    assert (adopted.key, adopted.size, adopted.uploaded) == (target, len(first + second), True)
    assert _read(store, target) == first + second
    assert list(store.iter_staged()) == []
    assert list(store.iter_keys()) == [target]


def test_adopting_content_already_stored_only_drops_the_staged_copy(
    store: ObjectStore, tmp_path: Path
) -> None:
    data = os.urandom(100)
    target = content_key(hashlib.sha256(data).hexdigest())
    (tmp_path / "src").write_bytes(data)
    store.put_file(target, tmp_path / "src")
    key = staged_key(str(uuid.uuid4()))
    upload_id = store.begin_staged(key, content_type=None)
    part = store.write_staged_part(key, upload_id, number=1, offset=0, data=data)
    store.complete_staged(key, upload_id, [part])

    adopted = store.adopt_staged(key, target, content_type=None)

    assert not adopted.uploaded
    with pytest.raises(SourceNotFound):
        store.open_staged(key).close()


def test_an_aborted_write_leaves_nothing(store: ObjectStore) -> None:
    key = staged_key(str(uuid.uuid4()))
    upload_id = store.begin_staged(key, content_type=None)
    store.write_staged_part(key, upload_id, number=1, offset=0, data=os.urandom(MIN_PART_BYTES))

    store.abort_staged(key, upload_id)
    store.abort_staged(key, upload_id)  # twice: a sweep racing a client's abort

    assert list(store.iter_staged()) == []
    assert list(store.iter_keys()) == []
