"""Search by likeness: images that look like an asset's, assets a clip was cut from.

Both are thin calls to the searches the CLI's ``similar`` and ``match`` use
(models/similarity.py, tasks/audio/matching.py), so a faster index there is
the API's too. Deleted assets are left out of the answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.uploads import multipart_body, receive_file
from core.errors import PermanentError
from core.phash import PHASH_MAX_DISTANCE
from models.db import new_session
from models.fingerprints import SqlFingerprintIndex
from models.similarity import similar_to_asset
from models.tables import Asset, AssetStatus
from tasks.audio.matching import Match, match_clip

router = APIRouter(tags=["search"])

CLIP_FIELD = "clip"


class SimilarImage(BaseModel):
    """An image that looks like the one asked about: how many of the 64 hash bits differ."""

    object: Literal["similar_image"] = "similar_image"
    asset_id: uuid.UUID
    distance: int


class SimilarPage(BaseModel):
    """The images near an asset's image, nearest first."""

    data: list[SimilarImage]


class ClipMatch(BaseModel):
    """An asset a clip was cut from: where in it the clip starts, and how well they agree (0-1)."""

    object: Literal["match"] = "match"
    asset_id: uuid.UUID
    offset_s: float
    score: float


class MatchPage(BaseModel):
    """The assets a clip comes from, best first; empty when none agrees well enough."""

    data: list[ClipMatch]


def _deleted(session: Session, asset_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    if not asset_ids:
        return set()
    rows = session.exec(
        select(Asset.id).where(
            col(Asset.id).in_(list(asset_ids)), Asset.status == AssetStatus.DELETED
        )
    )
    return set(rows)


@router.get(
    "/assets/{asset_id}/similar",
    response_model=SimilarPage,
    dependencies=[Depends(require(Scope.ASSETS))],
    responses={404: {"model": ErrorBody}},
)
def similar_images(
    asset_id: uuid.UUID,
    session: DbSession,
    max_distance: Annotated[
        int, Query(ge=0, le=64, description="Most hash bits that may differ")
    ] = PHASH_MAX_DISTANCE,
) -> SimilarPage:
    """List the images that look like this asset's image, nearest first (empty if not an image)."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.status == AssetStatus.DELETED:
        raise ApiError(404, "asset not found")
    found = similar_to_asset(session=session, asset_id=asset_id, max_distance=max_distance)
    gone = _deleted(session, [other.asset_id for other in found])
    return SimilarPage(
        data=[
            SimilarImage(asset_id=other.asset_id, distance=other.distance)
            for other in found
            if other.asset_id not in gone
        ]
    )


def _match(engine: Engine, clip: Path, top: int) -> list[Match]:
    with new_session(engine) as session:
        try:
            matches = match_clip(clip, index=SqlFingerprintIndex(session), top=top)
        except PermanentError as exc:
            raise ApiError(422, f"the clip cannot be matched: {exc}", field=CLIP_FIELD) from exc
        gone = _deleted(session, {uuid.UUID(found.asset_id) for found in matches})
    return [found for found in matches if uuid.UUID(found.asset_id) not in gone]


@router.post(
    "/match",
    response_model=MatchPage,
    dependencies=[Depends(require(Scope.ASSETS))],
    responses={413: {"model": ErrorBody, "description": "The clip is larger than the limit"}},
    openapi_extra=multipart_body(CLIP_FIELD, "An audio or video clip"),
)
async def match(
    request: Request,
    context: Context,
    top: Annotated[int, Query(ge=1, le=100, description="How many assets to list")] = 5,
) -> MatchPage:
    """Find the assets an uploaded clip was cut from, with the clip's offset in each."""
    settings = context.settings
    clip = await receive_file(
        request,
        field=CLIP_FIELD,
        directory=settings.temp_dir,
        max_bytes=settings.api_max_clip_bytes,
    )
    try:
        matches = await anyio.to_thread.run_sync(_match, context.engine, clip, top)
    finally:
        clip.unlink(missing_ok=True)
    return MatchPage(
        data=[
            ClipMatch(asset_id=uuid.UUID(m.asset_id), offset_s=m.offset_s, score=m.score)
            for m in matches
        ]
    )
