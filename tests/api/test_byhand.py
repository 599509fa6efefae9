"""Building an asset by hand: formats, file sets, files in place, an own proxy, keyframes from it.

The original is an MXF OP-Atom clip (one video file and four mono audio
files, made by ffmpeg) lying in place on a configured S3 storage (SeaweedFS);
the proxy is encoded by the "client" and uploaded to the URL the API gives
(presigned S3 on PostgreSQL's server, the API's upload route on SQLite's).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage import open_store
from storage.keys import content_key
from tests.api.conftest import ApiServer
from tests.fixtures.seaweed import S3Server

# The S3 storage's bucket holds the files under this prefix.
PREFIX = "library"


@dataclass(frozen=True)
class Clip:
    """An OP-Atom clip: one file per stream, by name."""

    files: dict[str, bytes]


@pytest.fixture(scope="module")
def storages(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An S3 bucket and prefix ("media") and a filesystem root ("nas"), with secrets beside."""
    bucket = f"inplace-{uuid.uuid4().hex[:12]}"
    s3_server.client().make_bucket(bucket)
    nas = tmp_path_factory.mktemp("nas")
    return {"bucket": bucket, "nas": nas}


@pytest.fixture(scope="module")
def api_settings_extra(s3_server: S3Server, storages: dict[str, Any]) -> dict[str, object]:
    s3 = s3_server.settings(storages["bucket"])
    return {
        "storages": {
            "media": f"s3://{storages['bucket']}/{PREFIX}",
            "nas": f"file://{storages['nas']}",
        },
        **{name: getattr(s3, name) for name in ("s3_endpoint", "s3_access_key", "s3_secret_key")},
        "s3_region": s3.s3_region,
        "s3_secure": False,
    }


def _ffmpeg(*args: str, out: Path) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """One second of DV video and four mono PCM channels, each its own OP-Atom file."""
    work = tmp_path_factory.mktemp("opatom")
    files = {
        "V01.mxf": _ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=720x576:rate=25:duration=1",
            "-c:v", "dvvideo", "-pix_fmt", "yuv420p", "-f", "mxf_opatom",
            out=work / "V01.mxf",
        )
    }  # fmt: skip
    for channel in range(1, 5):
        name = f"A0{channel}.mxf"
        files[name] = _ffmpeg(
            "-f", "lavfi", "-i", f"sine=frequency={220 * channel}:duration=1:sample_rate=48000",
            "-c:a", "pcm_s16le", "-ac", "1", "-f", "mxf_opatom",
            out=work / name,
        )  # fmt: skip
    return Clip(files)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The client's own proxy: a small H.264 MP4 of four seconds."""
    return _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        out=tmp_path_factory.mktemp("proxy") / "proxy.mp4",
    )  # fmt: skip


def _put_on_media(s3_server: S3Server, storages: dict[str, Any], path: str, data: bytes) -> None:
    s3_server.client().put_object(
        storages["bucket"], f"{PREFIX}/{path}", io.BytesIO(data), len(data)
    )


def _new_asset(client: httpx.Client, title: str = "by hand") -> tuple[str, str]:
    """Create a project and an asset with no media in it; return their ids."""
    project = client.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:10]}"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    asset = client.post(f"/projects/{project_id}/assets", json={"title": title})
    assert asset.status_code == 201, asset.text
    return project_id, asset.json()["id"]


def _file_set(client: httpx.Client, asset_id: str, storage: str = "media") -> str:
    fmt = client.post(f"/assets/{asset_id}/formats", json={"name": "ORIGINAL"})
    assert fmt.status_code == 201, fmt.text
    file_set = client.post(
        f"/assets/{asset_id}/file_sets",
        json={
            "format": "ORIGINAL",
            "name": "op-atom",
            "storage": storage,
            "components": [
                {"name": "V1", "type": "video"},
                *({"name": f"A{n}", "type": "audio"} for n in range(1, 5)),
            ],
        },
    )
    assert file_set.status_code == 201, file_set.text
    return str(file_set.json()["id"])


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _upload(api: ApiServer, client: httpx.Client, upload_url: str, data: bytes) -> None:
    """PUT the bytes where the API said: a presigned S3 URL (no key) or the API's own route."""
    if upload_url.startswith("http"):
        answer = httpx.put(upload_url, content=data)
        assert answer.status_code == 200, answer.text
    else:
        answer = client.put(upload_url, content=data)
        assert answer.status_code == 204, answer.text


