"""tus 1.0 at /uploads/ on each store, driven by the real tus client (tuspy) and by hand.

The big upload cut in the middle and resumed is tests/api/test_tus_resume.py.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from api.app import create_app
from api.keys import Scope, create_key
from core.settings import Settings
from models.db import make_engine, new_session
from models.tables import UploadSession
from tests.api.conftest import ApiServer

TASK_TIMEOUT_S = 120.0
TUS = {"Tus-Resumable": "1.0.0"}
PIECE = {**TUS, "Content-Type": "application/offset+octet-stream"}
MIB = 1024 * 1024


def _metadata(**pairs: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items()
    )


def _tus_client(api_server: ApiServer, key: str = "all") -> TusClient:
    return TusClient(
        f"{api_server.url}/uploads/", headers={"Authorization": f"Bearer {api_server.keys[key]}"}
    )


def _open(client: httpx.Client, length: int, **metadata: str) -> str:
    """Create an upload by hand; return its path."""
    answer = client.post(
        "/uploads/",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": _metadata(**metadata)},
    )
    assert answer.status_code == 201, answer.text
    return answer.headers["Location"]


def _wait_for_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TASK_TIMEOUT_S
    while True:
        task = client.get(f"/tasks/{task_id}").json()
        if task["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return task
        time.sleep(0.1)  # polling is what an HTTP client has


def _random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes (stored as 'other'); return their sha256."""
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_options_say_what_the_server_speaks_without_a_key(api_server: ApiServer) -> None:
    with api_server.client(key=None) as client:
        answer = client.options("/uploads/")

    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration",
    }  # fmt: skip
    assert answer.headers["Tus-Checksum-Algorithm"] == "sha1"
    assert int(answer.headers["Tus-Max-Size"]) == api_server.settings.upload_max_bytes


def test_tuspy_uploads_in_small_pieces_and_the_asset_ends_ready_with_its_metadata(
    api_server: ApiServer, tmp_path: Path
) -> None:
    # Pieces of 1 MiB, under S3's smallest part: the server groups them into parts.
    path = tmp_path / "clip.bin"
    sha256 = _random_file(path, 7 * MIB + 123)
    uploader = _tus_client(api_server).uploader(
        str(path),
        chunk_size=MIB,
        upload_checksum=True,
        metadata={
            "filename": "holiday clip.bin",
            "filetype": "application/octet-stream",
            "project": "tus-news",
            "title": "Holiday ünïcode",
            "tags": "beach, summer",
            "external_id": "cms-7",
        },
    )
    uploader.upload()
    task_id = uploader.request.response_headers["assetflow-task-id"]
    with api_server.client() as client:
        head = client.head(uploader.url, headers=TUS)
        task = _wait_for_task(client, task_id)
        asset = client.get(f"/assets/{task['asset_id']}").json()

    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(7 * MIB + 123)
    assert head.headers["Assetflow-Task-Id"] == task_id
    assert task["status"] == "completed", task
    assert task["file"]["sha256"] == sha256
    assert task["file"]["filename"] == "holiday clip.bin"
    assert asset["status"] == "ready"
    assert (asset["title"], asset["tags"], asset["external_id"]) == (
        "Holiday ünïcode", ["beach", "summer"], "cms-7",
    )  # fmt: skip


