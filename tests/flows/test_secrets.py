"""A signed source, ingested for real: its secrets reach no row, no log and no Prefect run."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from sqlalchemy import select
from sqlmodel import Session, col

import flows.fetch_store
import flows.pipeline
from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from flows.jobs import internal_error
from models.db import make_engine
from models.tables import Asset, AssetStatus, IngestJob, JobStatus
from tests.fixtures.database import dump_rows
from tests.fixtures.http_server import LocalHTTPServer, Route, ServeFile, Status
from tests.fixtures.prefect_server import PrefectServer

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Signed:
    """A signed URL on the local server, its route, and the secrets it holds."""

    source: str
    route: str
    secrets: tuple[str, ...]


def signed(http_server: LocalHTTPServer, name: str, route: Route) -> Signed:
    """Serve ``route`` under a URL with a password and signature parameters of many spellings."""
    path = f"/{uuid.uuid4().hex}/{name}"
    url = http_server.route(path, route)
    secrets = tuple(f"s3cr3t{index}{uuid.uuid4().hex[:8]}" for index in range(6))
    source = (
        url.replace("http://", f"http://editor:{secrets[0]}@")
        + f"?hdnts=exp=1~hmac={secrets[1]}&X-Plex-Token={secrets[2]}&token[]={secrets[3]}"
        + f"&Session={secrets[4]}&token={secrets[5]};tail&w=640"
    )
    # Padded as pasted: a zero-width space and a newline must not let it skip redaction.
    return Signed(source=f"\u200b {source}\n", route=path, secrets=secrets)


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def rendered(records: list[logging.LogRecord]) -> str:
    """Every record as a handler would print it: message and traceback."""
    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) for record in records)


def flow_run(flow_run_id: uuid.UUID | None) -> FlowRun:
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def prefect_rows(prefect_api: PrefectServer, *, once: str) -> str:
    """Every row of Prefect's database, once the run's log line holding ``once`` is among them."""
    for handler in logging.getLogger("prefect.flow_runs").handlers:
        handler.flush()  # the API handler sends its queued logs and waits
    rows = prefect_api.database.dump().decode(errors="replace")
    assert once in rows
    return rows


def assert_kept_secret(signed: Signed, *texts: str) -> None:
    for text in texts:
        for secret in signed.secrets:
            assert secret not in text
        assert ";tail" not in text  # a ';' does not end a token's value


@SQLITE
def test_a_signed_source_that_succeeds(
    pipeline_settings: Settings,
    prefect_api: PrefectServer,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
    log: pytest.LogCaptureFixture,
) -> None:
    body = tmp_path / "note.txt"
    body.write_bytes(b"for signed eyes\n")
    source = signed(http_server, "note.txt", ServeFile(body))

    outcome = ingest(AssetRequest(source=source.source))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    # The fetch had every secret (read back from the job row) ...
    target = http_server.requests(source.route)[0].target
    assert all(secret in target for secret in source.secrets[1:])
    # ... and nothing else has any of them.
    asset = session.get_one(Asset, outcome.asset_id)
    assert asset.source is not None and "REDACTED" in asset.source and "w=640" in asset.source
    run = flow_run(session.get_one(IngestJob, outcome.job_id).flow_run_id)
    assert any("ingested " in record.getMessage() for record in log.records)
    rows = prefect_rows(prefect_api, once="ingested ")
    assert_kept_secret(source, dump_rows(session), rendered(log.records), str(run.parameters), rows)


@SQLITE
def test_a_signed_source_that_fails(
    pipeline_settings: Settings,
    prefect_api: PrefectServer,
    session: Session,
    http_server: LocalHTTPServer,
    log: pytest.LogCaptureFixture,
) -> None:
    source = signed(http_server, "gone.jpg", Status(404))

    outcome = ingest(AssetRequest(source=source.source))

    assert outcome.status == JobStatus.FAILED
    job = session.get_one(IngestJob, outcome.job_id)
    assert job.error is not None and "404" in job.error and "REDACTED" in job.error
    run = flow_run(job.flow_run_id)
    assert run.state is not None and run.state.message == job.error
    rows = prefect_rows(prefect_api, once="ingest of ")
    assert_kept_secret(source, dump_rows(session), rendered(log.records), run.state.message, rows)


@SQLITE
def test_an_internal_error_quoting_the_source_is_stored_and_logged_redacted(
    pipeline_settings: Settings,
    prefect_api: PrefectServer,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
    log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = tmp_path / "note.txt"
    body.write_bytes(b"for signed eyes\n")
    source = signed(http_server, "note.txt", ServeFile(body))

    def buggy_fetch(url: str, **_: Any) -> None:
        # What a library bug looks like: its message quotes the URL it was given.
        raise ValueError(f"cannot make sense of {url}")

    monkeypatch.setattr(flows.fetch_store, "fetch_source", buggy_fetch)

    with pytest.raises(Exception, match="cannot make sense of"):
        ingest(AssetRequest(source=source.source))

    job = session.execute(select(IngestJob)).scalar_one()
    asset = session.get_one(Asset, job.asset_id)
    assert job.status == JobStatus.FAILED and asset.status == AssetStatus.FAILED
    assert job.error is not None and job.error.startswith("internal error: ")
    assert asset.error == job.error and "REDACTED" in job.error
    assert any(record.exc_text for record in log.records), "the traceback was logged"
    run = flow_run(job.flow_run_id)
    assert run.state is not None and run.state.message is not None
    rows = prefect_rows(prefect_api, once="cannot make sense of")
    assert_kept_secret(source, dump_rows(session), rendered(log.records), run.state.message, rows)


@SQLITE
def test_the_job_forgets_the_signed_source_once_fetched(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = tmp_path / "note.txt"
    body.write_bytes(b"for signed eyes\n")
    source = signed(http_server, "note.txt", ServeFile(body))
    held_after_fetch: list[str | None] = []
    sniff = flows.pipeline.sniff_file

    def sniff_and_look(*args: Any, **kwargs: Any) -> Any:
        # The first step after the fetch: the job row must hold no secret by now.
        engine = make_engine(pipeline_settings.database_url)
        with Session(engine) as look:
            held_after_fetch.extend(look.execute(select(col(IngestJob.secret_source))).scalars())
        engine.dispose()
        return sniff(*args, **kwargs)

    monkeypatch.setattr(flows.pipeline, "sniff_file", sniff_and_look)

    outcome = ingest(AssetRequest(source=source.source))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    assert held_after_fetch == [None]


def test_an_internal_error_is_worded_redacted() -> None:
    error = internal_error(KeyError("https://u:hunter2@h/a?X-Amz-Signature=SIG"))

    assert error == "internal error: KeyError: 'https://h/a?X-Amz-Signature=REDACTED'"
