"""Uploads over HTTP against a real server: SQLite with the file store, PostgreSQL with SeaweedFS.

The chunked phases (start, transfer, finish) with what goes wrong on the way
(a chunk at the wrong offset, a dropped connection, a finish too early, two
writers at once, a server restart), a form upload of a video, the size
limit, the per-key quota, expiry swept by ``assetflow gc``, and the key
checks of every upload route.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from typer.testing import CliRunner

from api.app import create_app
from api.keys import Scope, create_key
from deployments.cli import app as cli
from models.db import make_engine, new_session
from models.tables import UploadSession
from storage import content_key, open_store
from tests.api.conftest import ApiServer, run_api_server, serve_app
from tests.fixtures.av_media import make_video
from tests.fixtures.http_server import LocalHTTPServer

MIB = 1024 * 1024
CHUNK = 10 * MIB
MAX_BYTES = 40 * MIB
MAX_SESSIONS = 3
MAX_OPEN_BYTES = 100 * MIB
TASK_TIMEOUT_S = 120.0
WAIT_S = 30.0
BOUNDARY = "assetflow-test-boundary"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def upload_server(
    request: pytest.FixtureRequest,
    prefect_server: None,
    http_server: LocalHTTPServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    """The API with small chunks, a small size limit and a small quota."""
    yield from run_api_server(
        request,
        http_server,
        tmp_path_factory,
        upload_chunk_bytes=CHUNK,
        upload_max_bytes=MAX_BYTES,
        upload_max_sessions_per_key=MAX_SESSIONS,
        upload_max_open_bytes_per_key=MAX_OPEN_BYTES,
    )


def _key(server: ApiServer, *scopes: Scope) -> dict[str, str]:
    """Make a new key with these scopes; return the header that sends it."""
    engine = make_engine(server.settings.database_url)
    with new_session(engine) as session:
        made = create_key(session=session, name="upload test", scopes=list(scopes))
        session.commit()
    engine.dispose()
    return {"Authorization": f"Bearer {made.key}"}


def _chunk_form(offset: int, data: bytes) -> bytes:
    """A transfer phase's form, its fields before the chunk as the contract asks."""
    return b"".join(
        [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload_phase"\r\n\r\n'
            "transfer\r\n".encode(),
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="start_offset"\r\n\r\n'
            f"{offset}\r\n".encode(),
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file_chunk"; '
            'filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(),
            data,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )


FORM_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _transfer(client: httpx.Client, session_id: str, offset: int, data: bytes) -> httpx.Response:
    return client.post(
        f"/assets/{session_id}/multipart",
        content=_chunk_form(offset, data),
        headers={"Content-Type": FORM_TYPE},
    )


def _start(client: httpx.Client, size: int, **fields: Any) -> httpx.Response:
    return client.post(
        "/assets",
        json={"upload_phase": "start", "file_size": size, "filename": "blob.bin", **fields},
    )


def _wait_for_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TASK_TIMEOUT_S
    while True:
        task = client.get(f"/tasks/{task_id}").json()
        if task["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return task
        time.sleep(0.1)  # polling is what an HTTP client has


class _HalfSentRequest:
    """A request whose body is sent in part over a raw socket: then finished, or dropped.

    ``length`` declares a Content-Length other than the body's own.
    """

    def __init__(
        self,
        server: ApiServer,
        headers: dict[str, str],
        path: str,
        body: bytes,
        length: int | None = None,
    ) -> None:
        url = urlsplit(server.url)
        self.socket = socket.create_connection((url.hostname, url.port))
        head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        declared = len(body) if length is None else length
        head += [f"Content-Type: {FORM_TYPE}", f"Content-Length: {declared}", "", ""]
        self.socket.sendall("\r\n".join(head).encode())
        self.rest = body[len(body) // 2 :]
        self.socket.sendall(body[: len(body) // 2])

    def drop(self) -> None:
        self.socket.close()

    def finish(self, *, send_rest: bool = True) -> tuple[int, bytes]:
        """Send the rest of the body (or not) and read the answer."""
        if send_rest:
            self.socket.sendall(self.rest)
        answer = b""
        while block := self.socket.recv(65536):
            answer += block
        self.socket.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), body


def _session_row(server: ApiServer, session_id: str) -> UploadSession | None:
    engine = make_engine(server.settings.database_url)
    try:
        with new_session(engine) as session:
            return session.get(UploadSession, uuid.UUID(session_id))
    finally:
        engine.dispose()


def _wait_for_writer(server: ApiServer, session_id: str, *, held: bool) -> None:
    """Wait until a request holds (or no longer holds) the session's writer lease."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        row = _session_row(server, session_id)
        if row is not None and (row.writer is not None) == held:
            return
        time.sleep(0.02)  # the lease is a row in another process's hands: nothing to await
    raise AssertionError(f"the writer lease was never {'taken' if held else 'released'}")


def _staged(server: ApiServer) -> list[tuple[str, str | None]]:
    """The staged writes in the store: S3 multipart uploads in progress, or staging files."""
    return list(open_store(server.settings).iter_staged())


def test_chunked_phases_resume_and_end_in_an_asset_with_the_right_sha256(
    upload_server: ApiServer,
) -> None:
    data = os.urandom(2 * CHUNK + 2 * MIB)
    headers = _key(upload_server, Scope.ASSETS)
    with upload_server.client(key=None) as client:
        client.headers.update(headers)
        started = _start(client, len(data), title="chunked", tags=["a"])
        assert started.status_code == 201, started.text
        session = started.json()
        assert (session["chunk_size"], session["start_offset"], session["end_offset"]) == (
            CHUNK,
            0,
            CHUNK,
        )
        sid = session["id"]
        assert _transfer(client, sid, 0, data[:CHUNK]).json()["offset"] == CHUNK

        wrong = _transfer(client, sid, 0, data[:CHUNK])
        assert wrong.status_code == 409
        assert wrong.json()["expected_offset"] == CHUNK

        # The connection drops halfway through the second chunk: nothing of it counts.
        dropped = _HalfSentRequest(
            upload_server,
            headers,
            f"/assets/{sid}/multipart",
            _chunk_form(CHUNK, data[CHUNK : 2 * CHUNK]),
        )
        _wait_for_writer(upload_server, sid, held=True)
        dropped.drop()
        _wait_for_writer(upload_server, sid, held=False)
        assert client.get(f"/assets/{sid}/multipart").json()["offset"] == CHUNK

        # A second server (a restart, or another process behind the balancer) goes on.
        server, thread, port = serve_app(create_app(upload_server.settings))
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60
            ) as other:
                resumed = _transfer(other, sid, CHUNK, data[CHUNK : 2 * CHUNK])
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        assert resumed.json()["offset"] == 2 * CHUNK

        early = client.post(f"/assets/{sid}/multipart", json={"upload_phase": "finish"})
        assert early.status_code == 409
        assert early.json()["expected_offset"] == 2 * CHUNK
        assert client.get(f"/assets/{sid}/multipart").json()["status"] == "open"

        last = _transfer(client, sid, 2 * CHUNK, data[2 * CHUNK :])
        assert (last.json()["offset"], last.json()["end_offset"]) == (len(data), len(data))
        sha256 = hashlib.sha256(data).hexdigest()
        finished = client.post(
            f"/assets/{sid}/multipart", json={"upload_phase": "finish", "sha256": sha256}
        )
        assert finished.status_code == 200, finished.text
        task = _wait_for_task(client, finished.json()["id"])
        assert task["status"] == "completed", task
        asset = client.get(f"/assets/{task['asset_id']}").json()

    assert task["file"]["sha256"] == sha256
    assert task["file"]["filesize"] == len(data)
    assert (asset["status"], asset["title"], asset["tags"]) == ("ready", "chunked", ["a"])
    assert not [key for key, _ in _staged(upload_server) if sid in key]


def test_a_finish_with_the_wrong_sha256_fails_the_task_and_stores_nothing(
    upload_server: ApiServer,
) -> None:
    data = os.urandom(MIB)
    with upload_server.client() as client:
        sid = _start(client, len(data)).json()["id"]
        _transfer(client, sid, 0, data)
        finished = client.post(
            f"/assets/{sid}/multipart", json={"upload_phase": "finish", "sha256": "0" * 64}
        )
        task = _wait_for_task(client, finished.json()["id"])

    assert task["status"] == "failed"
    assert f"not {'0' * 64} as the client said" in task["error"]
    store = open_store(upload_server.settings)
    assert not store.exists(content_key(hashlib.sha256(data).hexdigest()))
    assert not [key for key, _ in _staged(upload_server) if sid in key]


def test_two_chunks_at_the_same_offset_at_once_one_wins(upload_server: ApiServer) -> None:
    data = os.urandom(CHUNK)
    headers = _key(upload_server, Scope.ASSETS)
    with upload_server.client(key=None) as client:
        client.headers.update(headers)
        sid = _start(client, len(data)).json()["id"]
        first = _HalfSentRequest(
            upload_server, headers, f"/assets/{sid}/multipart", _chunk_form(0, data)
        )
        _wait_for_writer(upload_server, sid, held=True)
        second = _transfer(client, sid, 0, data)
        status, body = first.finish()

    assert second.status_code == 409
    assert second.json()["expected_offset"] == 0
    assert "another request is writing" in second.json()["error"]
    assert status == 200, body


def test_a_form_upload_of_a_video_becomes_a_ready_asset_with_its_proxy(
    upload_server: ApiServer, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=2, width=320, height=240)
    with upload_server.client() as client, video.open("rb") as stream:
        answer = client.post(
            "/assets",
            data={"title": "a clip", "tags": "holiday,beach"},
            files={"source": ("clip.mp4", stream, "video/mp4")},
        )
        assert answer.status_code == 201, answer.text
        task = _wait_for_task(client, answer.json()["id"])
        assert task["status"] == "completed", task
        asset = client.get(f"/assets/{task['asset_id']}").json()

    assert (asset["kind"], asset["status"], asset["title"]) == ("video", "ready", "a clip")
    assert asset["tags"] == ["holiday", "beach"]
    assert task["file"]["filename"] == "clip.mp4"
    assert task["file"]["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert "PROXY" in {fmt["name"] for fmt in asset["formats"]}


def test_a_form_upload_of_several_parts_is_stored_whole(upload_server: ApiServer) -> None:
    # Two whole parts, then 123 bytes: the form's size is known only at its end, so the
    # last bytes wait in the session's row until the finish makes them the last part.
    data = os.urandom(2 * CHUNK + 123)
    with upload_server.client() as client:
        answer = client.post("/assets", files={"source": ("noise.bin", data)})
        assert answer.status_code == 201, answer.text
        task = _wait_for_task(client, answer.json()["id"])

    assert task["status"] == "completed", task
    assert (task["file"]["sha256"], task["file"]["filesize"]) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


def test_an_upload_over_the_limit_is_413_and_leaves_nothing_behind(
    upload_server: ApiServer,
) -> None:
    headers = _key(upload_server, Scope.ASSETS)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="source"; filename="big.bin"\r\n\r\n'
    ).encode()

    def body() -> Iterator[bytes]:
        # Chunked transfer encoding: no Content-Length tells the size before it streams.
        yield head
        block = os.urandom(MIB)
        for _ in range(MAX_BYTES // MIB + 2):
            yield block
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    with upload_server.client(key=None) as client:
        client.headers.update(headers)
        try:
            streamed: httpx.Response | None = client.post(
                "/assets", content=body(), headers={"Content-Type": FORM_TYPE}
            )
        except httpx.TransportError:
            streamed = None  # the server may close before the client has sent it all

    declared, _ = _HalfSentRequest(
        upload_server, headers, "/assets", head, length=MAX_BYTES + 1
    ).finish(send_rest=False)
    assert declared == 413
    assert streamed is None or streamed.status_code == 413
    engine = make_engine(upload_server.settings.database_url)
    with new_session(engine) as session:
        rows = session.exec(select(UploadSession)).all()
    engine.dispose()
    assert not [row for row in rows if row.protocol == "form" and row.status == "open"]
    assert not [key for key, _ in _staged(upload_server) if key not in {r.staged_key for r in rows}]


def test_a_key_past_its_quota_of_open_uploads_gets_429(upload_server: ApiServer) -> None:
    with httpx.Client(base_url=upload_server.url, headers=_key(upload_server, Scope.ASSETS)) as c:
        opened = [_start(c, 1).status_code for _ in range(MAX_SESSIONS)]
        refused = _start(c, 1)
    with httpx.Client(base_url=upload_server.url, headers=_key(upload_server, Scope.ASSETS)) as c:
        big = [_start(c, MAX_BYTES).status_code for _ in range(2)]
        too_many_bytes = _start(c, MAX_BYTES)

    assert opened == [201] * MAX_SESSIONS
    assert refused.status_code == 429
    assert refused.json()["error"].startswith(f"this key has {MAX_SESSIONS} uploads open")
    assert big == [201, 201]
    assert too_many_bytes.status_code == 429
    assert "would pass its limit" in too_many_bytes.json()["error"]


def test_an_expired_upload_is_aborted_by_gc(upload_server: ApiServer) -> None:
    with upload_server.client() as client:
        sid = _start(client, 2 * CHUNK).json()["id"]
        _transfer(client, sid, 0, os.urandom(CHUNK))
        row = _session_row(upload_server, sid)
        assert row is not None
        assert (row.staged_key, row.s3_upload_id) in _staged(upload_server)
        engine = make_engine(upload_server.settings.database_url)
        with new_session(engine) as session:
            session.execute(
                update(UploadSession)
                .where(col(UploadSession.id) == row.id)
                .values(expires_at=row.created_at)
            )
            session.commit()
        engine.dispose()
        expired = client.get(f"/assets/{sid}/multipart")

        result = CliRunner().invoke(cli, ["gc"])

        gone = client.get(f"/assets/{sid}/multipart")

    assert expired.status_code == 410
    assert result.exit_code == 0, result.output
    assert "aborted 1 expired uploads" in result.output
    assert (row.staged_key, row.s3_upload_id) not in _staged(upload_server)
    assert gone.status_code == 404


def test_every_upload_route_refuses_a_missing_key_and_a_key_without_assets(
    upload_server: ApiServer,
) -> None:
    with upload_server.client() as client:
        sid = _start(client, 10).json()["id"]
    routes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/assets", {"json": {"upload_phase": "start", "file_size": 1, "filename": "a"}}),
        ("POST", "/assets", {"files": {"source": ("a.bin", b"abc")}}),
        ("POST", f"/assets/{sid}/multipart", {"json": {"upload_phase": "finish"}}),
        (
            "POST",
            f"/assets/{sid}/multipart",
            {"content": _chunk_form(0, b"abc"), "headers": {"Content-Type": FORM_TYPE}},
        ),
        ("GET", f"/assets/{sid}/multipart", {}),
        ("DELETE", f"/assets/{sid}/multipart", {}),
    ]
    publisher = _key(upload_server, Scope.ASSETS_PUBLISH, Scope.ASSETS_DELETE)
    for method, path, arguments in routes:
        with httpx.Client(base_url=upload_server.url) as anonymous:
            assert anonymous.request(method, path, **arguments).status_code == 401, path
        with httpx.Client(base_url=upload_server.url, headers=publisher) as scoped:
            answer = scoped.request(method, path, **arguments)
            assert (answer.status_code, answer.json()["scope"]) == (403, "assets"), path
    with upload_server.client() as client:
        assert client.get(f"/assets/{sid}/multipart").json()["offset"] == 0
