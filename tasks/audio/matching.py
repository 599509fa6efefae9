"""Find the asset and offset a short audio clip was cut from, as AcoustID does.

Stored fingerprints are indexed by term (the top ``TERM_BITS`` bits of each
raw item) with the item's position. A lookup takes the clip's terms, fetches
the postings, and votes on the offset between clip and stored fingerprint
(one histogram per stored fingerprint). The best-voted alignments are then
verified on the full 32-bit items: the bit error rate (popcount of XOR over the
aligned overlap) decides, and ``score = 1 - bit_error_rate``.

The index is a narrow Protocol, so matching needs no database: the asset
graph's table ``fingerprint_term(term BIGINT indexed, fingerprint_id,
position)`` backs it (``models.fingerprints.SqlFingerprintIndex``).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

import numpy as np

from tasks.audio.fingerprint import ITEM_DURATION_S, fingerprint_file

# Bits of a raw item kept as its index term. Each item is 16 classifiers x 2
# bits, so the top 20 bits are the first 10 classifiers. Measured on 18
# noisy 96 kb/s MP3 clips of 6 structured tracks: at the true alignment
# 53 % of the clip's items share the top 20 bits (worst clip 24 %) against
# 38 % for the full 32 bits (worst 7 %), so 20 bits keep enough votes on the
# worst clip while 2^20 terms still spread 1,000 indexed tracks thinly.
TERM_BITS = 20
# Fewer votes than this for an alignment is chance: the worst true clip above
# still had 14 term hits at its alignment; unrelated alignments rarely get 3.
MIN_VOTES = 5
# Alignments verified by bit error rate, best voted first.
VERIFY_CANDIDATES = 20
# Matches scoring below this are dropped. Measured (same 18 clips): true
# alignments have a bit error rate of at most 0.08 (score >= 0.92); the best
# alignment of a clip against an unrelated track, searched over every offset,
# had a rate of at least 0.31 (score <= 0.69). 0.75 sits between with room
# for harsher re-encodes (AcoustID's own comparisons treat ~0.35 as unrelated).
MATCH_MIN_SCORE = 0.75
# An overlap shorter than this (~2.5 s) says too little to verify.
MIN_OVERLAP_ITEMS = 20
# A term with more postings than this (long silence, a held tone shared by
# many tracks) says nothing about where the clip comes from.
MAX_TERM_POSTINGS = 5000
# Clips are fingerprinted up to this length: a longer clip adds cost, not certainty.
MAX_CLIP_S = 120.0


# Ids of stored fingerprints: their rows' ids in the asset graph.
FingerprintId: TypeAlias = uuid.UUID


@dataclass(frozen=True)
class StoredFingerprint:
    """An indexed fingerprint: a fragment (or whole track) of an asset starting at ``offset_s``."""

    asset_id: str
    offset_s: float
    raw: list[int]


@dataclass(frozen=True)
class Match:
    """Where a clip was found: the asset, the clip's start in it, and how well it agrees."""

    asset_id: str
    offset_s: float
    score: float
    bit_error_rate: float


class FingerprintIndex(Protocol):
    """What matching needs from a store of indexed fingerprints."""

    def candidates(self, terms: Sequence[int]) -> Iterable[tuple[FingerprintId, int, int]]:
        """Yield ``(fingerprint_id, position, term)`` for every posting of the given terms."""
        ...

    def load(
        self, fingerprint_ids: Sequence[FingerprintId]
    ) -> Mapping[FingerprintId, StoredFingerprint]:
        """Return the stored fingerprints with these ids."""
        ...


def index_terms(raw: Sequence[int]) -> list[tuple[int, int]]:
    """Return the ``(term, position)`` postings to index for a raw fingerprint.

    A run of equal terms (silence, a held note) is posted once, at its first
    position, so it cannot flood the index.
    """
    postings: list[tuple[int, int]] = []
    previous: int | None = None
    for position, item in enumerate(raw):
        term = (item & 0xFFFFFFFF) >> (32 - TERM_BITS)
        if term != previous:
            postings.append((term, position))
        previous = term
    return postings


