"""The per-kind recipes: which derivation steps run for an asset of each kind.

A recipe is data: the steps per kind and each step's options, one typed
model that a flow parameter (and so the Prefect UI form) can change. A step
is a plain function that runs its Prefect task(s) on the fetched original and
records what they made in the graph, skipping work whose recipe and source
are unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from flows.derivation import DeriveContext
from flows.derive_audio import audio_step
from flows.derive_image import image_step
from flows.derive_video import probe_step, video_step
from models.tables import AssetKind
from tasks.audio.derive import AudioOptions
from tasks.images.process import ImageOptions
from tasks.video import VideoOptions

StepName = Literal["probe", "image", "video", "audio"]


class RecipeOptions(BaseModel):
    """Which steps run for each kind, and the options of each step."""

    image: list[StepName] = Field(default=["image"], description="Steps for images")
    video: list[StepName] = Field(
        default=["probe", "video", "audio"], description="Steps for videos"
    )
    audio: list[StepName] = Field(default=["probe", "audio"], description="Steps for audio")
    image_options: ImageOptions = Field(default_factory=ImageOptions)
    video_options: VideoOptions = Field(default_factory=VideoOptions)
    audio_options: AudioOptions = Field(default_factory=AudioOptions)

    def steps_for(self, kind: AssetKind) -> list[StepName]:
        """Name the steps that run for an asset of this kind (none for documents and others)."""
        return {
            AssetKind.IMAGE: self.image,
            AssetKind.VIDEO: self.video,
            AssetKind.AUDIO: self.audio,
        }.get(kind, [])


def run_recipe(context: DeriveContext, recipe: RecipeOptions) -> None:
    """Run every step of the recipe for the asset's kind, in order."""
    for step in recipe.steps_for(context.kind):
        if step == "probe":
            probe_step(context)
        elif step == "image":
            image_step(context, recipe.image_options)
        elif step == "video":
            video_step(context, recipe.video_options)
        elif step == "audio":
            audio_step(context, recipe.audio_options)
