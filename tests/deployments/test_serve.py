"""The deployments' definitions: names, schedules, and the forms the Prefect UI renders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from core.settings import Settings
from deployments.serve import deployment_specs, runner_deployments
from tests.fixtures.database import _admin


def _by_name(settings: Settings) -> dict[str, Any]:
    return {deployment.name: deployment for deployment in runner_deployments(settings)}


def _form(name: str) -> dict[str, Any]:
    """The parameter schema the deployment sends the server (the UI's form)."""
    [spec] = [spec for spec in deployment_specs(Settings()) if spec.name == name]
    return spec.load().parameters.model_dump()


def _in_order(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """An object's fields as the UI lists them: by position (JSONB keeps no key order)."""
    return sorted(schema["properties"].items(), key=lambda item: item[1]["position"])


def _fields(form: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field of a form, its nested objects' and models' fields included."""
    pending = [("", form)]
    while pending:
        path, schema = pending.pop()
        if "$ref" in schema:
            schema = form["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
        for name, field in schema.get("properties", {}).items():
            yield f"{path}{name}", field
            pending.append((f"{path}{name}.", field))
        pending += [(path, choice) for choice in schema.get("anyOf", []) if "$ref" in choice]


def _made_from_name(title: str, name: str) -> bool:
    """Whether ``title`` is pydantic's, made from a field's name: "Fmt", "Fragment S"."""
    return title == name.replace("_", " ").title() and ("_" in name or len(name) <= 3)


@pytest.mark.parametrize("name", ["ingest-asset", "batch-ingest", "reprocess-asset"])
def test_every_field_of_a_form_has_a_title_for_people_help_and_a_place(name: str) -> None:
    for path, field in _fields(_form(name)):
        title, leaf = field.get("title", ""), path.rsplit(".", 1)[-1]
        assert title[:1].isupper() and "_" not in title, (path, title)
        assert not _made_from_name(title, leaf), (path, title)
        assert field.get("description"), path
        assert isinstance(field.get("position"), int), path
    titles = {path: field["title"] for path, field in _fields(_form("ingest-asset"))}
    assert titles["recipe.image_options.fmt"] == "Format"
    assert titles["recipe.audio_options.fragment_s"] == "Fragment length (s)"


def test_the_ingest_form_asks_for_the_source_first_in_plain_text_boxes() -> None:
    form = _form("ingest-asset")

    assert [name for name, _ in _in_order(form)] == ["request", "recipe", "job_id"]
    assert form["required"] == ["request"]
    request = form["definitions"]["AssetRequest"]
    order = [name for name, _ in _in_order(request)]
    assert order == [
        "source", "project", "identifier", "title", "description", "category", "tags",
        "external_id", "folder", "filename",
    ]  # fmt: skip
    assert request["required"] == ["source"]
    for name, field in _in_order(request):
        if name != "tags":  # a text box, not a choice between "string" and "null"
            assert (field["type"], "anyOf" in field) == ("string", False), name
    assert "s3://bucket/key" in request["properties"]["source"]["description"]
    job_id = form["properties"]["job_id"]
    assert (job_id["title"], job_id["default"]) == ("Job id", "")
    assert job_id["description"].startswith("Leave empty.")


def test_the_batch_form_says_local_manifests_need_local_roots() -> None:
    form = _form("batch-ingest")

    assert next(name for name, _ in _in_order(form)) == "manifest"
    assert "ASSETFLOW_LOCAL_ROOTS" in form["properties"]["manifest"]["description"]


def test_the_order_survives_a_prefect_server_on_postgresql(postgres_port: int) -> None:
    request = _form("ingest-asset")["definitions"]["AssetRequest"]
    # A Prefect server on PostgreSQL keeps the schema in a JSONB column.
    with _admin(postgres_port) as admin:
        row = admin.execute("SELECT %s::jsonb", [Jsonb(request)]).fetchone()
    assert row is not None
    stored = row[0]

    assert next(iter(stored["properties"])) != "source"  # JSONB sorted the keys
    assert next(name for name, _ in _in_order(stored)) == "source"


def test_batch_ingest_is_scheduled_on_the_configured_manifest() -> None:
    settings = Settings(batch_manifest="s3://drop/incoming/", batch_schedule_cron="*/15 * * * *")

    batch = _by_name(settings)["batch-ingest"]

    [schedule] = batch.schedules
    assert schedule.schedule.cron == "*/15 * * * *"
    assert schedule.parameters == {"manifest": "s3://drop/incoming/"}
    form = _form("batch-ingest")
    assert form["required"] == ["manifest"]
    assert form["properties"]["project"]["default"] == "default"


def test_without_a_manifest_the_batch_runs_only_when_asked() -> None:
    deployments = _by_name(Settings(batch_manifest=None))

    assert deployments["batch-ingest"].schedules == []
    assert set(deployments) == {
        "ingest-asset",
        "batch-ingest",
        "reprocess-asset",
        "reconcile-jobs",
        "collect-garbage",
        "deliver-webhooks",
    }
    assert deployments["reconcile-jobs"].schedules[0].schedule.interval.total_seconds() == 300
    assert deployments["collect-garbage"].schedules[0].schedule.interval.total_seconds() == 86400
    assert deployments["deliver-webhooks"].schedules[0].schedule.interval.total_seconds() == 60


def test_reprocess_asset_shows_the_recipe_as_a_form() -> None:
    schema = _form("reprocess-asset")

    assert schema["required"] == ["asset_ids"]
    recipe = schema["definitions"]["RecipeOptions"]["properties"]
    assert recipe["image"]["default"] == ["image"]
    assert recipe["video"]["default"] == ["probe", "video", "audio"]
    assert {"image_options", "video_options", "audio_options"} <= set(recipe)
