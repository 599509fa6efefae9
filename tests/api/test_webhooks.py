"""Webhooks through the API: subscribe, hear signed events and a retry, delete; webhook_url."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.api.conftest import ApiServer, native_id
from tests.fixtures.http_server import LocalHTTPServer
from tests.fixtures.webhook_receiver import Received, WebhookReceiver

WAIT_S = 60.0


def _first_accepted(messages: list[Received]) -> list[Received]:
    """The messages answered 2xx, a repeat (same webhook-id: at least once) dropped."""
    seen: dict[str, Received] = {}
    for message in messages:
        if message.status < 300:
            seen.setdefault(message.message_id, message)
    return list(seen.values())


def _deliveries_settled(
    client: httpx.Client, webhook_id: str, event_ids: set[int]
) -> list[dict[str, Any]]:
    """Return the subscription's deliveries once those of ``event_ids`` are delivered."""
    deadline = time.monotonic() + WAIT_S
    while True:
        response = client.get(f"/webhooks/{webhook_id}/deliveries")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        delivered = {item["event_id"] for item in data if item["status"] == "delivered"}
        if event_ids <= delivered:
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.05)  # the sender records after the receiver answers: nothing to await here


def test_a_subscriber_receives_signed_events_and_a_500_is_retried(
    api_server: ApiServer, http_server: LocalHTTPServer
) -> None:
    receiver = WebhookReceiver(failures=1)
    url = http_server.route(f"/hooks/{uuid.uuid4().hex}", receiver)
    with api_server.client() as client:
        made = client.post(
            "/webhooks", json={"url": url, "events": ["asset.created", "asset.changed"]}
        )
        assert made.status_code == 201, made.text
        webhook = made.json()
        assert webhook["secret"].startswith("whsec_")
        assert made.headers["location"] == f"/webhooks/{webhook['id']}"
        receiver.secret = webhook["secret"]

        project = client.post("/projects", json={"name": f"hooks-{uuid.uuid4().hex[:8]}"}).json()
        asset = client.post(f"/projects/{project['id']}/assets", json={"title": "First"}).json()
        assert client.put(f"/assets/{asset['id']}", json={"title": "Second"}).status_code == 200

        # Other assets' ingests (the server is the module's) may be heard too: count this one's.
        def about_this_asset(r: WebhookReceiver) -> list[Received]:
            return [m for m in r.received if m.data["asset_id"] == asset["id"]]

        receiver.wait_for(lambda r: len(_first_accepted(about_this_asset(r))) == 2)
        first = about_this_asset(receiver)[0]
        created, changed = _first_accepted(about_this_asset(receiver))
        assert (first.type, first.status) == ("asset.created", 500)
        assert first.message_id == created.message_id  # the retry: the same webhook-id
        assert (created.type, changed.type) == ("asset.created", "asset.changed")
        assert changed.data["payload"]["changed"] == {"title": "Second"}

        ours = {int(created.message_id), int(changed.message_id)}
        settled = _deliveries_settled(client, webhook["id"], ours)
        newest_first = [item for item in settled if item["event_id"] in ours]
        assert [item["event_type"] for item in newest_first] == ["asset.changed", "asset.created"]
        codes = [a["status_code"] for a in newest_first[1]["attempts"]]
        assert (codes[0], codes[-1]) == (500, 204)

        listed = client.get("/webhooks").json()["data"]
        [shown] = [item for item in listed if item["id"] == webhook["id"]]
        assert "secret" not in shown
        assert client.delete(f"/webhooks/{webhook['id']}").status_code == 204
        assert webhook["id"] not in [item["id"] for item in client.get("/webhooks").json()["data"]]
        gone = client.delete(f"/webhooks/{webhook['id']}")
        assert (gone.status_code, gone.json()) == (404, {"error": "webhook not found"})


def test_a_task_webhook_url_hears_that_task_end(
    api_server: ApiServer, http_server: LocalHTTPServer
) -> None:
    receiver = WebhookReceiver()
    url = http_server.route(f"/hooks/{uuid.uuid4().hex}", receiver)
    with api_server.client() as client:
        made = client.post("/tasks", json={"url": api_server.image_url(seed=7), "webhook_url": url})
        assert made.status_code == 201, made.text
        task = made.json()["data"]
        # The webhook is the native API's object: it names the task by its UUID.
        assert task["webhook"]["task_id"] == native_id(task["id"])
        receiver.secret = task["webhook"]["secret"]
        assert client.get(f"/tasks/{task['id']}").json()["data"]["webhook"] is None  # shown once

        receiver.wait_for(lambda r: len(r.accepted) >= 1)
        [message] = _first_accepted(receiver.accepted)
        assert message.type == "task.completed"
        assert message.data["task_id"] == native_id(task["id"])


def test_webhook_errors(api_server: ApiServer, blocked_http_server: LocalHTTPServer) -> None:
    with api_server.client() as client:
        cases = [
            ({"url": "ftp://example.com/hook"}, "url: must be an http(s) URL", "url"),
            ({"url": "http://127.0.0.1/h", "events": ["asset.gone"]}, None, "events"),
            ({"url": "http://127.0.0.1/h", "events": []}, None, "events"),
            ({"events": ["asset.ready"]}, "Missing parameter url", "url"),
        ]
        for body, sentence, field in cases:
            response = client.post("/webhooks", json=body)
            assert response.status_code == 422, body
            assert response.json()["field"] == field
            if sentence:
                assert response.json()["error"] == sentence
        refused = client.post("/webhooks", json={"url": blocked_http_server.url("/hook")})
        assert refused.status_code == 422
        assert "loopback address 127.0.0.2" in refused.json()["error"]
        missing = client.get(f"/webhooks/{uuid.uuid4()}/deliveries")
        assert (missing.status_code, missing.json()) == (404, {"error": "webhook not found"})
    for key in (None, "revoked"):
        with api_server.client(key) as client:
            assert client.post("/webhooks", json={"url": "http://127.0.0.1/h"}).status_code == 401
            assert client.get("/webhooks").status_code == 401
