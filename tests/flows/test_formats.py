"""A corpus of many formats through ``batch-ingest``: each ends with the right kind and derivatives.

One batch (on SQLite and the S3 server) ingests every sample of
tests/fixtures/formats.py from a local root; a failure names each format
that went wrong and why.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from core.settings import Settings
from flows.batch import batch_ingest
from models.db import make_engine, new_session
from models.tables import ORIGINAL, Asset, AssetStatus, Format
from tests.fixtures.formats import CORPUS, IMAGE_SIZES, Sample
from tests.fixtures.pipeline import export_settings


@pytest.fixture
def corpus_settings(
    prefect_server: None,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    s3_settings: Settings,
    format_corpus: dict[str, Path],
    tmp_path: Path,
) -> Settings:
    """Settings for the batch: SQLite, the S3 server, the corpus directory as a local root."""
    work = tmp_path / "work"
    work.mkdir()
    root = next(iter(format_corpus.values())).parent
    settings = s3_settings.model_copy(
        update={
            "database_url": sqlite_url,
            "allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
            "local_roots": [root, tmp_path],
            "temp_dir": work,
        }
    )
    export_settings(monkeypatch, settings)
    return Settings()


def _verdict(sample: Sample, asset: Asset | None, formats: set[str]) -> str | None:
    """Say what is wrong with a sample's asset, or None when it is right."""
    if asset is None:
        return "no asset"
    if asset.status != AssetStatus.READY:
        return f"{asset.status}: {asset.error}"
    if asset.kind != sample.kind:
        return f"kind {asset.kind} ({asset.content_type}), expected {sample.kind.value}"
    if ORIGINAL not in formats:
        return "no ORIGINAL"
    wanted = set(sample.derived)
    if wanted == IMAGE_SIZES:
        # A small picture gets the sizes up to its own size, never upscaled.
        wanted = {"SIZE_160"}
    missing = wanted - formats
    if missing:
        return f"missing {', '.join(sorted(missing))} (has {', '.join(sorted(formats))})"
    if not sample.derived and formats != {ORIGINAL}:
        return f"derived {', '.join(sorted(formats - {ORIGINAL}))} from a file that has none"
    return None


def test_every_format_of_the_corpus_ends_with_its_kind_and_derivatives(
    corpus_settings: Settings, format_corpus: dict[str, Path], tmp_path: Path
) -> None:
    manifest = tmp_path / "corpus.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"source": str(format_corpus[s.name]), "identifier": s.name}) + "\n"
            for s in CORPUS
        )
    )

    summary = batch_ingest(str(manifest), concurrency=2, project="corpus")

    engine = make_engine(corpus_settings.database_url)
    problems, table = [], []
    with new_session(engine) as session:
        for sample in CORPUS:
            asset = _asset(session, sample.name)
            formats = _format_names(session, asset)
            problem = _verdict(sample, asset, formats)
            if problem:
                problems.append(f"{sample.name}: {problem}")
            table.append(
                f"{sample.name:32} {str(asset.kind) if asset else '-':9} "
                f"{(asset.content_type if asset else None) or '-':28} {len(formats) - 1:2} derived"
            )
        # What the bytes show is recorded; what the name claimed is kept beside it.
        psd = _asset(session, "PSD")
        original = session.exec(
            select(Format).where(
                Format.asset_id == (psd.id if psd else None), Format.name == ORIGINAL
            )
        ).first()
    engine.dispose()
    print("\n".join(table))  # the per-format figures, with -s
    assert psd is not None and psd.content_type == "image/vnd.adobe.photoshop"
    assert original is not None
    assert (original.technical["claimed_type"], original.technical["recognised_by"]) == (
        "image/vnd.adobe.photoshop",
        "pillow",
    )
    assert len(CORPUS) >= 40
    assert not problems, f"{len(problems)} of {len(CORPUS)} formats went wrong:\n" + "\n".join(
        problems
    )
    assert (summary.completed, summary.failed) == (len(CORPUS), 0)


def _asset(session: Session, identifier: str) -> Asset | None:
    return session.exec(select(Asset).where(Asset.identifier == identifier)).first()


def _format_names(session: Session, asset: Asset | None) -> set[str]:
    if asset is None:
        return set()
    names = session.exec(select(Format.name).where(col(Format.asset_id) == asset.id)).all()
    return set(names)
