"""The compatibility families' error shape: ``{"error": "<sentence>"}`` and nothing else.

    BareErrorRoute     a route class: any error its routes answer loses every key but "error",
                       and a body that fails its model is worded as the reference services word it
    parameter_error    that wording for one failed field
    invalid_parameter  the 422 of a rule a route checks itself, in that wording

The wording (a Grape API's): ``Missing parameter title``, ``Invalid parameter
'media_type' value "image": Must be one of: <code>article</code>.``, ``Must be
a String``, ``Must be an array of String``, ``Must be a Hash``; a nested field
is named ``url[file_url]``. The native API keeps its own shape (api/errors.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.errors import ApiError, answer_error

# Where a request field sits, as FastAPI names it: not part of the parameter's name.
_LOCATIONS = {"body", "query", "path", "header"}
# Pydantic's error types, as the rule a value broke.
_RULES = {
    "string_type": "Must be a String",
    "list_type": "Must be an array of String",
    "dict_type": "Must be a Hash",
    "model_type": "Must be a Hash",
    "model_attributes_type": "Must be a Hash",
}
# Headers of the reshaped answer that describe its old body.
_BODY_HEADERS = {"content-length", "content-type"}


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _named(location: Sequence[Any]) -> str:
    first, *rest = [str(part) for part in location]
    return first + "".join(f"[{part}]" for part in rest)


def _value_at(body: Any, location: Sequence[Any]) -> Any:
    for part in location:
        body = body[part]
    return body


def _rule(error: dict[str, Any], item: bool) -> str:
    kind = str(error.get("type"))
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        return "Must be one of: " + ", ".join(f"<code>{c}</code>" for c in choices) + "."
    if kind == "string_type" and item:
        return _RULES["list_type"]
    if kind in _RULES:
        return _RULES[kind]
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


def invalid_parameter(name: str, value: Any, rule: str) -> ApiError:
    """Return the 422 of a value that breaks a rule the body's model cannot state."""
    return ApiError(422, f"Invalid parameter '{name}' value {_shown(value)}: {rule}")


def parameter_error(error: dict[str, Any], body: Any) -> str:
    """Say what is wrong with one field, naming it as the reference does."""
    location = [part for part in error.get("loc", ()) if part not in _LOCATIONS]
    if error.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    if not location:
        return "the request body must be a JSON object"
    if error.get("type") == "missing":
        return f"Missing parameter {_named(location)}"
    # An item of a list is the list's fault: the parameter is the list.
    item = isinstance(location[-1], int)
    parameter = location[:-1] if item else location
    try:
        value = _value_at(body, parameter)
    except (KeyError, IndexError, TypeError):
        value = error.get("input")
    return invalid_parameter(_named(parameter), value, _rule(error, item)).error


class BareErrorRoute(APIRoute):
    """A route whose every error answers ``{"error": sentence}``, validation worded as Grape's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def bare(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                errors = list(exc.errors())
                sentence = parameter_error(errors[0], exc.body) if errors else "invalid request"
                return JSONResponse(status_code=422, content={"error": sentence})
            except Exception as exc:
                answer = await answer_error(request, exc)
                headers = {
                    name: value
                    for name, value in answer.headers.items()
                    if name not in _BODY_HEADERS
                }
                sentence = json.loads(bytes(answer.body))["error"]
                return JSONResponse(
                    status_code=answer.status_code, content={"error": sentence}, headers=headers
                )

        return bare
