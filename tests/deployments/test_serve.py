"""The deployments' definitions: names, schedules, and the forms the Prefect UI renders."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from deployments.serve import deployment_specs, runner_deployments


def _by_name(settings: Settings) -> dict[str, Any]:
    return {deployment.name: deployment for deployment in runner_deployments(settings)}


def _form(name: str) -> dict[str, Any]:
    """The parameter schema the deployment sends the server (the UI's form)."""
    [spec] = [spec for spec in deployment_specs(Settings()) if spec.name == name]
    return spec.load().parameters.model_dump()


def test_ingest_asset_shows_a_form_of_the_request_fields() -> None:
    schema = _form("ingest-asset")

    assert schema["required"] == ["request"]
    request = schema["definitions"]["AssetRequest"]
    fields = request["properties"]
    assert request["required"] == ["source"]
    assert "s3://bucket/key" in fields["source"]["description"]
    assert fields["project"]["default"] == "default"
    assert fields["project"]["description"] == "The project the asset belongs to"
    assert fields["identifier"]["description"].startswith("Unique within the project")
    assert fields["external_id"]["description"] == "The asset's id in your own system"
    assert {"title", "description", "category", "tags"} <= set(fields)
    assert schema["properties"]["job_id"]["default"] is None


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
    assert set(deployments) == {"ingest-asset", "batch-ingest", "reprocess-asset", "reconcile-jobs"}
    assert deployments["reconcile-jobs"].schedules[0].schedule.interval.total_seconds() == 300


def test_reprocess_asset_shows_the_recipe_as_a_form() -> None:
    schema = _form("reprocess-asset")

    assert schema["required"] == ["asset_ids"]
    recipe = schema["definitions"]["RecipeOptions"]["properties"]
    assert recipe["image"]["default"] == ["image"]
    assert recipe["video"]["default"] == ["probe", "video", "audio"]
    assert {"image_options", "video_options", "audio_options"} <= set(recipe)
