"""A small library of structured tracks, made once per test session."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.audio_media import structured_audio

LIBRARY_SIZE = 20
TRACK_S = 60.0


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twenty distinct 60 s structured tracks (seeds 0-19), as WAV at 11025 Hz."""
    folder = tmp_path_factory.mktemp("library")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(
            pool.map(
                lambda seed: structured_audio(
                    folder / f"track-{seed}.wav", seed=seed, duration_s=TRACK_S, sample_rate=11025
                ),
                range(LIBRARY_SIZE),
            )
        )
