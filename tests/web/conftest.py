"""The web library in a real browser: Debian's chromium driven by Playwright, against a real API.

One API server per module (uvicorn on a free port, SQLite and the filesystem
store, ingests on the session's Prefect server) holding the demo media
(``deployments.demo``: a photo, a 4 s clip with sound, 20 s of tones), and
one headless chromium. Screenshots go to ``tests/artifacts/screenshots/``,
which CI keeps.
"""

from __future__ import annotations

import ipaddress
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from api.app import create_app
from api.keys import Scope, create_key
from core.settings import Settings
from deployments.demo import ingest_demo_media
from models.db import make_engine, new_session
from tests.api.conftest import serve_app
from tests.fixtures.browser import chromium
from tests.fixtures.pipeline import export_settings

# What a test waits for in the page at most: an ingest of a photo included.
WAIT_MS = 60_000


@dataclass(frozen=True)
class Library:
    """A running API with the demo media: URL, a key, the demo assets by file name, the files."""

    url: str
    key: str
    assets: dict[str, uuid.UUID]
    settings: Settings
    media_dir: Path


@pytest.fixture(scope="module")
def library(
    prefect_server: None, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Library]:
    """Serve the API over a store holding the demo media."""
    tmp = tmp_path_factory.mktemp("web")
    shutil.copyfile(sqlite_template, tmp / "assetflow.db")
    (tmp / "work").mkdir()
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'assetflow.db'}",
        storage_url=f"file://{tmp / 'objects'}",
        allowed_networks=[ipaddress.ip_network("127.0.0.1/32")],
        temp_dir=tmp / "work",
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        export_settings(monkeypatch, settings)
        engine = make_engine(settings.database_url)
        with new_session(engine) as session:
            key = create_key(session=session, name="web", scopes=list(Scope)).key
            session.commit()
        engine.dispose()
        ingested = ingest_demo_media(tmp / "demo")
        assert [outcome.status for _, outcome in ingested] == ["completed"] * 3, ingested
        assets = {name: outcome.asset_id for name, outcome in ingested if outcome.asset_id}
        server, thread, port = serve_app(create_app(settings))
        try:
            yield Library(f"http://127.0.0.1:{port}", key, assets, settings, tmp / "demo")
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser(library: Library) -> Iterator[Browser]:
    """One headless chromium for the module, opened after the library's ingests."""
    with chromium() as opened:
        yield opened


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser session (no cookie, empty sessionStorage) at a desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page's scripts failed: {errors}"


def sign_in(page: Page, library: Library, key: str | None = None) -> None:
    """Sign in through the form as a person would."""
    page.goto(f"{library.url}/signin")
    page.get_by_label("API key").fill(key or library.key)
    page.get_by_role("button", name="Sign in").click()
