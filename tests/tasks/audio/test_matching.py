from __future__ import annotations

import random
from pathlib import Path

import pytest

from tasks.audio.fingerprint import fingerprint_file, slice_fingerprint
from tasks.audio.matching import (
    MATCH_MIN_SCORE,
    TERM_BITS,
    MemoryFingerprintIndex,
    StoredFingerprint,
    index_terms,
    match_clip,
    match_raw,
)
from tests.fixtures.audio_media import noisy_clip, structured_audio


@pytest.fixture(scope="module")
def index(library: list[Path]) -> MemoryFingerprintIndex:
    """Every library track indexed as derive_audio stores it: one fingerprint per 30 s fragment.

    The fragments' fingerprints are slices of the track's (test_derive checks
    that derive_audio's are), so the fragment files need not be encoded here.
    """
    memory = MemoryFingerprintIndex()
    for track in library:
        whole = fingerprint_file(track)
        for number, offset in enumerate(range(0, int(whole.duration_s), 30)):
            part = slice_fingerprint(whole, offset_s=offset, duration_s=30.0)
            memory.add(len(memory), StoredFingerprint(track.stem, part.offset_s, part.raw))
            assert number < 2
    return memory


@pytest.mark.parametrize(("asset", "start_s"), [(2, 12.3), (4, 27.0), (0, 43.9)])
def test_noisy_mp3_clip_comes_back_first_at_its_offset(
    library: list[Path], index: MemoryFingerprintIndex, tmp_path: Path, asset: int, start_s: float
) -> None:
    # 27.0 + 10 s straddles the fragment boundary at 30 s.
    clip = noisy_clip(library[asset], tmp_path / "clip.mp3", start_s=start_s, duration_s=10)

    matches = match_clip(clip, index=index)

    assert len(index) >= 5 * 2
    assert matches, "the clip was not found"
    assert matches[0].asset_id == f"track-{asset}"
    assert matches[0].offset_s == pytest.approx(start_s, abs=1.0)
    assert matches[0].score >= MATCH_MIN_SCORE
    assert matches[0].bit_error_rate == pytest.approx(1 - matches[0].score)
    assert [m.asset_id for m in matches].count(f"track-{asset}") == 1


def test_clip_of_an_unindexed_track_matches_nothing(
    index: MemoryFingerprintIndex, tmp_path: Path
) -> None:
    stranger = structured_audio(
        tmp_path / "stranger.wav", seed=99, duration_s=20, sample_rate=11025
    )
    clip = noisy_clip(stranger, tmp_path / "clip.mp3", start_s=5, duration_s=10)

    assert match_clip(clip, index=index) == []
    # Even with no threshold, nothing unrelated agrees like a true match does.
    assert all(m.score < MATCH_MIN_SCORE for m in match_clip(clip, index=index, min_score=0.0))


def test_exact_slice_matches_perfectly(library: list[Path], index: MemoryFingerprintIndex) -> None:
    raw = fingerprint_file(library[5]).raw[200:280]

    best = match_raw(raw, index=index, top=1)

    assert [(m.asset_id, m.score) for m in best] == [("track-5", 1.0)]
    assert best[0].offset_s == pytest.approx(200 * 1365 / 11025, abs=0.01)


def test_empty_clip_fingerprint_matches_nothing(index: MemoryFingerprintIndex) -> None:
    assert match_raw([], index=index) == []


def test_runs_of_one_term_are_posted_once() -> None:
    item = 0xABCDE123
    postings = index_terms([item] * 50 + [0x12345678, item])

    assert postings == [(item >> (32 - TERM_BITS), 0), (0x12345678 >> 12, 50), (item >> 12, 51)]


def test_term_lookup_touches_a_small_part_of_a_large_index() -> None:
    rng = random.Random(3)
    memory = MemoryFingerprintIndex()
    for fid in range(300):
        memory.add(
            fid, StoredFingerprint(f"a{fid}", 0.0, [rng.getrandbits(32) for _ in range(1500)])
        )
    target = [rng.getrandbits(32) for _ in range(1500)]
    memory.add(300, StoredFingerprint("target", 30.0, target))
    terms = sorted({term for term, _ in index_terms(target[700:780])})

    hits = list(memory.candidates(terms))

    assert len(hits) < 0.001 * 301 * 1500
    assert match_raw(target[700:780], index=memory)[0].asset_id == "target"
    assert memory.load([300, 999]) == {300: StoredFingerprint("target", 30.0, target)}