def match_clip(
    clip: Path, *, index: FingerprintIndex, top: int = 5, min_score: float = MATCH_MIN_SCORE
) -> list[Match]:
    """Return the assets a clip comes from, best first, one match per asset.

    An empty list means no match scored ``min_score`` or better, including
    when the clip is too short or too plain to fingerprint.
    """
    fingerprint = fingerprint_file(clip, max_duration_s=MAX_CLIP_S)
    return match_raw(fingerprint.raw, index=index, top=top, min_score=min_score)


def match_raw(
    raw: Sequence[int], *, index: FingerprintIndex, top: int = 5, min_score: float = MATCH_MIN_SCORE
) -> list[Match]:
    """Return the assets a raw clip fingerprint comes from, best first, one match per asset."""
    alignments = _vote(raw, index)
    if not alignments:
        return []
    stored = index.load(list({fid for fid, _ in alignments}))
    clip = np.asarray(raw, dtype=np.uint32)
    best: dict[str, Match] = {}
    for fid, delta in alignments:
        fingerprint = stored.get(fid)
        if fingerprint is None:
            continue
        match = _verify(clip, fingerprint, delta)
        if match is None or match.score < min_score:
            continue
        if match.asset_id not in best or match.score > best[match.asset_id].score:
            best[match.asset_id] = match
    return sorted(best.values(), key=lambda m: m.score, reverse=True)[:top]


def _vote(raw: Sequence[int], index: FingerprintIndex) -> list[tuple[FingerprintId, int]]:
    """Return the best-voted ``(fingerprint_id, delta)`` alignments, most votes first."""
    clip_positions: dict[int, list[int]] = defaultdict(list)
    for term, position in index_terms(raw):
        clip_positions[term].append(position)
    postings: dict[int, list[tuple[FingerprintId, int]]] = defaultdict(list)
    for fid, position, term in index.candidates(sorted(clip_positions)):
        postings[term].append((fid, position))
    votes: Counter[tuple[FingerprintId, int]] = Counter()
    for term, hits in postings.items():
        if len(hits) > MAX_TERM_POSTINGS:
            continue
        for fid, position in hits:
            for clip_position in clip_positions[term]:
                votes[fid, position - clip_position] += 1
    # The clip's start rarely falls on the stored item grid, so its votes split
    # between two neighbouring deltas: rank each delta with its neighbours.
    pooled = Counter(
        {
            (fid, delta): count + votes.get((fid, delta - 1), 0) + votes.get((fid, delta + 1), 0)
            for (fid, delta), count in votes.items()
        }
    )
    return [
        alignment
        for alignment, count in pooled.most_common(VERIFY_CANDIDATES)
        if count >= MIN_VOTES
    ]


def _verify(clip: np.ndarray, stored: StoredFingerprint, delta: int) -> Match | None:
    """Score the best of the alignments around ``delta`` by bit error rate, or None if too short."""
    reference = np.asarray(stored.raw, dtype=np.uint32)
    best: tuple[float, int] | None = None
    for shift in (delta - 1, delta, delta + 1):
        start, stop = max(0, -shift), min(len(clip), len(reference) - shift)
        if stop - start < MIN_OVERLAP_ITEMS:
            continue
        differing = np.bitwise_count(clip[start:stop] ^ reference[start + shift : stop + shift])
        rate = float(differing.sum()) / (32 * (stop - start))
        if best is None or rate < best[0]:
            best = (rate, shift)
    if best is None:
        return None
    rate, shift = best
    return Match(
        asset_id=stored.asset_id,
        offset_s=round(stored.offset_s + shift * ITEM_DURATION_S, 3),
        score=round(1.0 - rate, 4),
        bit_error_rate=round(rate, 4),
    )
