"""Collections: nesting (never inside itself), adding and removing assets, pages both ways."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import ApiServer


def _project(client: httpx.Client) -> str:
    answer = client.post("/projects", json={"name": f"c-{uuid.uuid4().hex[:10]}"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _collection(client: httpx.Client, project_id: str, name: str, parent: str | None = None) -> str:
    answer = client.post(
        "/collections", json={"project_id": project_id, "name": name, "parent_id": parent}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _asset(client: httpx.Client, project_id: str, title: str) -> str:
    answer = client.post(f"/projects/{project_id}/assets", json={"title": title})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _all_pages(client: httpx.Client, path: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        pages.append([item["id"] for item in answer.json()["data"]])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return pages


def test_a_collection_never_goes_inside_itself(api_server: ApiServer) -> None:
    with api_server.client() as client:
        project = _project(client)
        top = _collection(client, project, "top")
        middle = _collection(client, project, "middle", parent=top)
        bottom = _collection(client, project, "bottom", parent=middle)
        into_its_grandchild = client.patch(f"/collections/{top}", json={"parent_id": bottom})
        into_itself = client.patch(f"/collections/{middle}", json={"parent_id": middle})
        moved = client.patch(f"/collections/{bottom}", json={"parent_id": top})
        to_the_top = client.patch(f"/collections/{middle}", json={"parent_id": None})
        children = _all_pages(client, f"/collections/{top}/collections", limit=10)
        same_name = client.post("/collections", json={"project_id": project, "name": "top"})
    for refused in (into_its_grandchild, into_itself):
        assert refused.status_code == 409
        assert refused.json()["field"] == "parent_id"
        assert "lies inside it" in refused.json()["error"]
    assert moved.status_code == 200 and moved.json()["parent_id"] == top
    assert to_the_top.json()["parent_id"] is None
    assert children == [[bottom]]
    assert same_name.status_code == 409


def test_assets_in_a_collection_come_in_pages_and_go(api_server: ApiServer) -> None:
    with api_server.client() as client:
        project = _project(client)
        shelf = _collection(client, project, "shelf")
        other = _collection(client, project, "other")
        assets = [_asset(client, project, f"a{n}") for n in range(5)]
        for asset_id in assets:
            assert client.put(f"/collections/{shelf}/assets/{asset_id}").status_code == 200
        # Putting it in again changes nothing.
        assert client.put(f"/collections/{shelf}/assets/{assets[0]}").status_code == 200
        client.put(f"/collections/{other}/assets/{assets[0]}")
        pages = _all_pages(client, f"/collections/{shelf}/assets", limit=2)
        of_the_asset = _all_pages(client, f"/assets/{assets[0]}/collections", limit=1)
        removed = client.delete(f"/collections/{shelf}/assets/{assets[0]}")
        again = client.delete(f"/collections/{shelf}/assets/{assets[0]}")
        after = _all_pages(client, f"/collections/{shelf}/assets", limit=10)
        events = client.get(
            "/events", params={"asset_id": assets[0], "type": "asset.changed"}
        ).json()["data"]
        bad_cursor = client.get(f"/collections/{shelf}/assets", params={"cursor": "nope"})
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [a for page in pages for a in page] == list(reversed(assets))  # newest first
    assert of_the_asset == [[other], [shelf]]
    assert removed.status_code == 204 and again.status_code == 404
    assert after == [list(reversed(assets[1:]))]
    changes = [event["payload"]["changed"]["collections"] for event in events]
    assert changes == [{"added": shelf}, {"added": other}, {"removed": shelf}]
    assert bad_cursor.status_code == 422


def test_an_asset_of_another_project_stays_out(api_server: ApiServer) -> None:
    with api_server.client() as client:
        shelf = _collection(client, _project(client), "shelf")
        stranger = _asset(client, _project(client), "elsewhere")
        refused = client.put(f"/collections/{shelf}/assets/{stranger}")
    assert refused.status_code == 422
    assert refused.json()["field"] == "asset_id"


def test_collections_are_read_with_assets_and_changed_with_assets_publish(
    api_server: ApiServer,
) -> None:
    with api_server.client() as client:
        project = _project(client)
        shelf = _collection(client, project, "shelf")
    with api_server.client("reader") as reader:
        read = reader.get(f"/collections/{shelf}")
        refused = reader.post("/collections", json={"project_id": project, "name": "mine"})
    assert read.status_code == 200 and read.json()["name"] == "shelf"
    assert refused.status_code == 403