def test_an_op_atom_clip_in_place_with_its_own_proxy_ends_complete(
    api_server: ApiServer,
    s3_server: S3Server,
    storages: dict[str, Any],
    clip: Clip,
    proxy: bytes,
) -> None:
    folder = f"clips/{uuid.uuid4().hex}"
    for name, data in clip.files.items():
        _put_on_media(s3_server, storages, f"{folder}/{name}", data)
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        file_set_id = _file_set(client, asset_id)
        for name, data in clip.files.items():
            registered = client.post(
                f"/assets/{asset_id}/files",
                json={
                    "file_set_id": file_set_id,
                    "name": name,
                    "path": f"{folder}/{name}",
                    "size": len(data),
                    "checksum": _md5(data),
                    "content_type": "application/mxf",
                },
            )
            assert registered.status_code == 201, registered.text
            assert registered.json()["status"] == "open"
            closed = client.patch(
                f"/assets/{asset_id}/files/{registered.json()['id']}", json={"status": "CLOSED"}
            )
            assert closed.status_code == 200, closed.text
            assert closed.json()["status"] == "closed"
            assert closed.json()["sha256"] == hashlib.sha256(data).hexdigest()

        started = client.post(
            f"/assets/{asset_id}/proxies",
            json={"size": len(proxy), "checksum": hashlib.sha256(proxy).hexdigest()},
        )
        assert started.status_code == 201, started.text
        proxy_id = started.json()["id"]
        _upload(api_server, client, started.json()["upload_url"], proxy)
        closed_proxy = client.patch(
            f"/assets/{asset_id}/proxies/{proxy_id}", json={"status": "CLOSED"}
        )
        assert closed_proxy.status_code == 200, closed_proxy.text
        assert closed_proxy.json()["upload_url"] is None
        made = client.post(f"/assets/{asset_id}/proxies/{proxy_id}/keyframes")
        assert made.status_code == 200, made.text

        asset = client.get(f"/assets/{asset_id}").json()
        page = client.get(f"/library/{asset_id}")  # the web library's page of the asset
        events = client.get("/events", params={"asset_id": asset_id}).json()["data"]
        poster = client.get(f"/files/{asset_id}/content", params={"format": "POSTER"})
        # On S3 the answer redirects to a presigned URL the client follows.
        poster_bytes = (
            httpx.get(poster.headers["location"]).content
            if poster.is_redirect
            else (poster.content)
        )
    assert (asset["status"], asset["kind"], asset["processed"]) == ("ready", "video", True)
    # Each step of the build wrote its event with the change; the keyframes' end, asset.ready.
    changes = [e["payload"]["changed"] for e in events if e["type"] == "asset.changed"]
    closed = [
        change["files"]["closed"] for change in changes if "closed" in change.get("files", {})
    ]
    assert len(closed) == len(clip.files) + 1  # the five MXF files and the proxy
    assert [e["type"] for e in events][-1] == "asset.ready"
    formats = {fmt["name"]: fmt for fmt in asset["formats"]}
    assert set(formats) == {"ORIGINAL", "PROXY", "POSTER", "KEYFRAMES"}
    (original,) = formats["ORIGINAL"]["file_sets"]
    assert original["storage"] == "media"
    assert [c["name"] for c in original["components"]] == ["V1", "A1", "A2", "A3", "A4"]
    assert sorted(f["name"] for f in original["files"]) == sorted(clip.files)
    assert {f["status"] for f in original["files"]} == {"closed"}
    # In place: the files are where they were put, not copied into the content store.
    assert {f["key"] for f in original["files"]} == {f"{folder}/{name}" for name in clip.files}
    store = open_store(api_server.settings)
    assert not any(
        store.exists(content_key(hashlib.sha256(data).hexdigest())) for data in clip.files.values()
    )
    (proxy_set,) = formats["PROXY"]["file_sets"]
    (proxy_file,) = proxy_set["files"]
    assert (proxy_file["status"], proxy_file["sha256"]) == (
        "closed",
        hashlib.sha256(proxy).hexdigest(),
    )
    assert store.exists(content_key(proxy_file["sha256"]))
    keyframes = formats["KEYFRAMES"]
    assert keyframes["technical"]["frame_count"] >= 4  # one frame a second at least
    names = [f["name"] for f in keyframes["file_sets"][0]["files"]]
    assert "keyframes.vtt" in names and any(name.startswith("sheet_") for name in names)
    assert poster_bytes[:3] == b"\xff\xd8\xff"  # a JPEG
    # The library shows it as any ingested video: the own proxy plays with the poster,
    # and the MXF files in place are listed for download.
    assert page.status_code == 200, page.text
    assert f"/files/{asset_id}/content?format=PROXY" in page.text
    assert f"/files/{asset_id}/content?format=POSTER" in page.text
    assert all(name in page.text for name in clip.files)


