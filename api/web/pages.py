"""The library's pages: the grid, an asset, the upload page, and signing in with a key.

    install(app)    mounts the pages, the static files and the sign-in handler

A page is the HTML twin of a JSON answer: the grid renders what ``GET
/assets`` answers for the same query, the asset page what ``GET
/assets/{id}``, ``GET /events`` and ``GET /assets/{id}/similar`` answer, by
calling those very route functions, and each links to its JSON. The person
signs in once per browser session: the key they type is checked and kept in
an HttpOnly session cookie, which the browser then sends with the page, its
images and its video (api/auth.py reads it for reads only); the page's
scripts keep the same key in sessionStorage for the calls that write (a tus
upload, a clip to match), which send it as a header.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import Scope as AsgiScope

from api.auth import KEY_COOKIE, sent_key
from api.context import Context, DbSession
from api.errors import ApiError
from api.keys import Scope, verify_key
from api.routes.assets import get_asset, list_assets
from api.routes.events import list_events
from api.routes.search import similar_images
from api.schemas import AssetDetail, AssetObject
from api.web.media import AssetMedia, Thumbnail, asset_media, thumbnails
from core.kinds import AssetKind
from core.phash import PHASH_MAX_DISTANCE
from models.db import new_session
from models.tables import ApiKey, AssetStatus

HERE = Path(__file__).parent
STATIC = HERE / "static"
# A library page: enough cards to fill a wide screen twice.
PAGE_SIZE = 48
# Static files named with their content's digest may be cached for a year.
IMMUTABLE = "public, max-age=31536000, immutable"

SIGN_IN_FIRST = "Sign in with an API key to see the library."
KEY_REFUSED = (
    "That key was not accepted: it is unknown or has been revoked. "
    "Ask whoever runs assetflow for a key ('assetflow keys create --name NAME --scope assets')."
)
KEY_LACKS_SCOPE = (
    "That key is valid but lacks the scope 'assets', which reading the library needs. "
    "Sign in with a key that holds it."
)

router = APIRouter(include_in_schema=False)


class SignInNeeded(Exception):
    """The request holds no key the library accepts: answer with the sign-in form and why."""

    def __init__(self, sentence: str, status_code: int) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.status_code = status_code


class _VersionedStatic(StaticFiles):
    """Static files; a URL carrying ``?v=<digest>`` of the file is cached for a year."""

    async def get_response(self, path: str, scope: AsgiScope) -> Response:
        response = await super().get_response(path, scope)
        if b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = IMMUTABLE
        return response


def _filesize(size: int | None) -> str:
    if size is None:
        return ""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


def _static_digests() -> dict[str, str]:
    return {
        path.relative_to(STATIC).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in STATIC.rglob("*")
        if path.is_file()
    }


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    digests = _static_digests()

    def static_url(name: str) -> str:
        return f"/static/{name}?v={digests[name]}"

    templates.env.globals["static_url"] = static_url
    templates.env.filters["filesize"] = _filesize
    return templates


TEMPLATES = _templates()


def reader(request: Request, session: DbSession) -> ApiKey:
    """Return the key the browser signed in with; ``SignInNeeded`` when there is none to accept.

    It reads in the page's own session (one connection per page).
    """
    key = sent_key(request)
    if not key:
        raise SignInNeeded(SIGN_IN_FIRST, 401)
    row = verify_key(session=session, key=key)
    if row is None:
        raise SignInNeeded(KEY_REFUSED, 401)
    if Scope.ASSETS not in row.scopes:
        raise SignInNeeded(KEY_LACKS_SCOPE, 403)
    return row


Reader = Annotated[ApiKey, Depends(reader)]


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)


def _sign_in_page(request: Request, sentence: str, status_code: int) -> HTMLResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _page(
        request, "signin.html", status_code, sentence=sentence, next=_local(target), signed_in=False
    )


def _local(target: str | None) -> str:
    """Keep a redirect target on this site: a path, never another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/signin", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
    """Ask for an API key."""
    return _page(request, "signin.html", sentence=None, next=_local(next), signed_in=False)


