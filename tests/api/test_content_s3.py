"""GET /files/{id}/content on S3 with ASSETFLOW_API_S3_REDIRECT off (streamed) and on.

An API of its own on SQLite and the SeaweedFS server, since the module-wide
servers of test_api.py keep the default (redirect).
"""

from __future__ import annotations

import ipaddress
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from core.settings import Settings
from tests.api.conftest import _keys, serve_app
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.images import scene
from tests.fixtures.pipeline import export_settings
from tests.fixtures.seaweed import S3Server


@pytest.fixture(scope="module")
def streaming(
    prefect_server: None,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, str]]:
    """Settings of an S3-backed API that streams content, and that API's URL."""
    tmp = tmp_path_factory.mktemp("content-s3")
    shutil.copyfile(sqlite_template, tmp / "assetflow.db")
    bucket = f"content-{uuid.uuid4().hex[:16]}"
    s3_server.client().make_bucket(bucket)
    settings = s3_server.settings(bucket).model_copy(
        update={
            "database_url": f"sqlite:///{tmp / 'assetflow.db'}",
            "allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
            "temp_dir": tmp,
            "api_sync_timeout_s": 60.0,
            "api_s3_redirect": False,
        }
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        export_settings(monkeypatch, settings)
        server, thread, port = serve_app(create_app(settings))
        try:
            yield settings, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _ingested(
    streaming: tuple[Settings, str], http_server: LocalHTTPServer, tmp_path: Path
) -> tuple[dict[str, Any], bytes, str]:
    """Ingest a tiny PNG through the API; return its file, its bytes and a key."""
    settings, url = streaming
    path = tmp_path / "image.png"
    scene(300, 200, 5).save(path, format="PNG")
    source = http_server.route(f"/{uuid.uuid4().hex}/image.png", ServeFile(path, "image/png"))
    key = _keys(settings.database_url)["all"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        file = client.post("/files", json={"url": source}, timeout=60.0).json()["data"]
    return file, path.read_bytes(), key


def test_s3_content_is_streamed_with_ranges_when_the_redirect_is_off(
    streaming: tuple[Settings, str], http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    file, body, key = _ingested(streaming, http_server, tmp_path)
    etag = f'"{file["sha256"]}"'
    size = len(body)
    with httpx.Client(base_url=streaming[1], headers={"Authorization": f"Bearer {key}"}) as client:
        whole = client.get(file["download_url"])
        part = client.get(file["download_url"], headers={"Range": "bytes=100-1099"})
        tail = client.get(file["download_url"], headers={"Range": "bytes=-10"})
        beyond = client.get(file["download_url"], headers={"Range": f"bytes={size}-"})
        cached = client.get(file["download_url"], headers={"If-None-Match": etag})
        stale = client.get(
            file["download_url"], headers={"Range": "bytes=0-9", "If-Range": '"other"'}
        )

    assert (whole.status_code, whole.content, whole.headers["etag"]) == (200, body, etag)
    assert not whole.history  # no redirect: the bytes came through the API
    assert (part.status_code, part.content) == (206, body[100:1100])
    assert part.headers["content-range"] == f"bytes 100-1099/{size}"
    assert (tail.status_code, tail.content) == (206, body[-10:])
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, f"bytes */{size}")
    assert cached.status_code == 304
    assert (stale.status_code, stale.content) == (200, body)


def test_s3_content_redirects_to_a_presigned_url_when_the_redirect_is_on(
    streaming: tuple[Settings, str], http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    file, body, key = _ingested(streaming, http_server, tmp_path)
    settings = streaming[0].model_copy(update={"api_s3_redirect": True})
    server, thread, port = serve_app(create_app(settings))
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            answer = client.get(file["download_url"])
            followed = httpx.get(answer.headers["location"])
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    assert answer.status_code == 307
    assert answer.headers["location"].startswith(f"http://{settings.s3_endpoint}/")
    assert followed.content == body
