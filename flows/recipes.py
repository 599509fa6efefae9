"""The per-kind recipes: which derivation steps run for an asset of each kind.

A recipe is data: the steps per kind and each step's options, one typed
model that a flow parameter (and so the Prefect UI form) can change. A step
is a plain function in ``STEPS`` that runs its Prefect task(s) on the fetched
original and records what they made in the graph. ``run_recipe`` skips a step
whose recipe key (its options and the source's bytes) is already recorded,
and probes the original once for the steps that read its streams.

To add a step: a name in ``StepName``, a list default in ``RecipeOptions``
for the kinds that take it (and its options model, if any), and a line in
``STEPS``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from prefect import get_run_logger
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from sqlmodel import select

from core.forms import form_of, number_fields
from core.kinds import AssetKind
from flows.derive_audio import audio_step
from flows.derive_image import image_step
from flows.derive_video import probe_task, record_probe, video_step
from flows.runtime import DeriveContext
from models.db import transact
from models.tables import Format
from tasks.audio.derive import AudioOptions
from tasks.images.process import ImageOptions
from tasks.video import VideoOptions

StepName = Literal["probe", "image", "video", "audio"]

# The options' fields as the Prefect UI form shows them: (title, help).
IMAGE_FORM = {
    "edges": ("Sizes (px)", "The longest edge of each size; an image is never upscaled"),
    "fmt": ("Format", "How the sizes are encoded: webp, jpeg or avif"),
    "quality": ("Quality", "Encoder quality of the sizes, 1 to 100"),
    "max_pixels": ("Most pixels", "Images with more pixels than this are refused"),
    "max_decoded_bytes": (
        "Most memory per decode",
        "Images whose decoded pixels would need more bytes than this are refused",
    ),
    "blurhash_components": (
        "Placeholder detail",
        "BlurHash components across and down, 1 to 9 each",
    ),
}
VIDEO_FORM = {
    "proxy": ("Proxy", "The web proxy: 720p (3 Mb/s) or 1080p (6 Mb/s) H.264 in MP4"),
    "preset": ("Encoder preset", "x264 preset of the proxy: faster encodes, slower compresses"),
    "sprite_width": ("Keyframe width (px)", "The width of each frame of the keyframe map"),
    "sprite_columns": ("Sheet columns", "Frames across one sprite sheet"),
    "sprite_rows": ("Sheet rows", "Frames down one sprite sheet"),
    "max_sprite_frames": ("Most keyframes", "Longer videos space their keyframes further apart"),
    "min_sprite_interval_s": ("Keyframe spacing (s)", "The least time between two keyframes"),
    "poster_positions": (
        "Poster candidates",
        "Where poster frames are tried, as fractions of the duration; black ones are passed over",
    ),
    "time_limit_s_per_mib": (
        "Time limit per MiB (s)",
        "The transcode may take this long for each MiB of the video file, on top of the least",
    ),
    "min_time_limit_s": ("Least time limit (s)", "The transcode may take at least this long"),
    "time_limit_s": ("Time limit (s)", "Empty: from the file's size, as above"),
}
AUDIO_FORM = {
    "fragment_s": ("Fragment length (s)", "The audio is cut into fragments this long"),
    "codec": ("Fragment codec", "How the fragments are encoded: opus or aac"),
    "bitrate": ("Fragment bit rate", "For example 48k"),
    "normalizer": ("Loudness filter", "loudnorm (EBU R128) or dynaudnorm"),
    "samples_per_pixel": (
        "Waveform zoom",
        "Audio samples per waveform point; empty: about 1,500 points per track",
    ),
    "waveform_bits": ("Waveform bits", "8 or 16 bits per waveform point"),
}


class RecipeOptions(BaseModel):
    """Which steps run for each kind, and the options of each step."""

    model_config = ConfigDict(frozen=True, json_schema_extra=number_fields)

    image: list[StepName] = Field(
        default=["image"], title="Image steps", description="Steps for images, in order"
    )
    video: list[StepName] = Field(
        default=["probe", "video", "audio"],
        title="Video steps",
        description="Steps for videos, in order",
    )
    audio: list[StepName] = Field(
        default=["probe", "audio"], title="Audio steps", description="Steps for audio, in order"
    )
    image_options: Annotated[ImageOptions, form_of(ImageOptions, IMAGE_FORM)] = Field(
        default_factory=ImageOptions,
        title="Image options",
        description="Sizes, their encoding, the pixel limit",
    )
    video_options: Annotated[VideoOptions, form_of(VideoOptions, VIDEO_FORM)] = Field(
        default_factory=VideoOptions,
        title="Video options",
        description="Proxy profile, sprite sheets, poster, time limits",
    )
    audio_options: Annotated[AudioOptions, form_of(AudioOptions, AUDIO_FORM)] = Field(
        default_factory=AudioOptions,
        title="Audio options",
        description="Fragments, their encoding, the waveform",
    )
    document: list[StepName] = Field(
        default=["image"],
        title="Document steps",
        description="Steps for documents (a PDF's first page, an SVG), in order",
    )

    def steps_for(self, kind: AssetKind) -> list[StepName]:
        """Name the steps that run for an asset of this kind (none for others)."""
        return {
            AssetKind.IMAGE: self.image,
            AssetKind.VIDEO: self.video,
            AssetKind.AUDIO: self.audio,
            AssetKind.DOCUMENT: self.document,
        }.get(kind, [])


@dataclass(frozen=True)
class RecipeStep:
    """One step of the table: what it does, and what it reads."""

    # Derive and record: (context, the step's options, its recipe key).
    derive: Callable[[DeriveContext, Any, str], None]
    # The RecipeOptions field holding the step's options; None: it has none.
    options: str | None = None
    # Whether it reads the original's streams (DeriveContext.probe).
    needs_probe: bool = False

    def options_of(self, recipe: RecipeOptions) -> object:
        """Return this step's options in the recipe."""
        return None if self.options is None else getattr(recipe, self.options)


