"""Choose a poster among candidate frames: one that is neither black, blown out nor blank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageStat

# Luma (0-255, full range as the JPEGs hold it). ffmpeg's blackframe filter calls
# a pixel black below 32; a frame whose mean is under 24 is black or a fade.
BLACK_MAX_MEAN = 24.0
WHITE_MIN_MEAN = 240.0
# A flat card (one colour, a slate) has almost no spread; testsrc2 has ~70, a
# dim real scene still has 20+.
BLANK_MAX_STDDEV = 8.0
# Statistics on a thumbnail are as telling as on the full frame, and cheaper.
_STATS_SIZE = (64, 64)


@dataclass(frozen=True)
class FrameStats:
    """Luma mean and standard deviation of one frame."""

    mean: float
    stddev: float

    @property
    def usable(self) -> bool:
        """Tell whether the frame shows something: not black, not white, not flat."""
        return BLACK_MAX_MEAN < self.mean < WHITE_MIN_MEAN and self.stddev > BLANK_MAX_STDDEV


def frame_stats(path: Path) -> FrameStats:
    """Measure a frame's luma on a small copy of it."""
    with Image.open(path) as image:
        image.draft("L", _STATS_SIZE)  # JPEG shrink-on-load
        luma = image.convert("L")
        luma.thumbnail(_STATS_SIZE)
        stat = ImageStat.Stat(luma)
    return FrameStats(mean=stat.mean[0], stddev=stat.stddev[0])


def choose_poster(candidates: Sequence[Path]) -> Path:
    """Pick the first usable candidate after the opening frame, else the least blank one.

    `candidates` are in time order; the opening frame (often a fade from black
    or a title) is the last resort among the usable ones.
    """
    if not candidates:
        raise ValueError("no poster candidates")
    ordered = [*candidates[1:], candidates[0]]
    stats = {path: frame_stats(path) for path in ordered}
    usable = [path for path in ordered if stats[path].usable]
    if usable:
        return usable[0]
    return max(ordered, key=lambda path: stats[path].stddev)
