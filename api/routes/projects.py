"""Projects, and assets created in one (the project-assets contract)."""

from __future__ import annotations

import functools
import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.ingest import start_ingest, sync_wait_s, wait_for_task
from api.keys import Scope
from api.listing import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, newest_first
from api.routes.files import IdempotencyKey, PreferWait
from api.schemas import (
    AssetObject,
    ProjectAssetCreate,
    ProjectCreate,
    ProjectObject,
    ProjectPage,
    TaskObject,
)
from api.views import asset_object, original_md5s, project_object
from core.errors import IdentifierConflict
from core.requests import AssetRequest
from models import graph
from models.db import new_session
from models.tables import Asset, JobStatus, Project

router = APIRouter(tags=["projects"], dependencies=[Depends(require(Scope.ASSETS))])


@router.post(
    "/projects",
    status_code=201,
    response_model=ProjectObject,
    responses={409: {"model": ErrorBody}},
)
def create_project(body: ProjectCreate, session: DbSession, response: Response) -> ProjectObject:
    """Make a project; its name must be new."""
    name = body.name.strip()
    if not name:
        raise ApiError(422, "name must not be blank", field="name")
    project = Project(name=name, description=body.description)
    session.add(project)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiError(409, f"a project named {name!r} exists already", field="name") from exc
    response.headers["Location"] = f"/projects/{project.id}"
    return project_object(project)


@router.get("/projects", response_model=ProjectPage)
def list_projects(
    session: DbSession,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ProjectPage:
    """List projects, newest first."""
    rows, more = newest_first(
        session,
        select(Project),
        created=col(Project.created_at),
        row_id=col(Project.id),
        cursor=cursor,
        limit=limit,
    )
    last = rows[-1] if rows and more else None
    return ProjectPage(
        data=[project_object(project) for project in rows],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


@router.get(
    "/projects/{project_id}", response_model=ProjectObject, responses={404: {"model": ErrorBody}}
)
def get_project(project_id: uuid.UUID, session: DbSession) -> ProjectObject:
    """Show a project."""
    project = session.get(Project, project_id)
    if project is None:
        raise ApiError(404, "project not found")
    return project_object(project)


@router.post(
    "/projects/{project_id}/assets",
    status_code=201,
    response_model=AssetObject,
    responses={
        202: {"model": TaskObject, "description": "Media still ingesting after the wait"},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)
async def create_project_asset(
    project_id: uuid.UUID,
    body: ProjectAssetCreate,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    prefer: PreferWait = None,
) -> AssetObject | JSONResponse:
    """Create an asset in the project, from a URL, from S3, or with no media yet."""
    wait_s = sync_wait_s(context.settings.api_sync_timeout_s, prefer)
    if body.url is not None and body.s3 is not None:
        raise ApiError(422, "give url or s3, not both", field="s3")
    project = await anyio.to_thread.run_sync(_project, context, project_id)
    media = body.url or body.s3
    if media is None:
        asset = await anyio.to_thread.run_sync(_asset_without_media, context, project, body)
    else:
        source = body.url.file_url if body.url else body.s3.s3_key  # type: ignore[union-attr]
        request = AssetRequest.model_validate(
            body.model_dump(exclude={"url", "s3"})
            | {"source": source, "project": project.name, "filename": media.filename}
        )
        job = await anyio.to_thread.run_sync(
            functools.partial(start_ingest, context, request, idempotency_key=idempotency_key)
        )
        task = await wait_for_task(context, job.id, wait_s)
        if task.status == JobStatus.FAILED:
            raise ApiError(
                422, task.error or "the ingest failed", field="url", task_id=str(task.id)
            )
        if task.status != JobStatus.COMPLETED or task.asset_id is None:
            return JSONResponse(
                status_code=202,
                content=task.model_dump(mode="json"),
                headers={"Location": f"/tasks/{task.id}"},
            )
        asset = await anyio.to_thread.run_sync(_read_asset, context, task.asset_id, project)
    response.headers["Location"] = f"/assets/{asset.id}"
    return asset


def _project(context: Context, project_id: uuid.UUID) -> Project:
    with new_session(context.engine) as session:
        project = session.get(Project, project_id)
    if project is None:
        raise ApiError(404, "project not found")
    return project


def _asset_without_media(
    context: Context, project: Project, body: ProjectAssetCreate
) -> AssetObject:
    identifier = (body.identifier or "").strip() or f"asset-{uuid.uuid4()}"
    with new_session(context.engine) as session:
        try:
            asset = graph.create_asset(
                session=session,
                project=project,
                identifier=identifier,
                source="",
                title=body.title.strip(),
                description=body.description,
                category=body.category,
                tags=[tag.strip() for tag in body.tags if tag.strip()],
                external_id=body.external_id,
                folder=body.folder,
            )
        except IdentifierConflict as exc:
            raise ApiError(
                409,
                str(exc),
                field="identifier",
                existing_asset_id=str(exc.existing_id) if exc.existing_id else None,
            ) from exc
        session.commit()
        return asset_object(asset, project.name, None)


def _read_asset(context: Context, asset_id: uuid.UUID, project: Project) -> AssetObject:
    with new_session(context.engine) as session:
        asset = session.get_one(Asset, asset_id)
        return asset_object(asset, project.name, original_md5s(session, [asset_id]).get(asset_id))
