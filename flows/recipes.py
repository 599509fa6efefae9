"""The per-kind recipes: which derivation steps run for an asset of each kind.

A recipe is data, a list of step names per kind, so a setting or a flow
parameter can change it; a step is a plain function that runs its Prefect
task(s) on the fetched original and records what they made in the graph.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from core.settings import Settings
from models.tables import AssetKind


@dataclass(frozen=True)
class DeriveContext:
    """What a derivation step gets: the asset, its local original and where to work."""

    settings: Settings
    engine: Engine
    asset_id: uuid.UUID
    kind: AssetKind
    original: Path
    original_sha256: str
    work_dir: Path


DeriveStep = Callable[[DeriveContext], None]

# Documents and other files are stored and recorded with their type; no derivatives.
DEFAULT_RECIPES: Mapping[AssetKind, Sequence[str]] = {
    AssetKind.IMAGE: (),
    AssetKind.VIDEO: (),
    AssetKind.AUDIO: (),
    AssetKind.DOCUMENT: (),
    AssetKind.OTHER: (),
}

STEPS: Mapping[str, DeriveStep] = {}


def run_recipe(
    context: DeriveContext, recipes: Mapping[AssetKind, Sequence[str]] = DEFAULT_RECIPES
) -> None:
    """Run every step of the recipe for the asset's kind, in order."""
    for name in recipes[context.kind]:
        STEPS[name](context)