def test_a_wrong_checksum_leaves_the_file_open_with_the_reason(
    api_server: ApiServer, s3_server: S3Server, storages: dict[str, Any], clip: Clip
) -> None:
    path = f"wrong/{uuid.uuid4().hex}/A01.mxf"
    data = clip.files["A01.mxf"]
    _put_on_media(s3_server, storages, path, data)
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        file_set_id = _file_set(client, asset_id)
        registered = client.post(
            f"/assets/{asset_id}/files",
            json={
                "file_set_id": file_set_id,
                "name": "A01.mxf",
                "path": path,
                "size": len(data),
                "checksum": _md5(b"other bytes"),
            },
        )
        file_id = registered.json()["id"]
        refused = client.patch(f"/assets/{asset_id}/files/{file_id}", json={"status": "CLOSED"})
        asset = client.get(f"/assets/{asset_id}").json()
    assert refused.status_code == 422
    assert refused.json()["error"] == (
        f"checksum mismatch: the MD5 of A01.mxf is {_md5(data)}, "
        f"not {_md5(b'other bytes')} as registered; it stays OPEN"
    )
    (shown,) = asset["formats"][0]["file_sets"][0]["files"]
    assert (shown["status"], shown["sha256"]) == ("open", None)
    assert shown["error"] == refused.json()["error"]


