"""Who may call a route: an API key with the route's scope.

Sent as ``Authorization: Bearer KEY`` or ``X-API-KEY: KEY``. No key, or one
unknown or revoked: 401. A key without the scope: 403 naming the scope.

The web library's pages, images and videos are fetched by the browser itself,
which cannot add a header to an ``<img>`` or a ``<video>``: for those the key
the person typed into the library's sign-in form rides in a session cookie
(``KEY_COOKIE``: HttpOnly, SameSite=Strict, no expiry). The cookie is read for
GET and HEAD only, so it can never change anything: a write needs the header,
which a page of another site cannot send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.context import Context
from api.errors import ApiError
from api.keys import Scope, verify_key
from models.db import new_session
from models.tables import ApiKey

# auto_error off: a missing key answers in the API's error shape, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY")
_header = APIKeyHeader(name="X-API-KEY", auto_error=False, description="X-API-KEY: KEY")

KEY_COOKIE = "assetflow_key"
_COOKIE_METHODS = frozenset({"GET", "HEAD"})

NO_KEY = "a valid API key is needed: send it as 'Authorization: Bearer KEY' or 'X-API-KEY: KEY'"


def sent_key(request: Request) -> str | None:
    """Return the key a request carries: a header, or on a read the web library's cookie."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    header = request.headers.get("x-api-key", "").strip()
    if header:
        return header
    if request.method in _COOKIE_METHODS:
        return request.cookies.get(KEY_COOKIE, "").strip() or None
    return None


def _caller(
    request: Request,
    context: Context,
    # Declared for the OpenAPI security schemes; the key is read by ``sent_key``.
    _bearer_scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _header_scheme: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    key = sent_key(request)
    if not key:
        raise ApiError(401, NO_KEY)
    with new_session(context.engine) as session:
        row = verify_key(session=session, key=key)
    if row is None:
        raise ApiError(401, NO_KEY)
    return row


def require(scope: Scope) -> Callable[..., ApiKey]:
    """Return a dependency that lets through only a key holding ``scope``."""

    def check(caller: Annotated[ApiKey, Depends(_caller)]) -> ApiKey:
        if scope not in caller.scopes:
            raise ApiError(403, f"this key lacks the scope {scope.value!r}", scope=scope.value)
        return caller

    return check
