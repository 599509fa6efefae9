"""Garbage collection: what nothing refers to goes after a grace period, never under an ingest."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import col
from typer.testing import CliRunner

from deployments.cli import app
from models import graph
from models.db import new_session, transact
from models.gc import Content, claim_contents, collect_garbage
from models.tables import Asset, AssetStatus, Blob, utcnow
from storage.digest import digest_file
from storage.filesystem import FilesystemStore
from storage.stored import StoredObject, store_content

GRACE_S = 600.0
OLD = time.time() - 2 * GRACE_S
# How long the racing ingest is given to get past the collector, if it can (it must not).
RACE_WINDOW_S = 1.0


def _store_bytes(store: FilesystemStore, tmp_path: Path, body: bytes, *, old: bool) -> StoredObject:
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}.bin"
    path.write_bytes(body)
    stored = store_content(store, path, digest=digest_file(path), content_type=None)
    if old:
        os.utime(store.root / stored.key, (OLD, OLD))
    return stored


def _claim(engine: Engine, store: FilesystemStore, path: Path) -> None:
    content = Content(digest_file(path), None)
    transact(
        engine,
        lambda session: claim_contents(
            session=session, backend=store.backend, bucket=store.bucket, contents=[content]
        ),
        describe="claiming",
    )


def _record(engine: Engine, stored: StoredObject, identifier: str) -> uuid.UUID:
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="gc")
        asset = graph.create_asset(
            session=session, project=project, identifier=identifier, source="/x"
        )
        graph.record_format(
            session=session,
            asset=asset,
            name="ORIGINAL",
            files=[graph.NewFile(name=identifier, stored=stored)],
        )
        session.commit()
        return asset.id


def test_collects_old_unreferenced_objects_and_reports_missing_ones(
    engine: Engine, tmp_path: Path
) -> None:
    store = FilesystemStore(tmp_path / "objects")
    (tmp_path / "in").mkdir()
    work = tmp_path / "in"
    kept = _store_bytes(store, work, b"referred to", old=True)
    _record(engine, kept, "kept")
    stray = _store_bytes(store, work, b"stored, never recorded", old=True)
    recent = _store_bytes(store, work, b"stored a moment ago", old=False)
    lost = _store_bytes(store, work, b"recorded, then lost", old=True)
    _record(engine, lost, "lost")
    store.delete(lost.key)

    dry = collect_garbage(engine, store, grace_s=GRACE_S, dry_run=True)
    assert (dry.collected, dry.freed_bytes, dry.recent, dry.missing) == (1, stray.size, 1, 1)
    assert store.exists(stray.key)

    report = collect_garbage(engine, store, grace_s=GRACE_S)

    assert (report.objects, report.collected, report.freed_bytes) == (3, 1, stray.size)
    assert not store.exists(stray.key)
    assert store.exists(kept.key) and store.exists(recent.key)
    with new_session(engine) as session:
        blobs = set(session.execute(select(col(Blob.sha256))).scalars())
    assert stray.sha256 not in blobs and kept.sha256 in blobs


def test_a_fresh_claim_keeps_an_old_unreferenced_object(engine: Engine, tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "objects")
    path = tmp_path / "orphan.bin"
    path.write_bytes(b"an orphan an ingest is about to reuse")
    orphan = store_content(store, path, digest=digest_file(path), content_type=None)
    os.utime(store.root / orphan.key, (OLD, OLD))
    _claim(engine, store, path)

    report = collect_garbage(engine, store, grace_s=GRACE_S)

    assert (report.collected, report.recent) == (0, 1)
    assert store.exists(orphan.key)


class _PausingStore(FilesystemStore):
    """A store whose deletes wait to be let go: the collector paused between check and delete."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.deleting = threading.Event()
        self.go_on = threading.Event()

    def delete(self, key: str) -> None:
        self.deleting.set()
        self.go_on.wait(timeout=30)
        super().delete(key)


