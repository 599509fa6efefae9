"""Search by likeness over HTTP, on each database: near-duplicate images and clip matching."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.api.conftest import ApiServer, native_id, serve_app
from tests.fixtures.audio_media import noisy_clip, structured_audio
from tests.fixtures.http_server import ServeFile
from tests.fixtures.images import scene


def _ingest(api_server: ApiServer, path: Path, content_type: str) -> dict[str, Any]:
    url = api_server.http_server.route(
        f"/{uuid.uuid4().hex}/{path.name}", ServeFile(path, content_type)
    )
    with api_server.client() as client:
        answer = client.post("/files", json={"url": url, "project": "likeness"})
    assert answer.status_code == 201, answer.text
    # The native asset, which /assets/{id}/similar and /match name.
    return {"id": native_id(answer.json()["data"]["id"])}


def _image(api_server: ApiServer, seed: int, suffix: str) -> Path:
    path = api_server.media_dir / f"{uuid.uuid4().hex}.{suffix}"
    scene(96, 64, seed).save(path, format="PNG" if suffix == "png" else "JPEG", quality=80)
    return path


def test_similar_lists_the_near_duplicate_and_not_the_other_image(api_server: ApiServer) -> None:
    original = _ingest(api_server, _image(api_server, 5, "png"), "image/png")
    recompressed = _ingest(api_server, _image(api_server, 5, "jpg"), "image/jpeg")
    other = _ingest(api_server, _image(api_server, 77, "png"), "image/png")

    with api_server.client("reader") as client:
        found = client.get(f"/assets/{original['id']}/similar")
        assert found.status_code == 200, found.text
        listed = {item["asset_id"]: item["distance"] for item in found.json()["data"]}
        with api_server.client("all") as admin:
            assert admin.delete(f"/assets/{recompressed['id']}").status_code == 200
        after_delete = client.get(f"/assets/{original['id']}/similar").json()["data"]
        missing = client.get(f"/assets/{uuid.uuid4()}/similar")

    assert recompressed["id"] in listed and listed[recompressed["id"]] <= 12
    assert other["id"] not in listed and original["id"] not in listed
    assert recompressed["id"] not in {item["asset_id"] for item in after_delete}
    assert (missing.status_code, missing.json()) == (404, {"error": "asset not found"})


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("track") / "track.wav"
    return structured_audio(path, seed=11, duration_s=24.0)


def _upload(client: httpx.Client, path: Path, **params: Any) -> httpx.Response:
    with path.open("rb") as clip:
        return client.post("/match", params=params, files={"clip": (path.name, clip)})


def test_match_finds_the_asset_a_clip_was_cut_from_with_its_offset(
    api_server: ApiServer, track: Path, tmp_path: Path
) -> None:
    asset = _ingest(api_server, track, "audio/wav")
    clip = noisy_clip(track, tmp_path / "clip.mp3", start_s=9.0, duration_s=10.0)
    not_media = tmp_path / "notes.mp3"
    not_media.write_bytes(b"not a clip at all " * 100)

    with api_server.client("reader") as client:
        found = _upload(client, clip)
        garbage = _upload(client, not_media)
        no_field = client.post("/match", files={"other": ("x.mp3", b"abc")})
    with api_server.client(None) as anonymous:
        refused = _upload(anonymous, clip)

    assert found.status_code == 200, found.text
    best = found.json()["data"][0]
    assert best["asset_id"] == asset["id"] and best["object"] == "match"
    assert best["offset_s"] == pytest.approx(9.0, abs=1.0) and best["score"] > 0.5
    assert garbage.status_code == 422 and garbage.json()["field"] == "clip"
    assert garbage.json()["error"].startswith("the clip cannot be matched")
    assert (no_field.status_code, no_field.json()["error"]) == (422, "Missing parameter clip")
    assert refused.status_code == 401
    assert not list(Path(api_server.settings.temp_dir or "/nonexistent").glob("upload-*"))


@pytest.fixture
def small_limit_server(api_server: ApiServer) -> Iterator[str]:
    """A second server on the same store that takes clips of at most 64 KiB."""
    settings = api_server.settings.model_copy(update={"api_max_clip_bytes": 64 * 1024})
    server, thread, port = serve_app(create_app(settings))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_clip_over_the_limit_is_413_and_leaves_no_file(
    api_server: ApiServer, small_limit_server: str
) -> None:
    headers = {"Authorization": f"Bearer {api_server.keys['reader']}"}
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="clip"; filename="c.mp3"\r\n\r\n'
        ).encode()
        + b"\0" * (200 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is met while streaming
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    with httpx.Client(base_url=small_limit_server, headers=headers, timeout=30) as client:
        declared = client.post("/match", content=body, headers=content_type)
        streamed = client.post("/match", content=chunks(), headers=content_type)

    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"] == "the upload is larger than the limit of 65536 bytes"
    assert not list(Path(api_server.settings.temp_dir or "/nonexistent").glob("upload-*"))
