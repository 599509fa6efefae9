"""The one error shape: every non-2xx answer is ``{"error": "<sentence>", ...}``.

    ApiError               raised by a route: status, sentence, extra fields
    install_error_handlers makes FastAPI's own errors (404, 405, 422) and any
                           unexpected exception answer in that shape

An unexpected exception is logged with its traceback under an id that the
500 answer carries; the client never sees the trace.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from core.logs import get_logger

logger = get_logger("api")

# Where a request field sits, as FastAPI names it: dropped from the field's name.
_LOCATIONS = {"body", "query", "path", "header"}


class ErrorBody(BaseModel):
    """What every non-2xx answer holds: a sentence, and the field at fault where there is one."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None = None


class ApiError(Exception):
    """An answer other than success: its status, its sentence and any extra fields."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.extra = extra


def error_response(status: int, error: str, **extra: Any) -> JSONResponse:
    """Answer ``status`` with the error shape."""
    body = {"error": error, **{name: value for name, value in extra.items() if value is not None}}
    return JSONResponse(status_code=status, content=body)


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts)


def validation_sentence(error: dict[str, Any]) -> tuple[str, str | None]:
    """Say what is wrong with one field of a request, and name the field."""
    field = _field_name(tuple(error.get("loc", ()))) or None
    if error.get("type") == "missing":
        return f"Missing parameter {field}", field
    if error.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    if error.get("type") == "extra_forbidden":
        return f"Unknown parameter {field}", field
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return (f"{field}: {message}" if field else message), field


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, **exc.extra)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    sentence = exc.detail if isinstance(exc.detail, str) else "the request failed"
    response = error_response(exc.status_code, sentence.lower())
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    sentence, field = validation_sentence(errors[0]) if errors else ("invalid request", None)
    return error_response(422, sentence, field=field)


async def _unstorable_value(_request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the request carried (PostgreSQL: a NUL character
    # in text, a number out of range): the client's to fix, and the transaction is
    # rolled back, so nothing was half-written.
    assert isinstance(exc, DataError)
    reason = str(exc.orig or exc).strip().splitlines()[0]
    return error_response(422, f"a value in the request cannot be used: {reason}")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:16]
    logger.error(
        "internal error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc
    )
    return error_response(
        500,
        f"internal error: quote id {error_id} to find it in the server's log",
        error_id=error_id,
    )


_HANDLERS = (
    (ApiError, _api_error),
    (HTTPException, _http_error),
    (RequestValidationError, _invalid_request),
    (DataError, _unstorable_value),
    (Exception, _unexpected),
)


async def answer_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer an exception as the app's handlers do (for routes that reshape the answer)."""
    handler = next(handler for kind, handler in _HANDLERS if isinstance(exc, kind))
    return await handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app answers take the one error shape."""
    for kind, handler in _HANDLERS:
        app.add_exception_handler(kind, handler)