@router.post("/signin", response_class=HTMLResponse)
def sign_in(
    request: Request,
    context: Context,
    key: Annotated[str, Form(max_length=512)],
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Check the key; keep it in this browser session's cookie, or say why it is refused."""
    with new_session(context.engine) as session:
        row = verify_key(session=session, key=key.strip())
    if row is None:
        return _page(request, "signin.html", 401, sentence=KEY_REFUSED, next=_local(next))
    if Scope.ASSETS not in row.scopes:
        return _page(request, "signin.html", 403, sentence=KEY_LACKS_SCOPE, next=_local(next))
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        KEY_COOKIE,
        key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/signout")
def sign_out() -> Response:
    """Forget the key in this browser."""
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def library(
    request: Request,
    session: DbSession,
    _key: Reader,
    project: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    """The grid: one page of ``GET /assets`` with the same filters, and its thumbnails."""
    # A form leaves a field empty for "any": the API's query leaves it out.
    query = {
        name: value.strip()
        for name, value in (
            ("project", project),
            ("kind", kind),
            ("status", status),
            ("tag", tag),
            ("q", q),
        )
        if value and value.strip()
    }
    problem = None
    assets: list[AssetObject] = []
    next_cursor = None
    try:
        page = list_assets(
            session,
            project=query.get("project"),
            kind=AssetKind(query["kind"]) if "kind" in query else None,
            status=AssetStatus(query["status"]) if "status" in query else None,
            tag=query.get("tag"),
            q=query.get("q"),
            created_after=None,
            created_before=None,
            cursor=cursor,
            limit=PAGE_SIZE,
        )
        assets, next_cursor = page.data, page.next_cursor
    except ValueError as exc:  # a kind or status not in the lists
        problem = f"That filter is not one the library knows: {exc}."
    except ApiError as exc:
        problem = f"{exc.error[0].upper()}{exc.error[1:]}: start again from the first page."
    api_query = {**query, "limit": str(PAGE_SIZE), **({"cursor": cursor} if cursor else {})}
    return _page(
        request,
        "library.html",
        assets=assets,
        thumbs=thumbnails(session, [asset.id for asset in assets]),
        query=query,
        problem=problem,
        next_url=f"/?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"/?{urlencode(query)}" if cursor else None,
        json_url=f"/assets?{urlencode(api_query)}",
        kinds=[kind.value for kind in AssetKind],
        statuses=[s.value for s in AssetStatus if s != AssetStatus.DELETED],
        signed_in=True,
    )


@router.get("/library/{asset_id}", response_class=HTMLResponse)
def asset_page(
    request: Request, asset_id: uuid.UUID, session: DbSession, _key: Reader
) -> HTMLResponse:
    """One asset: its media, metadata, formats and files, jobs, events and look-alikes."""
    try:
        detail: AssetDetail = get_asset(asset_id, session)
    except ApiError as exc:
        return _page(request, "missing.html", exc.status, sentence=exc.error, signed_in=True)
    media: AssetMedia = asset_media(detail)
    events = list_events(session, after=0, type=None, asset_id=asset_id, limit=100)
    similar = (
        similar_images(asset_id, session, max_distance=PHASH_MAX_DISTANCE).data
        if detail.kind == AssetKind.IMAGE
        else []
    )
    similar_thumbs: dict[uuid.UUID, Thumbnail] = thumbnails(
        session, [found.asset_id for found in similar]
    )
    return _page(
        request,
        "asset.html",
        asset=detail,
        media=media,
        events=events.data,
        similar=similar,
        similar_thumbs=similar_thumbs,
        json_url=f"/assets/{asset_id}",
        signed_in=True,
    )


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, _key: Reader) -> HTMLResponse:
    """Drop files to upload them over tus, then follow each one's task."""
    return _page(request, "upload.html", signed_in=True)


def install(app: FastAPI) -> None:
    """Serve the library's pages at ``/`` and its static files at ``/static``."""

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return _sign_in_page(request, exc.sentence, exc.status_code)

    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.mount("/static", _VersionedStatic(directory=STATIC), name="static")
    app.include_router(router)