STEPS: dict[StepName, RecipeStep] = {
    "probe": RecipeStep(record_probe, needs_probe=True),
    "image": RecipeStep(image_step, options="image_options"),
    "video": RecipeStep(video_step, options="video_options", needs_probe=True),
    "audio": RecipeStep(audio_step, options="audio_options", needs_probe=True),
}


def run_recipe(context: DeriveContext, recipe: RecipeOptions) -> None:
    """Run every step of the recipe for the asset's kind, in order, skipping current ones."""
    logger = get_run_logger()
    due: list[tuple[RecipeStep, object, str]] = []
    for name in recipe.steps_for(context.kind):
        entry = STEPS[name]
        options = entry.options_of(recipe)
        key = recipe_key(name, options, context.original_sha256)
        if already_derived(context, key):
            logger.info("%s derivatives are current; skipping", name)
        else:
            due.append((entry, options, key))
    if any(entry.needs_probe for entry, _, _ in due):
        probe = probe_task.run(context.mode, context.original)
        context = dataclasses.replace(context, probe=probe)
    for entry, options, key in due:
        entry.derive(context, options, key)


def recipe_key(step: str, options: object, source_sha256: str) -> str:
    """Digest the step, its options and the source content: what decides its output.

    A format recorded with this key was made by the same recipe from the same
    bytes, so a re-run may skip the step.
    """
    recipe = {"step": step, "options": to_jsonable_python(options), "source": source_sha256}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def already_derived(context: DeriveContext, key: str) -> bool:
    """Tell whether the asset holds a format made with this recipe key."""
    found = transact(
        context.engine,
        lambda session: session.exec(
            select(Format.id)
            .where(Format.asset_id == context.asset_id, Format.recipe_key == key)
            .limit(1)
        ).first(),
        describe="reading the recorded formats",
    )
    return found is not None
