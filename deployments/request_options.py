"""The command line's arguments for an AssetRequest, made from the model's own fields.

``ingest`` and ``submit`` take the same ones: the source as an argument, every
other field as an option with the field's description as its help (a list
field as a repeatable singular option: ``--tag a --tag b``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic.fields import FieldInfo

from core.requests import AssetRequest


def _parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    """Return the command-line parameter for one field of the request."""
    kind = inspect.Parameter.KEYWORD_ONLY
    annotation: Any = field.annotation
    if field.is_required():
        argument = Annotated[annotation, typer.Argument(help=field.description)]
        return inspect.Parameter(name, kind, annotation=argument)
    if annotation == list[str]:
        repeated = typer.Option(
            f"--{name.removesuffix('s')}", help=f"{field.description}; repeat for more"
        )
        return inspect.Parameter(
            name, kind, annotation=Annotated[list[str] | None, repeated], default=None
        )
    option = Annotated[annotation, typer.Option(help=field.description)]
    return inspect.Parameter(name, kind, annotation=option, default=field.get_default())


REQUEST_PARAMETERS = [_parameter(name, field) for name, field in AssetRequest.model_fields.items()]


def takes_request(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the request's fields as arguments; it is called with ``request=``.

    Its own parameters (other than ``request``) follow the request's.
    """
    own = [
        parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for parameter in inspect.signature(command, eval_str=True).parameters.values()
        if parameter.name != "request"
    ]

    @functools.wraps(command)
    def with_request(**values: Any) -> None:
        given = {name: values.pop(name) for name in AssetRequest.model_fields}
        request = AssetRequest(
            **{name: value for name, value in given.items() if value is not None}
        )
        command(request=request, **values)

    # Typer reads the parameters from the signature.
    with_request.__signature__ = inspect.Signature([*REQUEST_PARAMETERS, *own])  # type: ignore[attr-defined]
    with_request.__annotations__ = {}
    return with_request
