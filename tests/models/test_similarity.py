"""The banded near-duplicate search: the full scan's answers, from indexes, at any library size."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import Engine

from core.phash import PHASH_MAX_DISTANCE
from models.db import new_session
from models.similarity import (
    SEARCH_MAX_DISTANCE,
    band_radii,
    find_similar,
    phash_bands,
    similar_statement,
)
from tests.fixtures.synthetic import Library, query_plan


def _full_scan(library: Library, phash: int, max_distance: int) -> list[tuple[uuid.UUID, int]]:
    """The answer by brute force: the distance from the query to every stored hash."""
    distances = np.bitwise_count(np.array(library.hashes, dtype=np.uint64) ^ np.uint64(phash))
    hits = np.flatnonzero(distances <= max_distance)
    return sorted(
        ((library.ids[i], int(distances[i])) for i in hits), key=lambda hit: (hit[1], str(hit[0]))
    )


def test_the_search_answers_exactly_what_a_full_scan_answers(library: Library) -> None:
    with new_session(library.engine) as session:
        for max_distance in (PHASH_MAX_DISTANCE, SEARCH_MAX_DISTANCE, 0):
            for query in library.queries:
                found = find_similar(session=session, phash=query, max_distance=max_distance)
                expected = _full_scan(library, query, max_distance)
                assert [(s.asset_id, s.distance) for s in found] == expected
    # The planted neighbours make the comparison mean something: every query
    # has some at the default distance (7 spread at random, 1 in one band, 1 evenly).
    assert all(len(_full_scan(library, q, PHASH_MAX_DISTANCE)) >= 9 for q in library.queries)


def test_the_search_reads_the_band_indexes_not_the_table(library: Library) -> None:
    for max_distance in (PHASH_MAX_DISTANCE, SEARCH_MAX_DISTANCE):
        statement = similar_statement(phash=library.queries[0], max_distance=max_distance)
        plan = query_plan(library.engine, statement)
        if library.engine.dialect.name == "postgresql":
            assert "Seq Scan" not in plan
            used = [f"Index Only Scan using ix_image_hash_phash_band{k} " for k in range(4)]
        else:
            assert "SCAN image_hash" not in plan
            used = [f"USING COVERING INDEX ix_image_hash_phash_band{k} " for k in range(4)]
        assert all(index in plan for index in used), plan


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
