"""The banded near-duplicate search: the full scan's answers, from indexes, at any library size."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest
from sqlalchemy import Engine

from models.db import new_session
from models.similarity import (
    SEARCH_MAX_DISTANCE,
    band_radii,
    find_similar,
    phash_bands,
    similar_statement,
)
from tasks.images.hashes import PHASH_MAX_DISTANCE
from tests.fixtures.synthetic import load_images, near, query_plan, random_hashes

LIBRARY = 100_000
QUERIES = 25


def _full_scan(
    stored: np.ndarray, ids: list[uuid.UUID], phash: int, max_distance: int
) -> list[tuple[uuid.UUID, int]]:
    """The answer by brute force: the distance from the query to every stored hash."""
    distances = np.bitwise_count(stored ^ np.uint64(phash))
    hits = np.flatnonzero(distances <= max_distance)
    return sorted(
        ((ids[i], int(distances[i])) for i in hits), key=lambda hit: (hit[1], str(hit[0]))
    )


def _planted_library(rng: random.Random) -> tuple[list[int], list[int]]:
    """Random hashes with neighbours of the queries at and just past the searchable distances.

    Neighbours are planted with their flipped bits spread at random, all in
    one band, and spread as evenly over the bands as they go (12 as 3+3+3+3,
    15 as 4+4+4+3), which is where a band search that rounds a radius the
    wrong way would miss them.
    """
    queries = random_hashes(QUERIES, seed=rng.randrange(1 << 30))
    planted: list[int] = []
    for query in queries:
        for distance in (0, 1, 3, 4, 8, 11, 12, 13, 14, 15, 16):
            planted.append(near(query, distance, rng=rng))
        band = rng.randrange(4)
        planted.append(near(query, 12, rng=rng, bits=range(16 * band, 16 * band + 16)))
        for per_band in ((3, 3, 3, 3), (3, 3, 3, 4), (4, 4, 4, 3), (4, 4, 4, 4)):
            planted.append(_spread(query, rng.sample(per_band, 4), rng))
    background = random_hashes(LIBRARY - len(planted), seed=rng.randrange(1 << 30))
    library = background + planted
    rng.shuffle(library)
    return queries, library


def _spread(phash: int, per_band: list[int], rng: random.Random) -> int:
    for k, flips in enumerate(per_band):
        phash = near(phash, flips, rng=rng, bits=range(16 * k, 16 * k + 16))
    return phash


def test_the_search_answers_exactly_what_a_full_scan_answers(engine: Engine) -> None:
    rng = random.Random(17)
    queries, library = _planted_library(rng)
    ids = load_images(engine, library)
    stored = np.array(library, dtype=np.uint64)

    with new_session(engine) as session:
        for max_distance in (PHASH_MAX_DISTANCE, SEARCH_MAX_DISTANCE, 0):
            for query in queries:
                found = find_similar(session=session, phash=query, max_distance=max_distance)
                expected = _full_scan(stored, ids, query, max_distance)
                assert [(s.asset_id, s.distance) for s in found] == expected
    # The planted neighbours make the comparison mean something: every query
    # has some at the default distance and at the largest.
    assert all(len(_full_scan(stored, ids, q, PHASH_MAX_DISTANCE)) >= 9 for q in queries)


def test_every_distance_within_reach_is_covered_by_the_band_radii() -> None:
    for max_distance in range(SEARCH_MAX_DISTANCE + 1):
        radii = band_radii(max_distance)
        # Bands each differing in one bit more than searched add up past the distance.
        assert sum(radius + 1 for radius in radii) == max_distance + 1


def test_a_search_past_the_largest_distance_is_refused_with_a_sentence(engine: Engine) -> None:
    with new_session(engine) as session, pytest.raises(ValueError, match="at most 15 bits"):
        find_similar(session=session, phash=1, max_distance=SEARCH_MAX_DISTANCE + 1)


def test_bands_are_the_hash_cut_in_sixteen_bit_slices() -> None:
    assert phash_bands(0x0123_4567_89AB_CDEF) == (0xCDEF, 0x89AB, 0x4567, 0x0123)
    assert phash_bands(-1) == (0xFFFF,) * 4  # the signed BIGINT as stored


def test_the_search_reads_the_band_indexes_not_the_table(engine: Engine) -> None:
    load_images(engine, random_hashes(50_000, seed=3))
    for max_distance in (PHASH_MAX_DISTANCE, SEARCH_MAX_DISTANCE):
        plan = query_plan(engine, similar_statement(phash=12345, max_distance=max_distance))
        if engine.dialect.name == "postgresql":
            assert "Seq Scan" not in plan
            used = [f"Index Only Scan using ix_image_hash_phash_band{k} " for k in range(4)]
        else:
            assert "SCAN image_hash" not in plan
            used = [f"USING COVERING INDEX ix_image_hash_phash_band{k} " for k in range(4)]
        assert all(index in plan for index in used), plan
