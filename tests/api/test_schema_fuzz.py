"""Schemathesis against the served /openapi.json on each database: no 5xx, no answer off schema.

Every operation gets a bounded number of generated requests with a valid key.
Source URLs in generated bodies are pointed at a missing file on the local HTTP
server first: the tests never reach the internet, and the real ingests they
start end quickly (a 404), so few run at once beside the generator.
"""

from __future__ import annotations

import ast
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.settings import Settings
from tests.api.conftest import ApiServer

# Examples per operation and database: enough to reach every field's edge cases
# once or twice, small enough to keep the run to seconds.
EXAMPLES = 10


@pytest.fixture(autouse=True, scope="module")
def _one_ast_parse_at_a_time() -> Iterator[None]:
    """Serialise ast.parse while the fuzzing runs beside the server's ingest threads.

    On CPython 3.11 two threads in ast.parse at once can fail with "AST
    constructor recursion depth mismatch": Hypothesis parses its strategies'
    source here while Prefect parses flow sources in the ingest threads.
    """
    parse = ast.parse
    lock = threading.Lock()

    def serial_parse(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(ast, "parse", serial_parse)
        yield


# The schema is built from the app itself when the module loads (schemathesis's
# fixture-based loader does not run on pytest 9); the first test checks that the
# served /openapi.json is this same document.
OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_served_schema_is_the_one_fuzzed(api_server: ApiServer) -> None:
    with api_server.client(key=None) as client:
        assert client.get("/openapi.json").json() == OPENAPI


def _local_sources(value: Any, api_server: ApiServer) -> Any:
    """Replace every source URL in a generated body by a missing file on the local server."""
    if isinstance(value, dict):
        return {
            name: api_server.http_server.url(f"/missing/{uuid.uuid4().hex}.png")
            if name in ("url", "file_url", "source_url") and isinstance(item, str)
            else _local_sources(item, api_server)
            for name, item in value.items()
        }
    return value


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_off_its_schema(case: Case, api_server: ApiServer) -> None:
    case.body = _local_sources(case.body, api_server)
    case.call_and_validate(
        base_url=api_server.url,
        headers={"Authorization": f"Bearer {api_server.keys['all']}", "Prefer": "wait=0"},
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
    )


def test_a_value_the_database_refuses_is_422_not_500(api_server: ApiServer) -> None:
    # What the fuzzing first found: PostgreSQL refuses a NUL character in text.
    with api_server.client() as client:
        answer = client.get("/assets", params={"project": "a\x00b"})

    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["error"].startswith("a value in the request cannot be used")
