"""The HTTP API against a real server on each database: what a client sends and gets back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, native_id, wait_for_task


def _events(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/events", params={"after": after, "limit": 200, **params}).json()
        found += page["data"]
        if page["next_cursor"] is None:
            return found
        after = page["next_cursor"]


def test_the_schema_and_docs_are_served_without_a_key(api_server: ApiServer) -> None:
    with api_server.client(key=None) as client:
        schema = client.get("/openapi.json").json()
        docs = client.get("/docs")
        health = client.get("/healthz")

    assert {"/files", "/tasks/{task_id}", "/assets/{asset_id}", "/events"} <= set(schema["paths"])
    assert "FileObject" in schema["components"]["schemas"]
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert health.json() == {"status": "ok", "database": "ok", "store": "ok"}


ROUTES = [
    ("POST", "/files", {"url": "https://example.com/a.png"}),
    ("POST", "/tasks", {"url": "https://example.com/a.png"}),
    ("GET", f"/tasks/{uuid.uuid4()}", None),
    ("GET", f"/files/{uuid.uuid4()}", None),
    ("GET", "/projects", None),
    ("POST", "/projects", {"name": "p"}),
    ("POST", f"/projects/{uuid.uuid4()}/assets", {"title": "t"}),
    ("GET", "/assets", None),
    ("GET", f"/assets/{uuid.uuid4()}", None),
    ("PUT", f"/assets/{uuid.uuid4()}", {"title": "t"}),
    ("DELETE", f"/assets/{uuid.uuid4()}", None),
    ("GET", "/events", None),
    ("POST", f"/api/v2/projects/{uuid.uuid4()}/assets", {"title": "t"}),
    ("GET", "/api/v2/drop_folders", None),
    ("POST", "/api/products/p-1/images", {"image": {}}),
    ("GET", "/api/products/p-1", None),
]


@pytest.mark.parametrize("key", [None, "revoked", "wrong"])
def test_every_route_refuses_a_missing_or_dead_key_with_401(
    api_server: ApiServer, key: str | None
) -> None:
    headers = {}
    if key == "revoked":
        headers = {"X-API-KEY": api_server.keys["revoked"]}
    elif key == "wrong":
        headers = {"Authorization": "Bearer " + api_server.keys["all"][:-2] + "xx"}
    with httpx.Client(base_url=api_server.url, headers=headers) as client:
        for method, path, body in ROUTES:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["error"].startswith("a valid API key is needed")


def test_a_key_without_the_scope_gets_403_naming_it(api_server: ApiServer) -> None:
    with api_server.client("all") as client:
        asset = client.post(
            f"/projects/{_project(client)['id']}/assets", json={"title": "scoped"}
        ).json()
    with api_server.client("reader") as reader:
        assert reader.get(f"/assets/{asset['id']}").status_code == 200
        changed = reader.put(f"/assets/{asset['id']}", json={"title": "x"})
        deleted = reader.delete(f"/assets/{asset['id']}")

    assert (changed.status_code, changed.json()) == (
        403,
        {"error": "this key lacks the scope 'assets_publish'", "scope": "assets_publish"},
    )
    assert (deleted.status_code, deleted.json()["scope"]) == (403, "assets_delete")


def _project(client: httpx.Client) -> dict[str, Any]:
    answer = client.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_post_files_waits_and_answers_201_with_the_file(api_server: ApiServer) -> None:
    url = api_server.image_url(seed=1)
    with api_server.client() as client:
        answer = client.post(
            "/files",
            json={"url": url, "project": "news", "folder": "2026/12", "filename": "cover.png"},
        )
        assert answer.status_code == 201, answer.text
        file = answer.json()["data"]
        again = client.get(answer.headers["location"]).json()["data"]
        detail = client.get(f"/assets/{native_id(file['id'])}").json()
        events = _events(client, asset_id=native_id(file["id"]))

    assert file["object"] == "file" and file["status"] == "ready"
    assert (file["kind"], file["content_type"], file["width"], file["height"]) == (
        "image",
        "image/png",
        48,
        32,
    )
    assert (file["folder"], file["filename"], file["project"]) == ("2026/12", "cover.png", "news")
    assert len(file["sha256"]) == 64 and file["filesize"] > 0
    assert again == file
    assert detail["md5_sum"] == file["md5"] and detail["processed"] is True
    assert "ORIGINAL" in {fmt["name"] for fmt in detail["formats"]}
    assert [task["status"] for task in detail["tasks"]] == ["completed"]
    types = [event["type"] for event in events]
    assert types[0] == "asset.created" and {"asset.ready", "task.completed"} <= set(types)
    ids = [event["id"] for event in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_used_identifier_is_409_naming_the_asset_and_writes_nothing(
    api_server: ApiServer,
) -> None:
    with api_server.client() as client:
        first = client.post(
            "/files", json={"url": api_server.image_url(seed=2), "identifier": "ep-1"}
        ).json()["data"]
        before = _events(client)
        again = client.post(
            "/files",
            json={"url": api_server.image_url(seed=3), "identifier": "ep-1", "title": "other"},
        )
        after = _events(client)

    assert again.status_code == 409
    asset_id = native_id(first["id"])
    assert again.json() == {
        "error": f"identifier 'ep-1' is already used in project 'default' by asset {asset_id}",
        "field": "identifier",
        "existing_asset_id": asset_id,
    }
    assert after == before


def test_post_files_answers_202_with_the_task_when_the_wait_runs_out(
    api_server: ApiServer,
) -> None:
    with api_server.client() as client:
        answer = client.post(
            "/files", json={"url": api_server.image_url(seed=4)}, headers={"Prefer": "wait=0"}
        )
        task = answer.json()["data"]
        assert (answer.status_code, task["object"]) == (202, "task")
        assert answer.headers["location"] == f"/tasks/{task['id']}"
        done = wait_for_task(client, task["id"])

    assert done["status"] == "completed" and done["progress"] == 100
    assert native_id(done["file"]["id"]) == done["asset_id"]


def test_post_tasks_answers_at_once_and_the_task_ends_with_its_file(
    api_server: ApiServer,
) -> None:
    with api_server.client() as client:
        headers = {"Idempotency-Key": f"cms-{uuid.uuid4()}"}
        body = {"kind": "ingest", "url": api_server.image_url(seed=5), "tags": ["press"]}
        created = client.post("/tasks", json=body, headers=headers)
        repeated = client.post("/tasks", json=body, headers=headers)
        done = wait_for_task(client, created.json()["data"]["id"])
        tagged = client.get("/assets", params={"tag": "press"}).json()["data"]

    task = created.json()["data"]
    assert created.status_code == 201
    assert (task["object"], task["kind"], task["status"], task["progress"]) == (
        "task",
        "ingest",
        "pending",
        0,
    )
    assert repeated.json()["data"]["id"] == task["id"]
    assert done["status"] == "completed" and done["file"]["kind"] == "image"
    assert [asset["id"] for asset in tagged] == [done["asset_id"]]


def test_a_source_that_fails_answers_422_with_the_sentence(api_server: ApiServer) -> None:
    missing = api_server.http_server.url(f"/media/{uuid.uuid4().hex}.png")
    with api_server.client() as client:
        answer = client.post("/files", json={"url": missing})
        task = client.get(f"/tasks/{answer.json()['task_id']}").json()["data"]

    assert answer.status_code == 422
    assert "404" in answer.json()["error"] and answer.json()["field"] == "url"
    assert (task["status"], task["error"]) == ("failed", answer.json()["error"])


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ({}, "Missing parameter url", "url"),
        ({"url": "file:///etc/passwd"}, "url: must be an http(s) or s3:// URL", "url"),
        ({"url": "/etc/passwd"}, "url: must be an http(s) or s3:// URL", "url"),
        ({"url": "https://a.test/x", "colour": "red"}, "Unknown parameter colour", "colour"),
    ],
)
def test_a_bad_body_is_422_naming_the_field(
    api_server: ApiServer, body: dict[str, Any], error: str, field: str
) -> None:
    with api_server.client() as client:
        answer = client.post("/files", json=body)
    assert (answer.status_code, answer.json()) == (422, {"error": error, "field": field})


def test_projects_are_made_listed_and_read(api_server: ApiServer) -> None:
    with api_server.client() as client:
        made = client.post("/projects", json={"name": "films", "description": "long ones"})
        twice = client.post("/projects", json={"name": "films"})
        read = client.get(f"/projects/{made.json()['id']}").json()
        listed = client.get("/projects", params={"limit": 200}).json()["data"]
        missing = client.get(f"/projects/{uuid.uuid4()}")

    assert made.status_code == 201 and read == made.json()
    assert read["description"] == "long ones"
    assert (twice.status_code, twice.json()["field"]) == (409, "name")
    assert made.json() in listed
    assert (missing.status_code, missing.json()) == (404, {"error": "project not found"})


def test_project_assets_are_made_with_or_without_media(api_server: ApiServer) -> None:
    with api_server.client() as client:
        project = _project(client)
        path = f"/projects/{project['id']}/assets"
        no_project = client.post(f"/projects/{uuid.uuid4()}/assets", json={"title": "t"})
        no_title = client.post(path, json={"description": "d"})
        before = _events(client)
        not_http = client.post(path, json={"title": "t", "url": {"file_url": "ftp://a.test/x"}})
        after = _events(client)
        waiting = client.post(path, json={"title": "later", "external_id": "x-1"})
        with_media = client.post(
            path,
            json={
                "title": "cover",
                "tags": ["a"],
                "url": {"file_url": api_server.image_url(seed=6), "filename": "c.png"},
            },
        )

    assert (no_project.status_code, no_project.json()) == (404, {"error": "project not found"})
    assert (no_title.status_code, no_title.json()) == (
        422,
        {"error": "Missing parameter title", "field": "title"},
    )
    assert not_http.status_code == 422
    assert not_http.json()["field"] == "url.file_url" and after == before
    assert waiting.status_code == 201
    assert (waiting.json()["status"], waiting.json()["md5_sum"]) == ("pending", None)
    asset = with_media.json()
    assert with_media.status_code == 201, with_media.text
    assert (asset["object"], asset["title"], asset["filename"], asset["status"]) == (
        "asset",
        "cover",
        "c.png",
        "ready",
    )
    assert asset["project_id"] == project["id"] and len(asset["md5_sum"]) == 32


def test_assets_are_listed_by_filters_a_page_at_a_time(api_server: ApiServer) -> None:
    with api_server.client() as client:
        project = _project(client)
        path = f"/projects/{project['id']}/assets"
        made = [
            client.post(path, json={"title": f"a{n}", "tags": ["odd" if n % 2 else "even"]}).json()
            for n in range(5)
        ]
        pages, cursor = [], None
        for _ in range(10):  # more pages than that: the cursor is not moving
            params = {
                "project": project["name"],
                "limit": 2,
                **({"cursor": cursor} if cursor else {}),
            }
            page = client.get("/assets", params=params).json()
            pages.append([asset["id"] for asset in page["data"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        odd = client.get("/assets", params={"project": project["name"], "tag": "odd"}).json()
        bad_cursor = client.get("/assets", params={"cursor": "nonsense"})

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == [asset["id"] for asset in reversed(made)]
    assert {asset["title"] for asset in odd["data"]} == {"a1", "a3"}
    assert (bad_cursor.status_code, bad_cursor.json()["field"]) == (422, "cursor")


def test_an_asset_is_updated_then_soft_deleted_with_events(api_server: ApiServer) -> None:
    with api_server.client() as client:
        project = _project(client)
        asset = client.post(f"/projects/{project['id']}/assets", json={"title": "old"}).json()
        changed = client.put(f"/assets/{asset['id']}", json={"title": "new", "tags": ["x"]})
        deleted = client.delete(f"/assets/{asset['id']}")
        gone = client.get(f"/assets/{asset['id']}")
        listed = client.get("/assets", params={"project": project["name"]}).json()["data"]
        events = _events(client, asset_id=asset["id"])

    assert changed.status_code == 200
    assert (changed.json()["title"], changed.json()["tags"]) == ("new", ["x"])
    assert (deleted.status_code, deleted.json()["status"]) == (200, "deleted")
    assert (gone.status_code, gone.json()) == (404, {"error": "asset not found"})
    assert listed == []
    assert [event["type"] for event in events] == [
        "asset.created",
        "asset.changed",
        "asset.deleted",
    ]
    assert events[1]["payload"]["changed"] == {"title": "new", "tags": ["x"]}


def test_a_job_left_pending_is_taken_up_when_the_server_starts(api_server: ApiServer) -> None:
    with api_server.client() as client:
        task = wait_for_task(client, str(api_server.recovered_job))
    assert task["status"] == "completed" and task["file"]["status"] == "ready"


def test_keys_made_listed_and_revoked_from_the_command_line(
    api_server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from deployments.cli import app

    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", api_server.settings.database_url)
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--name", "cms", "--scope", "assets", "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    with httpx.Client(base_url=api_server.url, headers={"X-API-KEY": key["key"]}) as client:
        before = client.get("/assets").status_code
        revoked = runner.invoke(app, ["keys", "revoke", key["id"], "--json"])
        after = client.get("/assets")

    assert key["scopes"] == ["assets"] and key["key"].startswith(key["prefix"] + "_")
    shown = next(row for row in listed if row["id"] == key["id"])
    assert "key" not in shown and shown["revoked_at"] is None
    assert key["key"] not in json.dumps(listed)
    assert before == 200
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    assert after.status_code == 401


def test_a_files_bytes_are_served_with_ranges_and_etags(api_server: ApiServer) -> None:
    url = api_server.image_url(seed=7)
    body = httpx.get(url).content
    with api_server.client() as client:
        file = client.post("/files", json={"url": url}).json()["data"]
        whole = client.get(file["download_url"], follow_redirects=True)
        part = client.get(
            file["download_url"], headers={"Range": "bytes=8-23"}, follow_redirects=True
        )
        cached = client.get(file["download_url"], headers={"If-None-Match": f'"{file["sha256"]}"'})
        no_proxy = client.get(file["download_url"], params={"format": "PROXY"})

    assert whole.status_code == 200 and whole.content == body
    assert (part.status_code, part.content) == (206, body[8:24])
    assert cached.status_code == 304
    assert (no_proxy.status_code, no_proxy.json()["field"]) == (404, "format")
    if api_server.settings.storage_url.startswith("s3://"):
        assert whole.history[0].status_code == 307
    else:
        assert whole.headers["etag"] == f'"{file["sha256"]}"'
