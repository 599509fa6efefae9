"""One real API server per database for a test module: uvicorn on a free port, httpx as client.

SQLite with the filesystem store, PostgreSQL with the SeaweedFS S3 server.
Ingests run in the server's own pool (no PREFECT_API_URL for the app: the
embedded default) against the session's Prefect test server; the media are
tiny generated images served by the local HTTP server.
"""

from __future__ import annotations

import contextvars
import ipaddress
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import func
from sqlmodel import col, select

from api.app import create_app
from api.keys import Scope, create_key, revoke_key
from core.requests import AssetRequest
from core.settings import Settings
from flows.jobs import create_ingest_job
from models.db import make_engine, new_session
from models.tables import IngestJob
from tests.fixtures.database import PG_ADMIN_USER, PG_HOST
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.images import scene
from tests.fixtures.pipeline import export_settings
from tests.fixtures.ports import free_port
from tests.fixtures.seaweed import S3Server

STARTUP_TIMEOUT_S = 60.0


@dataclass
class ApiServer:
    """A running API: its URL, its store, keys of each kind, and a job it took up at start."""

    url: str
    settings: Settings
    keys: dict[str, str]
    recovered_job: uuid.UUID
    http_server: LocalHTTPServer
    media_dir: Path

    def client(self, key: str | None = "all") -> httpx.Client:
        """A client sending the named key (None: no key)."""
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)

    def image_url(self, seed: int = 1) -> str:
        """Serve a new tiny PNG under a path of its own; return its URL."""
        path = self.media_dir / f"{uuid.uuid4().hex}.png"
        scene(48, 32, seed).save(path, format="PNG")
        return self.http_server.route(f"/media/{path.name}", ServeFile(path, "image/png"))


def _database(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp / "assetflow.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    port: int = request.getfixturevalue("postgres_port")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"assetflow_api_{uuid.uuid4().hex[:12]}"
    admin = dict(host=PG_HOST, port=port, user=PG_ADMIN_USER, dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as connection:  # type: ignore[arg-type]
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield f"postgresql+psycopg://{PG_ADMIN_USER}@{PG_HOST}:{port}/{name}"
    with psycopg.connect(**admin) as connection:  # type: ignore[arg-type]
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _storage(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Settings:
    if kind == "sqlite":
        return Settings(storage_url=f"file://{tmp / 'objects'}")
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket = f"api-{uuid.uuid4().hex[:16]}"
    s3.client().make_bucket(bucket)
    return s3.settings(bucket)


def _keys(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    with new_session(engine) as session:
        made = {
            "all": create_key(session=session, name="all", scopes=list(Scope)),
            "reader": create_key(session=session, name="reader", scopes=[Scope.ASSETS]),
            "revoked": create_key(session=session, name="gone", scopes=list(Scope)),
        }
        session.commit()
        revoke_key(session=session, key_id=made["revoked"].row.id)
        session.commit()
    engine.dispose()
    return {name: new.key for name, new in made.items()}


def serve_app(app: object) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Start uvicorn with ``app`` on a free port in a thread; return it, the thread, the port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    # In this thread's context: Prefect's test-harness settings live in context variables.
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(server.run,), daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)  # uvicorn offers no event to wait on
    return server, thread, port


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api_server(
    request: pytest.FixtureRequest,
    prefect_server: None,
    http_server: LocalHTTPServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    """Run the API on one database (each in turn) for the whole module."""
    yield from run_api_server(request, http_server, tmp_path_factory)


def run_api_server(
    request: pytest.FixtureRequest,
    http_server: LocalHTTPServer,
    tmp_path_factory: pytest.TempPathFactory,
    **overrides: object,
) -> Iterator[ApiServer]:
    """Serve the API on the database ``request.param`` names, with settings ``overrides``."""
    kind = str(request.param)
    tmp = tmp_path_factory.mktemp(f"api-{kind}")
    media_dir = tmp / "media"
    media_dir.mkdir()
    work = tmp / "work"
    work.mkdir()
    for database_url in _database(kind, tmp, request):
        settings = _storage(kind, tmp, request).model_copy(
            update={
                "database_url": database_url,
                "allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
                "temp_dir": work,
                "api_sync_timeout_s": 60.0,
                # Webhooks retried and looked for at once, not on the production schedule.
                "webhook_retry_schedule_s": [0.1, 0.1, 0.1],
                "webhook_poll_s": 0.05,
                **overrides,
            }
        )
        with pytest.MonkeyPatch.context() as monkeypatch:
            # The flows read their settings from the environment, as a worker's would.
            export_settings(monkeypatch, settings)
            keys = _keys(database_url)
            live = ApiServer("", settings, keys, uuid.uuid4(), http_server, media_dir)
            # A job a previous server left pending: this one takes it up at start.
            engine = make_engine(database_url)
            left = create_ingest_job(
                engine, AssetRequest(source=live.image_url(seed=99), project="left-over")
            )
            engine.dispose()
            server, thread, port = serve_app(create_app(settings))
            live.url, live.recovered_job = f"http://127.0.0.1:{port}", left.id
            try:
                yield live
            finally:
                _wait_until_idle(database_url)
                server.should_exit = True
                thread.join(timeout=30)


def _wait_until_idle(database_url: str) -> None:
    """Return once no job is under way: the Prefect server must outlive the runs."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            with new_session(engine) as session:
                busy = session.exec(
                    select(func.count())
                    .select_from(IngestJob)
                    .where(col(IngestJob.status).in_(["pending", "running"]))
                ).one()
            if not busy:
                return
            time.sleep(0.1)  # the pool's runs end on their own; nothing to await from here
    finally:
        engine.dispose()
