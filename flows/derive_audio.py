"""The audio step: fingerprint the track, cut fragments, draw the waveform, record them."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger
from sqlmodel import Session

from flows.fetch_store import store_derivatives
from flows.runtime import DeriveContext, step
from models import graph
from models.db import transact
from models.fingerprints import record_fingerprint, remove_track_fingerprints
from models.tables import AUDIO_FRAGMENT, WAVEFORM, Asset
from tasks.audio.derive import AudioDerivatives, AudioOptions, derive_audio
from tasks.video import MediaProbe

WAVEFORM_CONTENT_TYPE = "application/json"


@step("derive-audio")
def derive_audio_task(
    original: Path, *, out_dir: Path, probe: MediaProbe, options: AudioOptions
) -> AudioDerivatives | None:
    """Decode the original's audio once into fragments, fingerprints and waveform."""
    return derive_audio(original, out_dir=out_dir, probe=probe, options=options)


def audio_step(context: DeriveContext, options: AudioOptions, key: str) -> None:
    """Derive and record the audio fragments, fingerprints and waveform of an asset."""
    derived = None
    if context.media.audio is not None:
        derived = derive_audio_task.run(
            context.mode,
            context.original,
            out_dir=context.work_dir / "audio",
            probe=context.media,
            options=options,
        )
    if derived is None:
        get_run_logger().info("no audio stream: no fragments or fingerprints")
        return
    stored = store_derivatives(
        context,
        [(fragment.path, fragment.content_type) for fragment, _ in derived.fragments]
        + [(derived.waveform, WAVEFORM_CONTENT_TYPE)],
    )
    fragment_files, waveform_file = stored[:-1], stored[-1]

    def record(session: Session) -> None:
        asset = session.get_one(Asset, context.asset_id)
        fragments = graph.record_format(
            session=session,
            asset=asset,
            name=AUDIO_FRAGMENT,
            recipe_key=key,
            technical=options.model_dump(mode="json"),
            files=[
                graph.NewFile(
                    name=fragment.path.name,
                    stored=file,
                    duration_s=fragment.duration_s,
                    technical={"index": fragment.index, "offset_s": fragment.offset_s},
                )
                for (fragment, _), file in zip(derived.fragments, fragment_files, strict=True)
            ],
        )
        graph.record_format(
            session=session,
            asset=asset,
            name=WAVEFORM,
            recipe_key=key,
            files=[graph.NewFile(name="waveform.json", stored=waveform_file)],
        )
        remove_track_fingerprints(session=session, asset_id=asset.id)
        record_fingerprint(session=session, asset_id=asset.id, measured=derived.track, indexed=True)
        for (_, fingerprint), file in zip(derived.fragments, fragments.files, strict=True):
            record_fingerprint(
                session=session, asset_id=asset.id, measured=fingerprint, file_id=file.id
            )

    transact(context.engine, record, describe="recording the audio fragments and waveform")