def test_creation_with_upload_takes_the_first_piece_and_a_whole_file_starts_its_ingest(
    api_server: ApiServer,
) -> None:
    body = os.urandom(3000)
    with api_server.client() as client:
        created = client.post(
            "/uploads/",
            content=body,
            headers={
                **PIECE,
                "Upload-Length": str(len(body)),
                "Upload-Metadata": _metadata(filename="a.bin"),
            },
        )
        task = _wait_for_task(client, created.headers["Assetflow-Task-Id"])

    assert created.status_code == 201
    assert created.headers["Upload-Offset"] == str(len(body))
    assert created.headers["Location"].startswith("/uploads/")
    assert task["status"] == "completed"
    assert task["file"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_piece_whose_checksum_differs_is_refused_with_460_and_dropped(
    api_server: ApiServer,
) -> None:
    piece = os.urandom(1000)
    with api_server.client() as client:
        location = _open(client, 2000, filename="c.bin")
        wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
        refused = client.patch(
            location,
            content=piece,
            headers={**PIECE, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {wrong}"},
        )
        after = client.head(location, headers=TUS)
        right = base64.b64encode(hashlib.sha1(piece).digest()).decode()
        taken = client.patch(
            location,
            content=piece,
            headers={**PIECE, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {right}"},
        )
        other = client.patch(
            location,
            content=piece,
            headers={**PIECE, "Upload-Offset": "1000", "Upload-Checksum": f"md5 {right}"},
        )

    assert refused.status_code == 460, refused.text
    assert after.headers["Upload-Offset"] == "0"
    assert taken.status_code == 204 and taken.headers["Upload-Offset"] == "1000"
    assert other.status_code == 400
    assert "sha1" in other.json()["error"]


def test_a_piece_at_the_wrong_offset_is_409_and_a_wrong_type_415(api_server: ApiServer) -> None:
    with api_server.client() as client:
        location = _open(client, 100, filename="o.bin")
        ahead = client.patch(location, content=b"x" * 10, headers={**PIECE, "Upload-Offset": "50"})
        form = client.patch(
            location,
            content=b"x" * 10,
            headers={**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"},
        )
        old_client = client.patch(
            location,
            content=b"x",
            headers={**PIECE, "Upload-Offset": "0", "Tus-Resumable": "0.2.2"},
        )
        past_the_end = client.patch(
            location, content=b"x" * 101, headers={**PIECE, "Upload-Offset": "0"}
        )

    assert (ahead.status_code, ahead.json()["expected_offset"]) == (409, 0)
    assert form.status_code == 415
    assert old_client.status_code == 412
    assert past_the_end.status_code == 413


def test_a_terminated_upload_is_gone(api_server: ApiServer) -> None:
    with api_server.client() as client:
        location = _open(client, 10 * MIB, filename="t.bin")
        client.patch(location, content=os.urandom(6 * MIB), headers={**PIECE, "Upload-Offset": "0"})
        deleted = client.delete(location, headers=TUS)
        head = client.head(location, headers=TUS)
        patch = client.patch(
            location, content=b"x", headers={**PIECE, "Upload-Offset": str(6 * MIB)}
        )
        # A client that can only POST says which method it means.
        other = _open(client, 10, filename="t2.bin")
        overridden = client.post(other, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
        other_head = client.head(other, headers=TUS)

    assert deleted.status_code == 204
    assert head.status_code == 404
    assert patch.status_code == 404
    assert (overridden.status_code, other_head.status_code) == (204, 404)


def test_an_expired_upload_is_refused_with_410(api_server: ApiServer) -> None:
    with api_server.client() as client:
        location = _open(client, 100, filename="e.bin")
        fresh = client.head(location, headers=TUS)
        engine = make_engine(api_server.settings.database_url)
        with new_session(engine) as session:
            row = session.exec(
                select(UploadSession).where(
                    UploadSession.id == uuid.UUID(location.rsplit("/", 1)[1])
                )
            ).one()
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(row)
            session.commit()
        engine.dispose()
        head = client.head(location, headers=TUS)
        patch = client.patch(location, content=b"x", headers={**PIECE, "Upload-Offset": "0"})

    expires = datetime.strptime(fresh.headers["Upload-Expires"], "%a, %d %b %Y %H:%M:%S GMT")
    assert expires.replace(tzinfo=UTC) > datetime.now(UTC)
    assert head.status_code == 410
    assert patch.status_code == 410


def test_upload_routes_refuse_a_missing_key_with_401_and_a_key_without_assets_with_403(
    api_server: ApiServer, tmp_path: Path
) -> None:
    engine = make_engine(api_server.settings.database_url)
    with new_session(engine) as session:
        publisher = create_key(session=session, name="publisher", scopes=[Scope.ASSETS_PUBLISH]).key
        session.commit()
    engine.dispose()
    with api_server.client() as client:
        location = _open(client, 100, filename="k.bin")
    routes = [
        ("POST", "/uploads/", {**TUS, "Upload-Length": "10"}),
        ("HEAD", location, TUS),
        ("PATCH", location, {**PIECE, "Upload-Offset": "0"}),
        ("DELETE", location, TUS),
    ]
    answers = {}
    for name, auth in (("none", {}), ("publisher", {"X-API-KEY": publisher})):
        with httpx.Client(base_url=api_server.url) as client:
            for method, path, headers in routes:
                answers[name, method] = client.request(
                    method, path, headers={**headers, **auth}
                ).status_code
    path = tmp_path / "f.bin"
    _random_file(path, 10)
    with pytest.raises(TusCommunicationError) as refused:
        TusClient(f"{api_server.url}/uploads/").uploader(str(path)).upload()

    assert {answers["none", method] for method, _, _ in routes} == {401}
    assert {answers["publisher", method] for method, _, _ in routes} == {403}
    assert refused.value.status_code == 401


def test_browsers_on_an_allowed_origin_may_upload_and_read_the_tus_headers(
    sqlite_url: str, tmp_path: Path
) -> None:
    origin = "https://cms.example.com"
    settings = Settings(
        database_url=sqlite_url, storage_url=f"file://{tmp_path}", api_cors_origins=[origin]
    )
    # Not entered as a context: the app's lifespan does not run, and CORS needs none of it.
    client = TestClient(create_app(settings), base_url="http://api.test")
    preflight = client.options(
        "/uploads/some-id",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "upload-offset,upload-checksum,tus-resumable,"
            "content-type,authorization",
        },
    )
    stranger = client.options(
        "/uploads/some-id",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"},
    )
    answer = client.get("/openapi.json", headers={"Origin": origin})

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert "upload-offset" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in stranger.headers
    exposed = {
        name.strip().lower() for name in answer.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {
        "location",
        "upload-offset",
        "upload-length",
        "tus-resumable",
        "assetflow-task-id",
    } <= exposed
