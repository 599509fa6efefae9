"""The error shape of the app itself: an unexpected failure is a 500 with an id, never a trace."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings


def test_an_unexpected_error_is_a_500_with_an_id_found_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Settings(database_url="sqlite://"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail at /srv/internal/path.py")

    with caplog.at_level(logging.ERROR, logger="assetflow.api"):
        answer = TestClient(app, raise_server_exceptions=False).get("/boom")

    body = answer.json()
    assert answer.status_code == 500
    assert set(body) == {"error", "error_id"}
    assert (
        body["error"]
        == f"internal error: quote id {body['error_id']} to find it in the server's log"
    )
    assert "secret detail" not in answer.text and "Traceback" not in answer.text
    logged = [r for r in caplog.records if body["error_id"] in r.getMessage()]
    # The traceback is in the log (rendered there, redacted, by the logger's filter).
    assert logged and "RuntimeError: secret detail" in (logged[0].exc_text or "")


def test_unknown_paths_and_methods_answer_in_the_error_shape() -> None:
    client = TestClient(create_app(Settings(database_url="sqlite://")))
    assert client.get("/nowhere").json() == {"error": "not found"}
    answer = client.patch("/files")
    assert (answer.status_code, answer.json()) == (405, {"error": "method not allowed"})
