"""The Prefect UI's ``ingest-asset`` custom-run form, filled by a person in chromium.

The form lists the asset's fields source first, each with its title; a
source typed into it and submitted becomes a flow run that ``assetflow
serve`` runs to Completed, and the asset is in the store.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import select

from core.settings import Settings
from deployments.serve import INGEST_DEPLOYMENT
from models.db import make_engine, new_session
from models.tables import Asset, AssetStatus
from tests.deployments.conftest import Service
from tests.fixtures.browser import chromium, screenshot
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.images import scene
from tests.fixtures.prefect_server import PrefectServer

# A flow run's process takes 5-30 s to start on this 2-core machine, depending on load.
RUN_TIMEOUT_MS = 180_000
FIELDS_IN_ORDER = ["Source", "Project (Optional)", "Identifier (Optional)", "Title (Optional)"]


def field(page: Page, title: str) -> Locator:
    """The text box of the form's field titled ``title`` (Prefect's labels name no input)."""
    title_text = page.locator(".schema-form-property__label", has_text=re.compile(f"^{title}$"))
    # The innermost property holding that title: the field itself, not the group around it.
    return (
        page.locator(".schema-form-property")
        .filter(has=title_text)
        .last.locator("textarea, input")
        .first
    )


def _run_of(server: PrefectServer, deployment_id: str, source: str) -> str:
    """Return the id of the deployment's flow run whose parameters name ``source``."""
    runs = httpx.post(
        f"{server.api_url}/flow_runs/filter",
        json={"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_DESC"},
    ).json()
    (run,) = [run for run in runs if source in json.dumps(run["parameters"])]
    return str(run["id"])


# Its fixtures start `assetflow serve` and a Prefect server with the UI: 100-200 s here under
# load when the session's servers are not up yet, close to the suite's 300 s per test.
@pytest.mark.timeout(600)
def test_a_person_fills_the_ingest_form_source_first_and_sees_the_run_complete(
    service: Service,
    prefect_ui: PrefectServer,
    service_settings: Settings,
    http_server: LocalHTTPServer,
    tmp_path: Path,
) -> None:
    picture = tmp_path / "form.png"
    scene(320, 240, seed=13).save(picture)
    source = http_server.route(f"/form/{uuid.uuid4().hex}.png", ServeFile(picture, "image/png"))
    deployment = httpx.get(f"{prefect_ui.api_url}/deployments/name/{INGEST_DEPLOYMENT}").json()
    ui = prefect_ui.api_url.removesuffix("/api")

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{ui}/deployments/deployment/{deployment['id']}/run")
        asset_fields = page.locator("label").filter(has_text="Asset to ingest")
        expect(asset_fields.first).to_be_visible()
        labels = page.locator("label").all_inner_texts()
        first = labels.index("Asset to ingest")
        assert labels[first + 1 : first + 5] == FIELDS_IN_ORDER
        field(page, "Source").fill(source)
        screenshot(page, "prefect-ingest-form")
        page.get_by_role("button", name="Submit").click()

        # The UI goes back to the deployment's runs, where earlier tests' runs are listed
        # too: follow this run on its own page, as a person clicking it would.
        page.wait_for_url("**/deployments/deployment/**tab=Runs**")
        run_id = _run_of(prefect_ui, deployment["id"], source)
        page.goto(f"{ui}/runs/flow-run/{run_id}")
        expect(page.get_by_text("Completed").first).to_be_visible(timeout=RUN_TIMEOUT_MS)
        screenshot(page, "prefect-ingest-run")

    engine = make_engine(service_settings.database_url)
    try:
        with new_session(engine) as session:
            asset = session.exec(select(Asset).where(Asset.source == source)).one()
    finally:
        engine.dispose()
    assert asset.status == AssetStatus.READY
