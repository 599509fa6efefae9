"""How typed parameters read as forms in the Prefect UI.

The UI renders each field of a parameter's JSON schema: a plain ``str`` as a
text box, ``str | None`` as a choice between "string" and "null" that a person
has to toggle first (so optional text is ``str = ""``, empty meaning unset). It
orders fields by their ``position`` and otherwise as the schema lists them;
a Prefect server on PostgreSQL stores schemas as JSONB, which sorts an object's
keys by length, so the order must be carried by ``position``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, TypeAdapter, WithJsonSchema


def number_fields(schema: dict[str, Any]) -> None:
    """Give every property of a model's JSON schema its position, in declaration order.

    For ``model_config = ConfigDict(json_schema_extra=number_fields)``.
    """
    for position, field in enumerate(schema.get("properties", {}).values()):
        field.setdefault("position", position)


def titled(title: str) -> Any:
    """Title a flow parameter for people: Prefect titles a parameter by its name.

    For ``Annotated[str, titled("Job id")]``; the description comes from the
    flow's docstring (``Args:``).
    """
    return Field(json_schema_extra={"title": title})


def form_of(model: Any, texts: Mapping[str, tuple[str, str]]) -> WithJsonSchema:
    """Show ``model`` as a form whose fields have these (title, description)s, in order.

    For a model defined elsewhere, whose field names are a programmer's
    (``fmt``, ``fragment_s``): ``Annotated[ImageOptions, form_of(ImageOptions, {...})]``.
    Validation is the model's own; only its JSON schema is dressed. A field
    without texts keeps pydantic's title and description.
    """
    schema = TypeAdapter(model).json_schema()
    if "$defs" in schema:
        raise TypeError(f"{model.__name__} nests models; give each its own form_of")
    for position, (name, field) in enumerate(schema.get("properties", {}).items()):
        if name in texts:
            field["title"], field["description"] = texts[name]
        field["position"] = position
    return WithJsonSchema(schema)
