"""The compatibility families replayed on a real server on each database: status, keys, texts.

Project assets v2 (``/api/v2``), ingest by identifier (``/api/products``) and the
files and tasks envelope (``/files``, ``/tasks``), each example of issue 18 as a
client of the reference service sends it.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from flows.batch import batch_ingest
from tests.api.conftest import ApiServer, native_id
from tests.fixtures.audio_media import video_with_audio
from tests.fixtures.http_server import ServeFile, _Handler
from tests.fixtures.images import scene
from tests.fixtures.pipeline import export_settings
from tests.fixtures.seaweed import S3Server

V2_ASSET_KEYS = {
    "id",
    "external_id",
    "parent_id",
    "project_id",
    "owner",
    "title",
    "description",
    "category",
    "tags",
    "ai_tags",
    "status",
    "media_type",
    "original_filename",
    "drop_folder_id",
    "md5_sum",
    "created_date",
    "modification_date",
    "deleted",
}
# How long a test waits for an ingest the server runs to end.
INGEST_TIMEOUT_S = 120.0
# How long a gated source waits for its test to open the gate.
GATE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Gated:
    """Serve a file only once the test opens the gate: its ingest waits in its fetch till then."""

    gate: threading.Event
    then: ServeFile

    def serve(self, handler: _Handler) -> None:
        """Wait for the gate, then send the file."""
        self.gate.wait(GATE_TIMEOUT_S)
        self.then.serve(handler)


def _v2(api_server: ApiServer, header: str = "X-API-KEY") -> httpx.Client:
    key = api_server.keys["all"]
    value = key if header == "X-API-KEY" else f"Bearer {key}"
    return httpx.Client(base_url=api_server.url, headers={header: value}, timeout=60.0)


def _project_id(client: httpx.Client) -> str:
    made = client.post("/projects", json={"name": f"v2-{uuid.uuid4().hex[:8]}"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _until(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + INGEST_TIMEOUT_S
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)  # polling is what an HTTP client has


# ---- project assets v2 ---------------------------------------------------------------------


def test_v2_a_placeholder_and_an_article_answer_200_with_exactly_the_reference_fields(
    api_server: ApiServer,
) -> None:
    with _v2(api_server) as client:
        project_id = _project_id(client)
        path = f"/api/v2/projects/{project_id}/assets"
        placeholder = client.post(
            path,
            json={"title": "Cover", "category": "Sample", "tags": ["a", " "], "external_id": "e-1"},
        )
        article = client.post(path, json={"title": "Words", "media_type": "article"})
    with _v2(api_server, header="Authorization") as bearer:
        read = bearer.get(f"{path}/{placeholder.json()['asset']['id']}")

    assert placeholder.status_code == 200, placeholder.text
    assert set(placeholder.json()) == {"asset"}
    asset = placeholder.json()["asset"]
    assert set(asset) == V2_ASSET_KEYS
    assert asset | {"id": None, "created_date": None, "modification_date": None} == {
        "id": None,
        "external_id": "e-1",
        "parent_id": None,
        "project_id": project_id,
        "owner": "all",
        "title": "Cover",
        "description": None,
        "category": "sample",
        "tags": ["a"],
        "ai_tags": [],
        "status": "open",
        "media_type": "placeholder",
        "original_filename": None,
        "drop_folder_id": None,
        "md5_sum": None,
        "created_date": None,
        "modification_date": None,
        "deleted": False,
    }
    assert (article.status_code, article.json()["asset"]["media_type"]) == (200, "article")
    assert (read.status_code, read.json()) == (200, placeholder.json())


def test_v2_media_from_a_url_reads_processing_until_ingested_then_its_kind(
    api_server: ApiServer,
) -> None:
    gate = threading.Event()
    image = api_server.media_dir / f"{uuid.uuid4().hex}.png"
    scene(64, 48, 3).save(image, format="PNG")
    url = api_server.http_server.route(
        f"/gated/{image.name}", Gated(gate, ServeFile(image, "image/png"))
    )
    with _v2(api_server) as client:
        path = f"/api/v2/projects/{_project_id(client)}/assets"
        made = client.post(path, json={"title": "t", "url": {"file_url": url, "filename": "c.png"}})
        gate.set()
        asset_path = f"{path}/{made.json()['asset']['id']}"
        ingested = _until(
            lambda: client.get(asset_path).json()["asset"],
            lambda asset: asset["media_type"] != "processing",
        )

    assert made.status_code == 200, made.text
    assert set(made.json()["asset"]) == V2_ASSET_KEYS
    assert (made.json()["asset"]["media_type"], made.json()["asset"]["md5_sum"]) == (
        "processing",
        None,
    )
    assert (ingested["media_type"], ingested["original_filename"]) == ("image", "c.png")
    assert len(ingested["md5_sum"]) == 32


def test_v2_media_from_s3_is_copied_from_the_key_or_refused_without_an_s3_store(
    api_server: ApiServer, s3_server: S3Server
) -> None:
    body = io.BytesIO()
    scene(40, 30, 8).save(body, format="PNG")
    on_s3 = api_server.settings.storage_url.startswith("s3://")
    bucket = api_server.settings.storage_url.removeprefix("s3://")
    key = f"uploads/{uuid.uuid4().hex}.png"
    if on_s3:
        s3_server.client().put_object(bucket, key, io.BytesIO(body.getvalue()), body.tell())
    with _v2(api_server) as client:
        path = f"/api/v2/projects/{_project_id(client)}/assets"
        made = client.post(path, json={"title": "s3", "s3": {"s3_key": key, "filename": "k.png"}})
        ingested = (
            _until(
                lambda: client.get(f"{path}/{made.json()['asset']['id']}").json()["asset"],
                lambda asset: asset["media_type"] != "processing",
            )
            if made.status_code == 200
            else None
        )

    if on_s3:  # a bare key names the store's bucket
        assert made.status_code == 200, made.text
        assert ingested is not None and ingested["media_type"] == "image"
    else:
        assert (made.status_code, made.json()) == (
            422,
            {
                "error": f"Invalid parameter 's3[s3_key]' value \"{key}\": "
                "Must be an s3://bucket/key URL"
            },
        )


V2_ERRORS = [
    ({"description": "d"}, "Missing parameter title"),
    ({"title": "  "}, "Missing parameter title"),
    (
        {"title": "t", "media_type": "image"},
        "Invalid parameter 'media_type' value \"image\": Must be one of: <code>article</code>.",
    ),
    (
        {"title": "t", "tags": "a"},
        "Invalid parameter 'tags' value \"a\": Must be an array of String",
    ),
    (
        {"title": "t", "tags": ["a", 1]},
        "Invalid parameter 'tags' value [\"a\", 1]: Must be an array of String",
    ),
    ({"title": 5}, "Invalid parameter 'title' value 5: Must be a String"),
    (
        {"title": "t", "category": ["x"]},
        "Invalid parameter 'category' value [\"x\"]: Must be a String",
    ),
    (
        {"title": "t", "url": "https://a.test/x.png"},
        "Invalid parameter 'url' value \"https://a.test/x.png\": Must be a Hash",
    ),
    ({"title": "t", "s3": ["k"]}, "Invalid parameter 's3' value [\"k\"]: Must be a Hash"),
    ({"title": "t", "url": {"filename": "x.png"}}, "Missing parameter url[file_url]"),
    (
        {"title": "t", "url": {"file_url": "https://a.test/x.png"}},
        "Missing parameter url[filename]",
    ),
    ({"title": "t", "s3": {"filename": "x.png"}}, "Missing parameter s3[s3_key]"),
    ({"title": "t", "s3": {"s3_key": "k.png"}}, "Missing parameter s3[filename]"),
    (
        {"title": "t", "url": {"file_url": 7, "filename": "x.png"}},
        "Invalid parameter 'url[file_url]' value 7: Must be a String",
    ),
    (
        {
            "title": "t",
            "url": {"file_url": "https://a.test/x", "filename": "x"},
            "s3": {"s3_key": "k", "filename": "k"},
        },
        "url, s3 are mutually exclusive",
    ),
]


def test_v2_errors_are_the_reference_texts_byte_for_byte_and_write_nothing(
    api_server: ApiServer,
) -> None:
    with _v2(api_server) as client:
        project_id = _project_id(client)
        path = f"/api/v2/projects/{project_id}/assets"
        answers = [client.post(path, json=body) for body, _ in V2_ERRORS]
        no_project = client.post(f"/api/v2/projects/{uuid.uuid4()}/assets", json={"title": "t"})
        not_an_id = client.post("/api/v2/projects/news/assets", json={"title": "t"})
        no_asset = client.get(f"{path}/{uuid.uuid4()}")
        project = client.get(f"/projects/{project_id}").json()["name"]
        written = client.get("/assets", params={"project": project}).json()["data"]
    with httpx.Client(base_url=api_server.url) as anonymous:
        no_key = anonymous.post(path, json={"title": "t"})

    assert [(a.status_code, a.json()) for a in answers] == [
        (422, {"error": error}) for _, error in V2_ERRORS
    ]
    assert (no_project.status_code, no_project.json()) == (404, {"error": "project not found"})
    assert (not_an_id.status_code, not_an_id.json()) == (404, {"error": "project not found"})
    assert (no_asset.status_code, no_asset.json()) == (404, {"error": "asset not found"})
    assert no_key.status_code == 401 and set(no_key.json()) == {"error"}
    assert written == []


def test_drop_folders_are_listed_and_their_assets_carry_the_folder_id(
    api_server: ApiServer, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The drop folder is a bucket on the S3 server, whichever store the API has.
    bucket = f"drop-{uuid.uuid4().hex[:12]}"
    client_s3 = s3_server.client()
    client_s3.make_bucket(bucket)
    body = b"dropped\n"
    client_s3.put_object(bucket, "inbox/a.txt", io.BytesIO(body), len(body))
    s3 = s3_server.settings(bucket)
    export_settings(
        monkeypatch,
        api_server.settings.model_copy(
            update={
                name: getattr(s3, name)
                for name in ("s3_endpoint", "s3_access_key", "s3_secret_key", "s3_secure")
            }
        ),
    )
    folder = f"s3://{bucket}/inbox/"
    project = f"drop-{uuid.uuid4().hex[:8]}"
    summary = batch_ingest(folder, project=project)
    [row] = summary.rows
    with _v2(api_server) as client:
        listed = client.get("/api/v2/drop_folders")
        project_id = next(
            p["id"]
            for p in client.get("/projects", params={"limit": 200}).json()["data"]
            if p["name"] == project
        )
        asset = client.get(f"/api/v2/projects/{project_id}/assets/{row.asset_id}").json()["asset"]

    assert row.status == "completed", row
    assert listed.status_code == 200 and set(listed.json()) == {"drop_folders"}
    [shown] = [f for f in listed.json()["drop_folders"] if f["location"] == folder]
    assert set(shown) == {"id", "location", "created_date"}
    assert asset["drop_folder_id"] == shown["id"]
    assert asset["media_type"] == "document"


# ---- ingest by identifier: products ------------------------------------------------------


def _served_image(api_server: ApiServer, width: int, height: int) -> str:
    path = api_server.media_dir / f"{uuid.uuid4().hex}.png"
    scene(width, height, 4).save(path, format="PNG")
    return api_server.http_server.route(f"/media/{path.name}", ServeFile(path, "image/png"))


def test_a_product_image_is_201_with_location_409_again_and_shows_its_sizes_once_processed(
    api_server: ApiServer,
) -> None:
    # Not ASCII: the Location header carries it percent-encoded.
    product = f"sku-ü-{uuid.uuid4().hex[:8]}"
    identifier = f"img-{uuid.uuid4().hex[:8]}"
    data = {"alt": "front", "position": [1, 2], "nested": {"x": None}}
    body = {
        "image": {
            "identifier": identifier,
            "type": "poster",
            "source_url": _served_image(api_server, 400, 300),
            "data": data,
        }
    }
    with _v2(api_server) as client:
        made = client.post(f"/api/products/{product}/images", json=body)
        again = client.post(
            f"/api/products/{product}/images",
            json={"image": body["image"] | {"data": {"other": True}}},
        )
        processed = _until(
            lambda: client.get(made.headers["location"]).json()["image"],
            lambda image: image["data"]["processed"] or image["status"] == "failed",
        )
        whole = client.get(f"/api/products/{product}").json()["product"]
        size = client.get(processed["sizes"][0]["url"], follow_redirects=True)
        native = client.get(f"/assets/{processed['id']}").json()
        parent = client.get(f"/assets/{native['parent_id']}").json()

    assert made.status_code == 201, made.text
    image = made.json()["image"]
    assert made.headers["location"] == f"/api/products/{quote(product)}/images/{image['id']}"
    assert (image["identifier"], image["type"], image["product_id"]) == (
        identifier,
        "poster",
        product,
    )
    assert image["data"] == data | {"processed": False} and image["sizes"] == []
    assert (again.status_code, set(again.json())) == (409, {"error"})
    assert processed["data"] == data | {"processed": True}, processed
    # Sizes never upscale: SIZE_640 of a 400 px image is the image's own size.
    assert [(s["name"], s["width"], s["height"]) for s in processed["sizes"]] == [
        ("SIZE_160", 160, 120),
        ("SIZE_320", 320, 240),
        ("SIZE_640", 400, 300),
    ]
    assert size.status_code == 200 and size.content[:4] == b"RIFF"
    assert [i["id"] for i in whole["images"]] == [image["id"]] and whole["videos"] == []
    # On the graph: an asset whose parent is the product, its role the type.
    assert (native["role"], native["folder"]) == ("poster", "images")
    assert (parent["identifier"], parent["role"]) == (f"product:{product}", "product")


def test_a_product_video_shows_its_audio_fragments_and_fingerprints_once_processed(
    api_server: ApiServer,
) -> None:
    product = f"film-{uuid.uuid4().hex[:8]}"
    path = video_with_audio(
        api_server.media_dir / f"{uuid.uuid4().hex}.mp4", seed=3, duration_s=4.0
    )
    url = api_server.http_server.route(f"/media/{path.name}", ServeFile(path, "video/mp4"))
    body = {
        "video": {"identifier": f"v-{uuid.uuid4().hex[:8]}", "type": "trailer", "source_url": url}
    }
    with _v2(api_server) as client:
        made = client.post(f"/api/products/{product}/videos", json=body)
        processed = _until(
            lambda: client.get(made.headers["location"]).json()["video"],
            lambda video: video["data"]["processed"] or video["status"] == "failed",
        )
        whole = client.get(f"/api/products/{product}").json()["product"]

    assert made.status_code == 201, made.text
    assert made.json()["video"]["data"] == {"processed": False}
    assert processed["data"] == {"processed": True}, processed
    assert (processed["kind"], processed["type"]) == ("video", "trailer")
    fragments = processed["audio_fragments"]
    assert fragments and all(f["fingerprint"] for f in fragments)
    assert fragments[0]["offset_s"] == 0.0
    assert [v["id"] for v in whole["videos"]] == [processed["id"]] and whole["images"] == []


def test_a_product_video_from_a_youtube_page_is_created_with_its_job(
    api_server: ApiServer,
) -> None:
    # Only up to the job: the fetch cannot reach YouTube here (no network; it fails).
    product = f"film-{uuid.uuid4().hex[:8]}"
    body = {
        "video": {
            "identifier": f"yt-{uuid.uuid4().hex[:8]}",
            "type": "trailer",
            "source_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "data": {"campaign": 7},
        }
    }
    with _v2(api_server) as client:
        made = client.post(f"/api/products/{product}/videos", json=body)
        native = client.get(f"/assets/{made.json()['video']['id']}").json()

    assert made.status_code == 201, made.text
    assert made.json()["video"]["source_url"] == body["video"]["source_url"]
    assert len(native["tasks"]) == 1 and native["tasks"][0]["kind"] == "ingest"


PRODUCT_ERRORS = [
    ({}, "Missing parameter image"),
    ({"image": "x"}, "Invalid parameter 'image' value \"x\": Must be a Hash"),
    (
        {"image": {"type": "poster", "source_url": "https://a.test/x"}},
        "Missing parameter image[identifier]",
    ),
    (
        {"image": {"identifier": "i", "type": "poster", "source_url": "ftp://a.test/x"}},
        "Invalid parameter 'image[source_url]' value \"ftp://a.test/x\": Must be an http(s) URL",
    ),
    (
        {
            "image": {
                "identifier": "i",
                "type": "poster",
                "source_url": "https://a.test/x",
                "data": [1],
            }
        },
        "Invalid parameter 'image[data]' value [1]: Must be a Hash",
    ),
]


def test_product_errors_are_bare_sentences(api_server: ApiServer) -> None:
    with _v2(api_server) as client:
        answers = [client.post("/api/products/p-1/images", json=body) for body, _ in PRODUCT_ERRORS]
        missing = client.get(f"/api/products/p-1/images/{uuid.uuid4()}")
        no_product = client.get(f"/api/products/none-{uuid.uuid4().hex}")

    assert [(a.status_code, a.json()) for a in answers] == [
        (422, {"error": error}) for _, error in PRODUCT_ERRORS
    ]
    assert (missing.status_code, missing.json()) == (404, {"error": "image not found"})
    assert (no_product.status_code, no_product.json()) == (404, {"error": "product not found"})


# ---- files and tasks envelope ------------------------------------------------------------


def test_files_and_tasks_answer_in_the_envelope_with_prefixed_ids(api_server: ApiServer) -> None:
    with api_server.client() as client:
        made = client.post(
            "/files",
            json={"url": api_server.image_url(seed=21), "folder": "2026/12", "filename": "a.png"},
        )
        read = client.get(made.headers["location"])
        by_uuid = client.get(f"/files/{native_id(made.json()['data']['id'])}")
        task = client.post("/tasks", json={"url": api_server.image_url(seed=22)})
        task_read = client.get(task.headers["location"])
        unknown = client.get("/files/file_nothex")

    assert made.status_code == 201, made.text
    for answer, kind in ((made, "files"), (read, "files"), (task, "tasks"), (task_read, "tasks")):
        envelope = answer.json()
        assert set(envelope) == {"meta", "data", "links"}
        assert set(envelope["meta"]) == {"id", "type"} and envelope["meta"]["type"] == "object"
        assert envelope["meta"]["id"].startswith("req_")
        prefix = kind[:-1]
        assert envelope["data"]["id"].startswith(f"{prefix}_")
        assert envelope["links"] == {"self": f"{api_server.url}/{kind}/{envelope['data']['id']}"}
    file = made.json()["data"]
    assert (file["folder"], file["filename"]) == ("2026/12", "a.png")
    assert made.headers["location"] == f"/files/{file['id']}"
    assert read.json()["data"] == file and by_uuid.json()["data"] == file
    assert made.json()["meta"]["id"] != read.json()["meta"]["id"]
    assert file["download_url"] == f"/files/{file['id']}/content"
    assert (unknown.status_code, unknown.json()) == (404, {"error": "file not found"})
