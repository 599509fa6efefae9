"""Keyframe map geometry: the sampling interval, the sprite grid, the cues and their WebVTT.

Pure arithmetic, no ffmpeg: `commands.sprite_chain` turns a plan into filters,
and `render_vtt` writes the index web players read (`sheet.jpg#xywh=x,y,w,h`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.video.renditions import Rendition


@dataclass(frozen=True)
class Cue:
    """One interval of the video and the tile that shows it."""

    start_s: float
    end_s: float
    sheet_index: int
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class KeyframePlan:
    """Where frames are sampled and where each lands in the sprite sheets."""

    interval_s: float
    frame_count: int
    frame_width: int
    frame_height: int
    columns: int
    rows: int
    cues: tuple[Cue, ...]

    @property
    def frames_per_sheet(self) -> int:
        """Return how many tiles one sheet holds."""
        return self.columns * self.rows

    @property
    def sheet_count(self) -> int:
        """Return how many sheets the frames fill (the last one may be partly black)."""
        return math.ceil(self.frame_count / self.frames_per_sheet)

    @property
    def sheet_size(self) -> tuple[int, int]:
        """Return every sheet's width and height in pixels."""
        return self.columns * self.frame_width, self.rows * self.frame_height


@dataclass(frozen=True)
class KeyframeMap:
    """A keyframe map on disk: its plan, its sheets and the WebVTT that indexes them."""

    plan: KeyframePlan
    sheets: tuple[Rendition, ...]
    vtt: Path


def plan_keyframes(
    duration_s: float,
    display_width: int,
    display_height: int,
    *,
    frame_width: int = 160,
    columns: int = 10,
    rows: int = 10,
    max_frames: int = 160,
    min_interval_s: float = 0.5,
) -> KeyframePlan:
    """Sample every max(min_interval_s, duration/max_frames) seconds into a columns x rows grid."""
    if duration_s <= 0 or display_width <= 0 or display_height <= 0:
        raise ValueError(f"no keyframes for {duration_s} s at {display_width}x{display_height}")
    # Whole milliseconds, rounded up so the count never passes max_frames; the
    # ffmpeg fps filter then samples at exactly 1000/interval_ms frames a second.
    interval_ms = math.ceil(max(min_interval_s, duration_s / max_frames) * 1000)
    duration_ms = max(1, round(duration_s * 1000))
    frame_count = max(1, math.ceil(duration_ms / interval_ms))
    frame_height = max(2, round(frame_width * display_height / display_width / 2) * 2)
    # A short video gets a small sheet instead of a mostly black 10x10 one.
    columns = min(columns, frame_count)
    rows = min(rows, math.ceil(frame_count / columns))
    per_sheet = columns * rows
    cues = tuple(
        Cue(
            start_s=k * interval_ms / 1000,
            end_s=min((k + 1) * interval_ms, duration_ms) / 1000,
            sheet_index=k // per_sheet,
            x=(k % per_sheet) % columns * frame_width,
            y=(k % per_sheet) // columns * frame_height,
            w=frame_width,
            h=frame_height,
        )
        for k in range(frame_count)
    )
    return KeyframePlan(
        interval_s=interval_ms / 1000,
        frame_count=frame_count,
        frame_width=frame_width,
        frame_height=frame_height,
        columns=columns,
        rows=rows,
        cues=cues,
    )


def render_vtt(plan: KeyframePlan, sheet_urls: Sequence[str]) -> str:
    """Write the WebVTT thumbnail track: one cue per interval, `url#xywh=x,y,w,h`."""
    if len(sheet_urls) != plan.sheet_count:
        raise ValueError(f"{plan.sheet_count} sheets in the plan, {len(sheet_urls)} URLs given")
    blocks = ["WEBVTT"]
    for cue in plan.cues:
        blocks.append(
            f"{_timestamp(cue.start_s)} --> {_timestamp(cue.end_s)}\n"
            f"{sheet_urls[cue.sheet_index]}#xywh={cue.x},{cue.y},{cue.w},{cue.h}"
        )
    return "\n\n".join(blocks) + "\n"


def _timestamp(seconds: float) -> str:
    """Format seconds as WebVTT's HH:MM:SS.mmm."""
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"
