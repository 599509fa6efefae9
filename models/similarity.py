"""Near-duplicate images by Hamming distance between perceptual hashes.

A multi-index hash (Norouzi, Punjani, Fleet: "Fast search in Hamming space
with multi-index hashing", CVPR 2012) keeps the search from reading the whole
library. The 64-bit phash is cut into ``BANDS`` bands of 16 bits, each an
indexed column. Two hashes within ``r`` bits differ in at most ``r`` bits
spread over the four bands, so by the pigeonhole rule, with ``r = 4q + a``
(``a < 4``), one of bands ``0..a`` differs in at most ``q`` bits or one of the
others in at most ``q - 1``: otherwise the total would be at least
``(a + 1)(q + 1) + (3 - a)q = r + 1``. The search therefore looks up, in
each band, every 16-bit value within that radius of the query's band (697
values for radius 3, 137 for radius 2: 1,108 index probes at the default 12
bits), and the database keeps only the candidates whose exact distance is
within ``r``. The answer is the full scan's, exactly (tests/models/test_similarity.py).

Cost: a random library of N hashes puts about N / 65,536 rows under each
probed value, so at the default distance a search reads about 17,000 index
entries per million images, every one from an index that covers it; measured
at 1,000,000 hashes in bench/bench_scale.py. The number of probes grows
combinatorially with the distance, hence ``SEARCH_MAX_DISTANCE``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, Text, bindparam, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.sql.selectable import CompoundSelect
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType, TypeDecorator
from sqlmodel import Session, col, delete, select

from core.phash import PHASH_MAX_DISTANCE, from_int64, to_int64
from models.db import SQLITE_HAMMING_FUNCTION
from models.tables import AssetLink, ImageHash

NEAR_DUPLICATE = "near_duplicate"
BANDS = 4
BAND_BITS = 16
_BAND_MASK = (1 << BAND_BITS) - 1
# The largest distance ``similar`` searches: up to 15 bits every band is probed
# within radius 3 at most (697 values, about 1 % of the hashes each), which
# PostgreSQL reads from the band indexes; at 16 one band's radius becomes 4
# (2,517 values, 4 %) and the planner may prefer to scan the table. Distinct
# scenes lie 18 bits apart or more (bench/phash_threshold.py): past 15 the
# answer is mostly unrelated pictures anyway.
SEARCH_MAX_DISTANCE = 15


@dataclass(frozen=True)
class Similar:
    """An image close to the one asked about, and how close (bits that differ)."""

    asset_id: uuid.UUID
    distance: int


class hamming_distance(GenericFunction[int]):
    """SQL: the number of bits two signed 64-bit hashes differ in."""

    type = Integer()
    inherit_cache = True


@compiles(hamming_distance, "postgresql")
def _hamming_postgresql(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    # bit_count(bit) is PostgreSQL 14+; bigint casts to bit(64) as its two's complement.
    left, right = element.clauses
    return (
        f"bit_count(CAST(({compiler.process(left, **kw)} # "
        f"{compiler.process(right, **kw)}) AS BIT(64)))"
    )


@compiles(hamming_distance, "sqlite")
def _hamming_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_HAMMING_FUNCTION}({compiler.process(element.clauses, **kw)})"


class _IntegerList(TypeDecorator[list[int]]):
    """A list of integers bound as one parameter: an array on PostgreSQL, JSON text on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Integer()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: list[int] | None, dialect: Dialect) -> Any:
        return value if dialect.name == "postgresql" else json.dumps(value)


class one_of(ColumnElement[Any]):
    """SQL: the column equals one of the integers, all bound as one parameter.

    The statement's text is then the same for every search, so SQLAlchemy and
    the database parse and plan it once, not a thousand parameters anew each time.
    """

    # Untyped: a boolean would be compared with 1 on SQLite, which hides it from the index.
    type = NullType()
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's declaration, read-only
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[int], values: list[int]) -> None:
        self.column = column
        self.values = bindparam(None, values, type_=_IntegerList())


