"""Chromaprint fingerprints in the asset graph, and the SQL index clip matching reads.

The whole-track fingerprint of an asset is indexed term by term in
``fingerprint_term`` (one row per posting from ``index_terms``), so a lookup
touches only the postings of the clip's terms, never every fingerprint.
Fragment fingerprints are kept with their file and offset but not indexed:
they are slices of the track and would only repeat its postings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from models.tables import AudioFingerprint, FingerprintTerm
from tasks.audio.fingerprint import Fingerprint
from tasks.audio.matching import FingerprintId, StoredFingerprint, index_terms

# Terms per IN (...) lookup: well under PostgreSQL's and SQLite's parameter limits.
LOOKUP_BATCH = 500


def record_fingerprint(
    *,
    session: Session,
    asset_id: uuid.UUID,
    measured: Fingerprint,
    file_id: uuid.UUID | None = None,
    indexed: bool = False,
) -> AudioFingerprint:
    """Record a fingerprint; ``indexed`` also posts its terms for clip matching."""
    row = AudioFingerprint(
        asset_id=asset_id,
        file_id=file_id,
        offset_s=measured.offset_s,
        duration_s=measured.duration_s,
        compressed=measured.compressed,
        raw=measured.raw,
    )
    session.add(row)
    session.flush()
    postings = index_terms(measured.raw) if indexed else []
    if postings:
        session.execute(
            insert(FingerprintTerm),
            [
                {"fingerprint_id": row.id, "position": position, "term": term}
                for term, position in postings
            ],
        )
    return row


def remove_track_fingerprints(*, session: Session, asset_id: uuid.UUID) -> None:
    """Delete the asset's whole-track fingerprints and their postings (before a re-derive)."""
    track_ids = select(AudioFingerprint.id).where(
        AudioFingerprint.asset_id == asset_id,
        col(AudioFingerprint.file_id).is_(None),
    )
    session.execute(
        delete(FingerprintTerm).where(col(FingerprintTerm.fingerprint_id).in_(track_ids))
    )
    session.execute(delete(AudioFingerprint).where(col(AudioFingerprint.id).in_(track_ids)))


class SqlFingerprintIndex:
    """The FingerprintIndex that clip matching reads, over the graph's tables."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def candidates(self, terms: Sequence[int]) -> Iterable[tuple[FingerprintId, int, int]]:
        """Yield ``(fingerprint_id, position, term)`` for every posting of the given terms."""
        for start in range(0, len(terms), LOOKUP_BATCH):
            batch = terms[start : start + LOOKUP_BATCH]
            # On the connection, not through the ORM session: thousands of postings
            # come back per clip, and the ORM's row handling cost ten times the query.
            rows = self._session.connection().execute(
                select(
                    FingerprintTerm.fingerprint_id,
                    FingerprintTerm.position,
                    FingerprintTerm.term,
                ).where(col(FingerprintTerm.term).in_(batch))
            )
            yield from ((row[0], row[1], row[2]) for row in rows)

    def load(
        self, fingerprint_ids: Sequence[FingerprintId]
    ) -> Mapping[FingerprintId, StoredFingerprint]:
        """Return the stored fingerprints with these ids."""
        rows = self._session.exec(
            select(AudioFingerprint).where(col(AudioFingerprint.id).in_(fingerprint_ids))
        ).all()
        return {
            row.id: StoredFingerprint(
                asset_id=str(row.asset_id), offset_s=row.offset_s, raw=row.raw
            )
            for row in rows
        }
