"""Who may call a route: an API key with the route's scope.

Sent as ``Authorization: Bearer KEY`` or ``X-API-KEY: KEY``. No key, or one
unknown or revoked: 401. A key without the scope: 403 naming the scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.context import Context
from api.errors import ApiError
from api.keys import Scope, verify_key
from models.db import new_session
from models.tables import ApiKey

# auto_error off: a missing key answers in the API's error shape, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY")
_header = APIKeyHeader(name="X-API-KEY", auto_error=False, description="X-API-KEY: KEY")

NO_KEY = "a valid API key is needed: send it as 'Authorization: Bearer KEY' or 'X-API-KEY: KEY'"


def _caller(
    context: Context,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise ApiError(401, NO_KEY)
    with new_session(context.engine) as session:
        row = verify_key(session=session, key=key.strip())
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
