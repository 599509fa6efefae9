"""The FastAPI app: its routes, its error shape, and the parts it starts and stops.

    create_app(settings, runner=...)   for tests and embedding
    app_from_environment()             what ``assetflow api`` serves (uvicorn factory)

With PREFECT_API_URL set, ingests go to the deployment's workers and
webhooks are sent by the deliver-webhooks deployment; without it, this
process runs ingests in a bounded pool (api/runner.py) and sends webhooks on
a thread (api/webhooks/sender.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

from api.context import AppContext
from api.errors import ErrorBody, install_error_handlers
from api.routes import (
    assets,
    byhand,
    collections,
    content,
    events,
    files,
    health,
    products,
    projects,
    search,
    tasks,
    tus,
    uploads,
    v2,
    webhooks,
)
from api.runner import EmbeddedRunner, IngestRunner, PrefectRunner
from api.tus import ALLOWED_HEADERS, EXPOSED_HEADERS, TusMiddleware
from api.web import pages
from api.webhooks.sender import WebhookSender
from core.settings import Settings
from flows.batch import record_drop_folder
from models.db import make_engine

RunnerFactory = Callable[[Engine, Settings], IngestRunner]


def embedded_runner(engine: Engine, settings: Settings) -> IngestRunner:
    """Run ingests in this process."""
    return EmbeddedRunner(engine, settings, workers=settings.api_ingest_workers)


def prefect_runner(engine: Engine, _settings: Settings) -> IngestRunner:
    """Send ingests to the Prefect deployment's workers."""
    return PrefectRunner(engine)


def create_app(
    settings: Settings, *, runner: RunnerFactory = embedded_runner, send_webhooks: bool = True
) -> FastAPI:
    """Build the API over the asset store of ``settings``.

    ``runner`` makes who runs ingests; ``send_webhooks`` runs a webhook sender in this process.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        if settings.batch_manifest:  # listed as a drop folder from the start, if it is one
            await anyio.to_thread.run_sync(record_drop_folder, engine, settings.batch_manifest)
        ingest_runner = runner(engine, settings)
        app.state.context = AppContext(settings=settings, engine=engine, runner=ingest_runner)
        await anyio.to_thread.run_sync(ingest_runner.recover)
        sender = WebhookSender(engine, settings) if send_webhooks else None
        if sender is not None:
            sender.start()
        try:
            yield
        finally:
            if sender is not None:
                sender.close()
            ingest_runner.close()
            engine.dispose()

    app = FastAPI(
        title="assetflow",
        summary="Self-hosted media ingestion: create assets from URLs, read their graphs.",
        version="1",
        lifespan=lifespan,
        responses={
            400: {"model": ErrorBody, "description": "The body does not parse as its type says"},
            401: {"model": ErrorBody, "description": "No key, or an unknown or revoked one"},
            403: {"model": ErrorBody, "description": "The key lacks the scope named"},
            422: {"model": ErrorBody, "description": "A field is missing or wrong"},
            500: {"model": ErrorBody, "description": "An internal error, with an id to look up"},
        },
    )
    install_error_handlers(app)
    routers = (health, files, content, tasks, projects, uploads, assets, byhand, collections)
    for module in (*routers, events, webhooks, search, tus):
        app.include_router(module.router)
    # The compatibility families: other services' contracts, each its own shape.
    for module in (v2, products):
        app.include_router(module.router)
    pages.install(app)
    app.add_middleware(TusMiddleware)
    if settings.api_cors_origins:
        # Outermost: a browser's preflight is answered before anything else sees it.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            max_age=3600,
        )
    return app


def app_from_environment() -> FastAPI:
    """Build the app from ASSETFLOW_* settings; ingests go to Prefect if PREFECT_API_URL is set."""
    from prefect.settings import PREFECT_API_URL

    on_prefect = bool(PREFECT_API_URL.value())
    return create_app(
        Settings(),
        runner=prefect_runner if on_prefect else embedded_runner,
        send_webhooks=not on_prefect,
    )
