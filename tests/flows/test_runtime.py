"""A step is tried as often as its one retry policy says, as a task run or inline."""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path

import pytest
from prefect import flow

from core.errors import SourceNotFound, SourceUnavailable
from core.settings import Settings
from flows.fetch_store import fetch_step
from flows.runtime import StepMode
from tasks.retrying import RetryPolicy
from tests.fixtures.http_server import FailThenServe, LocalHTTPServer, ServeFile, Status

MODES = [StepMode.TASKS, StepMode.INLINE]


def _settings() -> Settings:
    return Settings(allowed_networks=[ipaddress.ip_network("127.0.0.1/32")])


def _fetch_in_a_flow(mode: StepMode, url: str, dest: Path, policy: RetryPolicy) -> str:
    """Run the fetch step with ``policy`` in a flow, in ``mode``."""
    fetch = fetch_step.with_retry(policy)

    @flow
    def fetch_once() -> str:
        return fetch.run(mode, url, dest_dir=dest, settings=_settings()).file.sha256

    return fetch_once()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "error", "tries", "waits"),
    [
        # Three tries in all: not the step's tries times fetch_source's own.
        (503, SourceUnavailable, 3, [2.0, 4.0]),
        (404, SourceNotFound, 1, []),
    ],
)
def test_a_failing_fetch_is_tried_as_often_as_its_policy_says(
    prefect_server: None,
    http_server: LocalHTTPServer,
    tmp_path: Path,
    mode: StepMode,
    status: int,
    error: type[Exception],
    tries: int,
    waits: list[float],
) -> None:
    path = f"/{uuid.uuid4().hex}/photo.jpg"
    url = http_server.route(path, Status(status))
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, base_delay_s=2.0, sleep=slept.append, draw=lambda: 1.0)

    with pytest.raises(error, match=str(status)):
        _fetch_in_a_flow(mode, url, tmp_path, policy)

    assert len(http_server.requests(path)) == tries
    assert slept == waits


@pytest.mark.parametrize("mode", MODES)
def test_a_retry_waits_as_long_as_the_remote_asks(
    prefect_server: None, http_server: LocalHTTPServer, tmp_path: Path, mode: StepMode
) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"\xff\xd8\xff" + bytes(500))
    busy = Status(429, headers={"Retry-After": "7"})
    path = f"/{uuid.uuid4().hex}/photo.jpg"
    url = http_server.route(path, FailThenServe(1, ServeFile(source), failure=busy))
    slept: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay_s=2.0, sleep=slept.append, draw=lambda: 1.0)

    _fetch_in_a_flow(mode, url, tmp_path / "out", policy)

    assert len(http_server.requests(path)) == 2
    assert slept == [7.0]
