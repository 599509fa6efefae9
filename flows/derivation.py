"""What a derivation step gets and the bookkeeping every step shares."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic_core import to_jsonable_python
from sqlalchemy import Engine
from sqlmodel import select

from core.settings import Settings
from models.db import new_session
from models.tables import AssetKind, Format


@dataclass(frozen=True)
class DeriveContext:
    """The asset being derived, its local original and where to work."""

    settings: Settings
    engine: Engine
    asset_id: uuid.UUID
    kind: AssetKind
    original: Path
    original_sha256: str
    work_dir: Path


def recipe_key(step: str, options: object, source_sha256: str) -> str:
    """Digest the step, its options and the source content: what decides its output.

    A format recorded with this key was made by the same recipe from the same
    bytes, so a re-run may skip the step.
    """
    recipe = {"step": step, "options": to_jsonable_python(options), "source": source_sha256}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def already_derived(context: DeriveContext, key: str) -> bool:
    """Tell whether the asset holds a format made with this recipe key."""
    with new_session(context.engine) as session:
        found = session.exec(
            select(Format.id)
            .where(Format.asset_id == context.asset_id, Format.recipe_key == key)
            .limit(1)
        ).first()
    return found is not None
