"""The image step: sizes, perceptual hashes, placeholder, near-duplicate links."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger
from sqlmodel import Session

from flows.fetch_store import store_derivatives
from flows.runtime import DeriveContext, step
from models import graph
from models.db import transact
from models.similarity import Similar, link_near_duplicates, record_image_hashes
from models.tables import ORIGINAL, SIZE_PREFIX, Asset, AssetKind, size_format
from tasks.images.process import ImageOptions, ImageResult, process_image
from tasks.images.sources import renders_as_picture


@step("derive-image")
def derive_image_task(original: Path, *, out_dir: Path, options: ImageOptions) -> ImageResult:
    """Decode the original once and write its sizes, hashes and placeholder."""
    return process_image(original, out_dir=out_dir, options=options)


def image_step(context: DeriveContext, options: ImageOptions, key: str) -> None:
    """Derive and record an image's sizes, hashes, placeholder and near duplicates."""
    if context.kind == AssetKind.DOCUMENT and not renders_as_picture(context.original):
        get_run_logger().info("the document has no page to render; no image derivatives")
        return
    result = derive_image_task.run(
        context.mode, context.original, out_dir=context.work_dir / "image", options=options
    )
    stored = store_derivatives(
        context, [(rendition.path, rendition.content_type) for rendition in result.renditions]
    )

    def record(session: Session) -> list[Similar]:
        asset = session.get_one(Asset, context.asset_id)
        graph.describe_format(
            session=session,
            asset_id=asset.id,
            name=ORIGINAL,
            technical=result.as_metadata(),
            width=result.probe.width,
            height=result.probe.height,
        )
        graph.remove_formats_named_like(session=session, asset=asset, prefix=SIZE_PREFIX)
        for rendition, file in zip(result.renditions, stored, strict=True):
            graph.record_format(
                session=session,
                asset=asset,
                name=size_format(rendition.edge),
                recipe_key=key,
                technical={"width": rendition.width, "height": rendition.height},
                files=[
                    graph.NewFile(
                        name=rendition.path.name,
                        stored=file,
                        width=rendition.width,
                        height=rendition.height,
                    )
                ],
            )
        record_image_hashes(
            session=session, asset_id=asset.id, phash=result.phash, dhash=result.dhash
        )
        graph.update_asset(session=session, asset=asset, placeholder=result.blurhash)
        return link_near_duplicates(session=session, asset_id=asset.id)

    duplicates = transact(context.engine, record, describe="recording the image sizes")
    if duplicates:
        get_run_logger().info(
            "likely near duplicate of %s",
            ", ".join(f"{d.asset_id} ({d.distance} bits)" for d in duplicates),
        )
