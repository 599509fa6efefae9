"""The probe and video steps: technical metadata, proxy, poster and keyframe map."""

from __future__ import annotations

from pathlib import Path

from prefect import get_client, get_run_logger
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists
from sqlmodel import Session

from core.settings import Settings
from flows.fetch_store import store_derivatives
from flows.runtime import DeriveContext, step
from models import graph
from models.db import transact
from models.tables import KEYFRAMES, ORIGINAL, POSTER, PROXY, Asset
from storage.stored import StoredObject
from tasks.video import (
    MediaProbe,
    VideoDerivatives,
    VideoOptions,
    derive_video,
    probe_media,
    render_vtt,
)
from tasks.video.renditions import Rendition

# The Prefect global concurrency limit transcodes hold a slot of, so a 2-core
# worker runs one at a time however many ingests it takes. `assetflow serve`,
# `assetflow deploy` and the in-process ingests create it (Settings.transcode_slots).
TRANSCODE_LIMIT = "assetflow-transcode"
VTT_CONTENT_TYPE = "text/vtt"
# Progress is logged at most this often (a fraction of the whole).
PROGRESS_STEP = 0.1


# Seconds a transcode slot's lease lasts unless its holder renews it (Prefect renews
# it while the transcode runs): a worker killed mid-transcode holds its slot this
# long. Prefect's default is 300 s; 60 s is the least its server accepts.
TRANSCODE_SLOT_LEASE_S = 60.0


def ensure_transcode_limit(settings: Settings) -> None:
    """Create (or resize) the transcode limit on the Prefect server this process talks to."""
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(
                TRANSCODE_LIMIT, settings.transcode_slots
            )
        except ObjectAlreadyExists:
            # Prefect's upsert reads, then creates: another ingest starting at the same
            # moment created it in between. Now it is there to be read (and resized).
            client.upsert_global_concurrency_limit_by_name(
                TRANSCODE_LIMIT, settings.transcode_slots
            )


@step("probe-media")
def probe_task(original: Path) -> MediaProbe:
    """Read the container and stream metadata of the original with ffprobe."""
    return probe_media(original)


def record_probe(context: DeriveContext, _options: None, _key: str) -> None:
    """Record the original's container and stream metadata on its ORIGINAL format."""
    probe = context.media
    width, height = (probe.video.display_size if probe.video else None) or (None, None)

    def record(session: Session) -> None:
        graph.describe_format(
            session=session,
            asset_id=context.asset_id,
            name=ORIGINAL,
            technical=probe.as_metadata(),
            width=width,
            height=height,
            duration_s=probe.duration_s,
        )

    transact(context.engine, record, describe="recording the probe")


@step("derive-video")
def derive_video_task(
    original: Path,
    *,
    out_dir: Path,
    probe: MediaProbe,
    options: VideoOptions,
    make_proxy: bool = True,
) -> VideoDerivatives:
    """Decode the original once into proxy (unless not asked), poster candidates, sprite sheets."""
    logger = get_run_logger()
    reported = [0.0]

    def log_progress(fraction: float) -> None:
        if fraction >= reported[0] + PROGRESS_STEP or fraction >= 1.0 > reported[0]:
            reported[0] = fraction
            logger.info("transcode %3.0f%%", fraction * 100)

    with concurrency(TRANSCODE_LIMIT, occupy=1, lease_duration=TRANSCODE_SLOT_LEASE_S):
        return derive_video(
            original,
            out_dir=out_dir,
            probe=probe,
            options=options,
            on_progress=log_progress,
            make_proxy=make_proxy,
        )


def video_step(context: DeriveContext, options: VideoOptions, key: str) -> None:
    """Derive and record a video's proxy, poster and keyframe map."""
    _derive_and_record(context, options, key, make_proxy=True)


def keyframes_step(context: DeriveContext, options: VideoOptions, key: str) -> None:
    """Derive and record the poster and keyframe map of a video that is a proxy already.

    The pipeline's video step without its proxy: the same decode, the same records.
    """
    _derive_and_record(context, options, key, make_proxy=False)


def _derive_and_record(
    context: DeriveContext, options: VideoOptions, key: str, *, make_proxy: bool
) -> None:
    derived = derive_video_task.run(
        context.mode,
        context.original,
        out_dir=context.work_dir / "video",
        probe=context.media,
        options=options,
        make_proxy=make_proxy,
    )
    keyframes = derived.keyframes
    made = [(PROXY, derived.proxy)] if derived.proxy else []
    made.append((POSTER, derived.poster))
    stored_made = store_derivatives(
        context,
        [
            (rendition.path, rendition.content_type)
            for rendition in (*(r for _, r in made), *keyframes.sheets)
        ],
    )
    renditions, sheets = stored_made[: len(made)], stored_made[len(made) :]
    # The VTT names the sheets by their content keys, the way a player fetches them.
    vtt_path = keyframes.vtt.with_name("keyframes.stored.vtt")
    vtt_path.write_text(render_vtt(keyframes.plan, [sheet.key for sheet in sheets]))
    (vtt,) = store_derivatives(context, [(vtt_path, VTT_CONTENT_TYPE)])

    def record(session: Session) -> None:
        asset = session.get_one(Asset, context.asset_id)
        for (name, rendition), stored in zip(made, renditions, strict=True):
            graph.record_format(
                session=session,
                asset=asset,
                name=name,
                recipe_key=key,
                technical=_dimensions(rendition),
                files=[_new_file(rendition, stored)],
            )
        plan = keyframes.plan
        graph.record_format(
            session=session,
            asset=asset,
            name=KEYFRAMES,
            recipe_key=key,
            technical={
                "interval_s": plan.interval_s,
                "frame_count": plan.frame_count,
                "frame_width": plan.frame_width,
                "frame_height": plan.frame_height,
                "columns": plan.columns,
                "rows": plan.rows,
            },
            files=[
                *(_new_file(r, s) for r, s in zip(keyframes.sheets, sheets, strict=True)),
                graph.NewFile(name="keyframes.vtt", stored=vtt),
            ],
        )

    transact(context.engine, record, describe="recording the derivatives")


def _dimensions(rendition: Rendition) -> dict[str, object]:
    return {
        "width": rendition.width,
        "height": rendition.height,
        "duration_s": rendition.duration_s,
        "content_type": rendition.content_type,
    }


def _new_file(rendition: Rendition, stored: StoredObject) -> graph.NewFile:
    return graph.NewFile(
        name=rendition.path.name,
        stored=stored,
        width=rendition.width,
        height=rendition.height,
        duration_s=rendition.duration_s,
    )
