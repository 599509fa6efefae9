"""A corpus of bad input through the in-process pipeline: each ends in a sentence or a sane asset.

Over 150 files made by tests/fixtures/bad_inputs.py (truncated and bit-flipped
media of every kind, decompression bombs of each image format Pillow reads,
playlists and concat lists under media names, empty files, HTML as video,
files declaring hours they do not hold) are ingested one after another on the
filesystem store and SQLite, their steps inline as in a batch. A failure
names every item that went wrong and why.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow
from sqlmodel import Session, col, select

from core.kinds import AssetKind
from core.requests import AssetRequest
from core.settings import Settings
from flows.jobs import JobOutcome, create_ingest_job, internal_error
from flows.pipeline import ingest_one
from flows.recipes import RecipeOptions
from flows.runtime import StepMode
from models.db import make_engine, new_session
from models.tables import Asset, AssetStatus, File, Format
from tasks.media_command import decode_time_limit
from tests.fixtures.bad_inputs import BadInput, build_bad_inputs
from tests.fixtures.formats import AUDIO_FORMATS, VIDEO_FORMATS

# What a ready asset of each kind must hold besides ORIGINAL.
_DERIVED = {AssetKind.VIDEO: VIDEO_FORMATS, AssetKind.AUDIO: AUDIO_FORMATS}
# A sentence, not a dump: one line, short enough to read in a table.
_LONGEST_SENTENCE = 400


@flow(name="bad-input-corpus")
def ingest_each(sources: list[str]) -> list[tuple[JobOutcome | str, float]]:
    """Ingest each source as a batch item does; an unexpected exception is the item's result."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    results: list[tuple[JobOutcome | str, float]] = []
    for source in sources:
        job = create_ingest_job(engine, AssetRequest(source=source))
        started = time.monotonic()
        try:
            outcome: JobOutcome | str = ingest_one(
                job.id, settings=settings, engine=engine, mode=StepMode.INLINE,
                recipe=RecipeOptions(),
            )  # fmt: skip
        except Exception as exc:
            outcome = internal_error(exc)
        results.append((outcome, time.monotonic() - started))
    engine.dispose()
    return results


def _verdict(session: Session, item: BadInput, outcome: JobOutcome | str) -> str | None:
    """Say what is wrong with how an item ended, or None when it ended well."""
    if isinstance(outcome, str):
        return outcome
    asset = session.get_one(Asset, outcome.asset_id)
    formats = set(session.exec(select(Format.name).where(Format.asset_id == asset.id)).all())
    if outcome.failed:
        error = str(outcome.error)
        if error.startswith("internal error") or "\n" in error or len(error) > _LONGEST_SENTENCE:
            return f"not a sentence: {error!r}"
        files = session.exec(select(File.id).where(col(File.asset_id) == asset.id)).all()
        if formats or files:
            return f"failed ({error}) but kept {sorted(formats)} and {len(files)} files"
        return None
    if asset.status != AssetStatus.READY:
        return f"completed but the asset is {asset.status}"
    if item.bomb and asset.kind == AssetKind.IMAGE:
        return "a bomb was decoded"
    if asset.kind not in (item.was, AssetKind.OTHER, AssetKind.DOCUMENT):
        return f"a {item.was.value} became {asset.kind.value} ({asset.content_type})"
    missing = _DERIVED.get(asset.kind, frozenset()) - formats
    if asset.kind == AssetKind.IMAGE and not any(name.startswith("SIZE_") for name in formats):
        missing = {"SIZE_*"}
    return f"ready {asset.kind.value} without {sorted(missing)}" if missing else None


def test_every_bad_input_ends_in_a_sentence_or_a_sane_asset(
    fs_pipeline_settings: Settings,
    format_corpus: dict[str, Path],
    media_root: Path,
) -> None:
    bad = build_bad_inputs(format_corpus, media_root / "bad")
    items = list(bad)

    results = ingest_each([str(bad[item]) for item in items])

    engine = make_engine(fs_pipeline_settings.database_url)
    problems, table = [], []
    with new_session(engine) as session:
        for item, (outcome, elapsed_s) in zip(items, results, strict=True):
            problem = _verdict(session, item, outcome)
            limit_s = decode_time_limit(bad[item])
            if elapsed_s > limit_s:
                problem = f"took {elapsed_s:.1f} s, past its limit of {limit_s:.0f} s"
            if problem:
                problems.append(f"{item.name}: {problem}")
            ended = outcome if isinstance(outcome, str) else (outcome.error or "ready")
            table.append(f"{item.name:44} {elapsed_s:5.2f} s  {ended[:110]}")
    engine.dispose()
    print("\n".join(table))  # what each item ended with, with -s
    assert len(items) >= 100
    assert not problems, f"{len(problems)} of {len(items)} bad inputs went wrong:\n" + "\n".join(
        problems
    )