def test_an_ingest_reusing_an_orphan_while_it_is_collected_finds_its_object_stored(
    engine: Engine, tmp_path: Path
) -> None:
    store = _PausingStore(tmp_path / "objects")
    path = tmp_path / "orphan.bin"
    path.write_bytes(b"an orphan that a new ingest brings again")
    orphan = store_content(store, path, digest=digest_file(path), content_type=None)
    os.utime(store.root / orphan.key, (OLD, OLD))
    collector = threading.Thread(
        target=collect_garbage, args=(engine, store), kwargs={"grace_s": GRACE_S}
    )
    ingested = threading.Event()

    def ingest() -> None:  # what flows/pipeline.py does: claim, store, record
        _claim(engine, store, path)
        stored = store_content(
            FilesystemStore(store.root), path, digest=digest_file(path), content_type=None
        )
        _record(engine, stored, "again")
        ingested.set()

    collector.start()
    assert store.deleting.wait(timeout=30), "the collector did not take the orphan"
    ingest_thread = threading.Thread(target=ingest)
    ingest_thread.start()
    # The ingest must wait for the collector's lock: it may not record in this window.
    got_past = ingested.wait(timeout=RACE_WINDOW_S)
    store.go_on.set()
    collector.join()
    ingest_thread.join()

    assert not got_past, "the ingest recorded the object while it was being collected"
    assert store.exists(orphan.key), "a file row now points at a deleted object"
    assert collect_garbage(engine, store, grace_s=0).missing == 0


def test_gc_command_prints_its_report_as_json(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "objects"
    store = FilesystemStore(root)
    (tmp_path / "in").mkdir()
    stray = _store_bytes(store, tmp_path / "in", b"nothing refers to me", old=True)
    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ASSETFLOW_STORAGE_URL", f"file://{root}")

    dry = CliRunner().invoke(app, ["gc", "--dry-run", "--json", "--grace", str(GRACE_S)])
    real = CliRunner().invoke(app, ["gc", "--grace", str(GRACE_S)])

    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] is True
    assert (report["collected"], report["freed_bytes"]) == (1, stray.size)
    assert real.exit_code == 0, real.output
    assert real.output.startswith(f"removed 1 of 1 objects ({stray.size} bytes)")
    assert not store.exists(stray.key)


def test_claims_stamp_the_blob_row_once_per_content(engine: Engine, tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "objects")
    path = tmp_path / "a.bin"
    path.write_bytes(b"claimed twice")
    _claim(engine, store, path)
    first = utcnow()
    _claim(engine, store, path)
    with new_session(engine) as session:
        rows = session.execute(select(func.count()).select_from(Blob)).scalar_one()
        claimed = session.execute(select(col(Blob.claimed_at))).scalar_one()
    assert rows == 1
    assert claimed is not None and claimed >= first


def test_gc_command_removes_the_bytes_only_deleted_assets_refer_to(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "objects"
    store = FilesystemStore(root)
    (tmp_path / "in").mkdir()
    shared = _store_bytes(store, tmp_path / "in", b"two assets share me", old=False)
    lone = _store_bytes(store, tmp_path / "in", b"one asset alone", old=False)
    _record(engine, shared, "kept")
    deleted = [_record(engine, shared, "sharing"), _record(engine, lone, "alone")]
    with new_session(engine) as session:
        for asset_id in deleted:
            asset = session.get(Asset, asset_id)
            assert asset is not None
            graph.update_asset(session=session, asset=asset, status=AssetStatus.DELETED)
        session.commit()
    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ASSETFLOW_STORAGE_URL", f"file://{root}")

    first = CliRunner().invoke(app, ["gc", "--grace", "0", "--json"])
    again = CliRunner().invoke(app, ["gc", "--grace", "0", "--json"])

    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert (report["collected"], report["freed_bytes"], report["missing"]) == (1, lone.size, 0)
    assert store.exists(shared.key) and not store.exists(lone.key)
    # The deleted asset's file row still names the content: not damage to report.
    assert json.loads(again.output)["missing"] == 0