@compiles(one_of, "postgresql")
def _one_of_postgresql(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY(CAST({values} AS INTEGER[]))"


@compiles(one_of, "sqlite")
def _one_of_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 - compiled SQL only


def phash_bands(phash: int) -> tuple[int, ...]:
    """Cut an unsigned (or signed) 64-bit phash into its ``BANDS`` 16-bit band values."""
    unsigned = from_int64(phash)
    return tuple((unsigned >> (BAND_BITS * k)) & _BAND_MASK for k in range(BANDS))


def band_radii(max_distance: int) -> tuple[int, ...]:
    """Return each band's search radius for a distance; -1 means the band needs no probe."""
    quotient, remainder = divmod(max_distance, BANDS)
    return tuple(quotient if k <= remainder else quotient - 1 for k in range(BANDS))


@cache
def _flips(radius: int) -> tuple[int, ...]:
    """Return every 16-bit mask with at most ``radius`` bits set."""
    return tuple(
        sum(1 << bit for bit in bits)
        for count in range(radius + 1)
        for bits in combinations(range(BAND_BITS), count)
    )


def record_image_hashes(*, session: Session, asset_id: uuid.UUID, phash: int, dhash: int) -> None:
    """Record (or replace) the unsigned 64-bit hashes of an image as signed BIGINTs."""
    session.execute(delete(ImageHash).where(col(ImageHash.asset_id) == asset_id))
    band0, band1, band2, band3 = phash_bands(phash)
    session.add(
        ImageHash(
            asset_id=asset_id,
            phash=to_int64(phash),
            dhash=to_int64(dhash),
            phash_band0=band0,
            phash_band1=band1,
            phash_band2=band2,
            phash_band3=band3,
        )
    )
    session.flush()


def find_similar(
    *, session: Session, phash: int, max_distance: int = PHASH_MAX_DISTANCE
) -> list[Similar]:
    """Rank the images whose phash lies within ``max_distance`` bits, nearest first.

    Raises ``ValueError`` past ``SEARCH_MAX_DISTANCE``.
    """
    # A hash near in several bands comes back once per band.
    found = {
        row[0]: row[1]
        for row in session.execute(similar_statement(phash=phash, max_distance=max_distance))
    }
    return sorted(
        (Similar(asset_id=asset_id, distance=bits) for asset_id, bits in found.items()),
        key=lambda similar: (similar.distance, str(similar.asset_id)),
    )


def similar_statement(*, phash: int, max_distance: int) -> CompoundSelect:
    """Build the band probes selecting ``(asset_id, distance)`` of the hashes within reach."""
    if not 0 <= max_distance <= SEARCH_MAX_DISTANCE:
        raise ValueError(
            f"a similarity search reaches at most {SEARCH_MAX_DISTANCE} bits, not {max_distance}"
        )
    distance = hamming_distance(
        col(ImageHash.phash), bindparam(None, to_int64(phash), type_=BigInteger)
    )
    band_columns = [ImageHash.__table__.c[f"phash_band{k}"] for k in range(BANDS)]  # type: ignore[attr-defined]
    return union_all(
        *(
            select(col(ImageHash.asset_id), distance.label("distance")).where(
                one_of(column, sorted({value ^ flip for flip in _flips(radius)})),
                distance <= max_distance,
            )
            for column, value, radius in zip(
                band_columns, phash_bands(phash), band_radii(max_distance), strict=True
            )
            if radius >= 0
        )
    )


def similar_to_asset(
    *, session: Session, asset_id: uuid.UUID, max_distance: int = PHASH_MAX_DISTANCE
) -> list[Similar]:
    """Rank the other images near this asset's image; empty when it has no hashes."""
    hashes = session.get(ImageHash, asset_id)
    if hashes is None:
        return []
    return [
        similar
        for similar in find_similar(
            session=session, phash=from_int64(hashes.phash), max_distance=max_distance
        )
        if similar.asset_id != asset_id
    ]


def link_near_duplicates(
    *, session: Session, asset_id: uuid.UUID, max_distance: int = PHASH_MAX_DISTANCE
) -> list[Similar]:
    """Record links from an image to the existing images within the threshold."""
    session.execute(
        delete(AssetLink).where(
            col(AssetLink.asset_id) == asset_id, col(AssetLink.relation) == NEAR_DUPLICATE
        )
    )
    similar = similar_to_asset(session=session, asset_id=asset_id, max_distance=max_distance)
    session.add_all(
        AssetLink(
            asset_id=asset_id,
            other_id=other.asset_id,
            relation=NEAR_DUPLICATE,
            distance=other.distance,
        )
        for other in similar
    )
    return similar
