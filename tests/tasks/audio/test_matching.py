"""Clip matching on the SQL fingerprint index, as ``assetflow match`` reads it, on each database.

The index holds the 20 library tracks, remixes of four of them (another
melody mixed in: a clip of either scores above the threshold against both)
and two medleys (one track's first half, another's second), each a
whole-track fingerprint indexed as derive_audio records it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select

from models import graph
from models.db import new_session
from models.fingerprints import SqlFingerprintIndex, record_fingerprint
from models.tables import FingerprintTerm
from tasks.audio.fingerprint import ITEM_DURATION_S, Fingerprint, fingerprint_file
from tasks.audio.matching import MATCH_MIN_SCORE, TERM_BITS, index_terms, match_clip, match_raw
from tests.fixtures.audio_media import medley, noisy_clip, structured_audio

REMIXES = (0, 1, 2, 3)  # remix-k: track-k with the melody of seed 100 + k mixed in
MEDLEYS = ((4, 5), (6, 7))  # medley-a-b: track-a up to 30 s, then track-b
SPLIT_S = 30.0
# Noisy 10 s clips cut from these tracks at these offsets: each comes back first, at its
# offset, followed by the other tracks that hold it (and no others).
CLIPS = {
    ("track-0", 20.0): {"remix-0"},
    ("track-3", 27.0): {"remix-3"},
    ("track-9", 12.3): set(),
    ("track-13", 43.9): set(),
    ("track-19", 5.0): set(),
    ("remix-1", 33.0): {"track-1"},  # the remix first, then the track it remixes
    ("track-4", 44.0): set(),  # after the split: medley-4-5 holds track-5 there, not track-4
}


@dataclass(frozen=True)
class Library:
    """The indexed tracks by name, and the noisy MP3 clips cut from them."""

    tracks: dict[str, Path]
    fingerprints: dict[str, Fingerprint]
    clips: dict[tuple[str, float], Path]


@pytest.fixture(scope="module")
def catalogue(library: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Library:
    folder = tmp_path_factory.mktemp("catalogue")
    tracks = {path.stem: path for path in library}
    with ThreadPoolExecutor(max_workers=2) as pool:
        remixes = pool.map(
            lambda k: structured_audio(
                folder / f"remix-{k}.wav", seed=k, overdub=100 + k, duration_s=60, sample_rate=11025
            ),
            REMIXES,
        )
        tracks |= {path.stem: path for path in remixes}
        medleys = pool.map(
            lambda pair: medley(
                tracks[f"track-{pair[0]}"],
                tracks[f"track-{pair[1]}"],
                folder / f"medley-{pair[0]}-{pair[1]}.wav",
                split_s=SPLIT_S,
            ),
            MEDLEYS,
        )
        tracks |= {path.stem: path for path in medleys}
        fingerprints = dict(zip(tracks, pool.map(fingerprint_file, tracks.values()), strict=True))
        wanted = [*CLIPS, ("medley-4-5", 40.0), ("track-5", 15.0)]
        clips = pool.map(
            lambda clip: noisy_clip(
                tracks[clip[0]], folder / f"{clip[0]}@{clip[1]}.mp3", start_s=clip[1], duration_s=10
            ),
            wanted,
        )
        return Library(tracks, fingerprints, dict(zip(wanted, clips, strict=True)))


@pytest.fixture
def index(
    catalogue: Library, engine: Engine
) -> Iterator[tuple[SqlFingerprintIndex, dict[str, str]]]:
    """Every track of the catalogue recorded as an asset with its indexed track fingerprint.

    Yields the index and the asset id of each track, by name.
    """
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="music")
        assets = {}
        for name, fingerprint in catalogue.fingerprints.items():
            asset = graph.create_asset(
                session=session, project=project, identifier=name, source=f"file:///{name}.wav"
            )
            record_fingerprint(
                session=session, asset_id=asset.id, measured=fingerprint, indexed=True
            )
            assets[name] = str(asset.id)
        session.commit()
        yield SqlFingerprintIndex(session), assets


def test_clips_of_several_tracks_come_back_first_at_their_offset(
    catalogue: Library, index: tuple[SqlFingerprintIndex, dict[str, str]]
) -> None:
    sql, assets = index
    assert len(assets) >= 20 + len(REMIXES) + len(MEDLEYS)

    found = {clip: match_clip(catalogue.clips[clip], index=sql) for clip in CLIPS}

    for (name, start_s), matches in found.items():
        seen = [(m.asset_id, m.offset_s, m.score) for m in matches]
        assert matches, (name, start_s)
        best = matches[0]
        assert (best.asset_id, best.offset_s) == (
            assets[name],
            pytest.approx(start_s, abs=1.0),
        ), (name, start_s, seen)
        assert best.bit_error_rate == pytest.approx(1 - best.score)
        assert {m.asset_id for m in matches[1:]} == {
            assets[other] for other in CLIPS[name, start_s]
        }, (name, start_s, seen)
        assert all(m.offset_s == pytest.approx(start_s, abs=1.0) for m in matches)
        assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_a_passage_two_tracks_share_matches_both_at_its_offset(
    catalogue: Library, index: tuple[SqlFingerprintIndex, dict[str, str]]
) -> None:
    sql, assets = index

    from_medley = match_clip(catalogue.clips["medley-4-5", 40.0], index=sql)
    from_track = match_clip(catalogue.clips["track-5", 15.0], index=sql)

    assert {(m.asset_id, round(m.offset_s)) for m in from_medley[:2]} == {
        (assets["medley-4-5"], 40),
        (assets["track-5"], 40),
    }
    # Before the split the medley is track-4: track-5's first half is only its own.
    assert [(m.asset_id, round(m.offset_s)) for m in from_track] == [(assets["track-5"], 15)]


def test_clip_of_an_unindexed_track_matches_nothing(
    index: tuple[SqlFingerprintIndex, dict[str, str]], tmp_path: Path
) -> None:
    sql, _ = index
    stranger = structured_audio(
        tmp_path / "stranger.wav", seed=99, duration_s=20, sample_rate=11025
    )
    clip = noisy_clip(stranger, tmp_path / "clip.mp3", start_s=5, duration_s=10)

    assert match_clip(clip, index=sql) == []
    # Even with no threshold, nothing unrelated agrees like a true match does.
    assert all(m.score < MATCH_MIN_SCORE for m in match_clip(clip, index=sql, min_score=0.0))


def test_exact_slice_matches_perfectly(
    catalogue: Library, index: tuple[SqlFingerprintIndex, dict[str, str]]
) -> None:
    sql, assets = index
    raw = catalogue.fingerprints["track-15"].raw[200:280]

    best = match_raw(raw, index=sql, top=1)

    assert [(m.asset_id, m.score) for m in best] == [(assets["track-15"], 1.0)]
    assert best[0].offset_s == pytest.approx(200 * ITEM_DURATION_S, abs=0.01)
    assert match_raw([], index=sql) == []


def test_runs_of_one_term_are_posted_once() -> None:
    item = 0xABCDE123
    postings = index_terms([item] * 50 + [0x12345678, item])

    assert postings == [(item >> (32 - TERM_BITS), 0), (0x12345678 >> 12, 50), (item >> 12, 51)]


def test_term_lookup_reads_a_small_part_of_the_index(
    catalogue: Library, index: tuple[SqlFingerprintIndex, dict[str, str]], engine: Engine
) -> None:
    sql, assets = index
    # 16 more assets of 5 minutes of random items (unrelated tracks look random to it).
    rng = random.Random(3)
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="noise")
        for number in range(16):
            asset = graph.create_asset(
                session=session, project=project, identifier=f"n{number}", source="file:///n"
            )
            raw = [rng.getrandbits(32) for _ in range(2400)]
            record_fingerprint(
                session=session,
                asset_id=asset.id,
                measured=Fingerprint(offset_s=0.0, duration_s=300.0, raw=raw, compressed=""),
                indexed=True,
            )
        session.commit()
        postings = session.exec(select(func.count()).select_from(FingerprintTerm)).one()
    raw = catalogue.fingerprints["track-11"].raw[300:380]
    terms = sorted({term for term, _ in index_terms(raw)})

    hits = list(sql.candidates(terms))

    assert postings > 40_000
    assert len(hits) < 0.01 * postings
    assert {term for _, _, term in hits} <= set(terms)
    assert match_raw(raw, index=sql)[0].asset_id == assets["track-11"]
    assert sql.load([uuid.uuid4()]) == {}
