"""How typed parameters read as forms in the Prefect UI.

The UI renders each field of a parameter's JSON schema: a plain ``str`` as a
text box, ``str | None`` as a choice between "string" and "null" that a person
has to toggle first (so optional text is ``str = ""``, empty meaning unset). It
orders fields by their ``position`` and otherwise as the schema lists them;
a Prefect server on PostgreSQL stores schemas as JSONB, which sorts an object's
keys by length, so the order must be carried by ``position``.
"""

from __future__ import annotations

from typing import Any


def number_fields(schema: dict[str, Any]) -> None:
    """Give every property of a model's JSON schema its position, in declaration order.

    For ``model_config = ConfigDict(json_schema_extra=number_fields)``.
    """
    for position, field in enumerate(schema.get("properties", {}).values()):
        field.setdefault("position", position)