def test_a_proxy_of_other_bytes_than_declared_stays_open(
    api_server: ApiServer, proxy: bytes
) -> None:
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        started = client.post(
            f"/assets/{asset_id}/proxies", json={"size": len(proxy), "checksum": _md5(proxy)}
        ).json()
        _upload(api_server, client, started["upload_url"], proxy[:-1] + b"\0")
        refused = client.patch(
            f"/assets/{asset_id}/proxies/{started['id']}", json={"status": "closed"}
        )
        too_early = client.post(f"/assets/{asset_id}/proxies/{started['id']}/keyframes")
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("checksum mismatch: the MD5 of proxy.mp4 is ")
    assert too_early.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "../outside.mxf",
        "clips/../../outside.mxf",
        "/etc/passwd",
        "clips//V01.mxf",
        "clips/./V01.mxf",
        "clips\\..\\..\\outside.mxf",
        "..",
    ],
)
def test_paths_that_leave_the_storage_are_refused(api_server: ApiServer, path: str) -> None:
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        client.post(f"/assets/{asset_id}/formats", json={"name": "ORIGINAL"})
        for storage in ("media", "nas"):
            file_set_id = client.post(
                f"/assets/{asset_id}/file_sets",
                json={"format": "ORIGINAL", "name": storage, "storage": storage},
            ).json()["id"]
            refused = client.post(
                f"/assets/{asset_id}/files",
                json={
                    "file_set_id": file_set_id,
                    "name": "x.mxf",
                    "path": path,
                    "size": 1,
                    "checksum": _md5(b"x"),
                },
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "path"
            assert "does not stay inside its storage" in refused.json()["error"]


def test_a_symlink_out_of_a_filesystem_storage_is_not_followed(
    api_server: ApiServer, storages: dict[str, Any], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not yours")
    link_dir = storages["nas"] / uuid.uuid4().hex
    link_dir.mkdir()
    os.symlink(secret, link_dir / "clip.mxf")
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        client.post(f"/assets/{asset_id}/formats", json={"name": "ORIGINAL"})
        file_set_id = client.post(
            f"/assets/{asset_id}/file_sets",
            json={"format": "ORIGINAL", "name": "nas", "storage": "nas"},
        ).json()["id"]
        file_id = client.post(
            f"/assets/{asset_id}/files",
            json={
                "file_set_id": file_set_id,
                "name": "clip.mxf",
                "path": f"{link_dir.name}/clip.mxf",
                "size": len(b"not yours"),
                "checksum": _md5(b"not yours"),
            },
        ).json()["id"]
        refused = client.patch(f"/assets/{asset_id}/files/{file_id}", json={"status": "CLOSED"})
    assert refused.status_code == 422
    assert "symbolic link" in refused.json()["error"]


def test_only_configured_storages_take_file_sets(api_server: ApiServer) -> None:
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        client.post(f"/assets/{asset_id}/formats", json={"name": "ORIGINAL"})
        refused = client.post(
            f"/assets/{asset_id}/file_sets",
            json={"format": "ORIGINAL", "name": "x", "storage": "elsewhere"},
        )
        listed = client.get("/storages").json()["data"]
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("storage 'elsewhere' is not configured")
    assert [(s["name"], s["backend"], s["prefix"]) for s in listed] == [
        ("media", "s3", f"{PREFIX}/"),
        ("nas", "file", ""),
    ]


def test_building_by_hand_needs_the_write_scope(api_server: ApiServer) -> None:
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
    with api_server.client("reader") as reader:
        refused = reader.post(f"/assets/{asset_id}/formats", json={"name": "ORIGINAL"})
        read = reader.get("/storages")
    assert refused.status_code == 403
    assert refused.json()["error"] == "this key lacks the scope 'assets_publish'"
    assert read.status_code == 200


def test_keyframes_come_from_a_proxy_lying_in_place_too(
    api_server: ApiServer, s3_server: S3Server, storages: dict[str, Any], proxy: bytes
) -> None:
    path = f"proxies/{uuid.uuid4().hex}/proxy.mp4"
    _put_on_media(s3_server, storages, path, proxy)
    with api_server.client() as client:
        _, asset_id = _new_asset(client)
        client.post(f"/assets/{asset_id}/formats", json={"name": "PROXY"})
        file_set_id = client.post(
            f"/assets/{asset_id}/file_sets",
            json={"format": "PROXY", "name": "web", "storage": "media"},
        ).json()["id"]
        proxy_id = client.post(
            f"/assets/{asset_id}/files",
            json={
                "file_set_id": file_set_id,
                "name": "proxy.mp4",
                "path": path,
                "size": len(proxy),
                "checksum": _md5(proxy),
            },
        ).json()["id"]
        client.patch(f"/assets/{asset_id}/files/{proxy_id}", json={"status": "CLOSED"})
        made = client.post(f"/assets/{asset_id}/proxies/{proxy_id}/keyframes")
    assert made.status_code == 200, made.text
    formats = {fmt["name"]: fmt for fmt in made.json()["formats"]}
    assert set(formats) == {"PROXY", "POSTER", "KEYFRAMES"}
    assert formats["PROXY"]["file_sets"][0]["files"][0]["key"] == path  # still in place
    assert made.json()["status"] == "ready"
