"""Waveform peaks in BBC audiowaveform's JSON layout (version 2), as peaks.js and wavesurfer read.

``PeakMeter`` takes mono signed 16-bit PCM in blocks of any size, as the one
decode (tasks/audio/decode.py) hands it on, and keeps only the min/max pairs,
so memory stays bounded whatever the track's length.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

# About this many min/max pairs for a whole track: enough for a full-width
# overview in a browser, small enough to ship with the asset (~10 KB at 8 bits).
TARGET_PIXELS = 1500
# audiowaveform's own default zoom; no finer than this, so a short clip keeps
# a sensible number of points instead of one per sample.
MIN_SAMPLES_PER_PIXEL = 256


@dataclass(frozen=True)
class Waveform:
    """A written peaks file and its geometry."""

    path: Path
    sample_rate: int
    samples_per_pixel: int
    bits: int
    length: int


def auto_samples_per_pixel(duration_s: float, sample_rate: int) -> int:
    """Return a zoom that gives about ``TARGET_PIXELS`` points for the whole track."""
    total = duration_s * sample_rate
    return max(MIN_SAMPLES_PER_PIXEL, math.ceil(total / TARGET_PIXELS))


class PeakMeter:
    """The min and max of each ``samples_per_pixel`` samples of s16le PCM fed to it."""

    def __init__(self, samples_per_pixel: int) -> None:
        self.samples_per_pixel = samples_per_pixel
        self._pairs: list[np.ndarray] = []
        # The pixel still open at the end of the last block: its min, max and sample count.
        self._low, self._high, self._count = 0, 0, 0

    def feed(self, pcm: bytes) -> None:
        """Take the next block of whole samples."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._count:
            head = samples[: self.samples_per_pixel - self._count]
            samples = samples[head.size :]
            self._extend(head)
            if self._count == self.samples_per_pixel:
                self._close()
        whole = samples.size // self.samples_per_pixel * self.samples_per_pixel
        if whole:
            pixels = samples[:whole].reshape(-1, self.samples_per_pixel)
            self._pairs.append(np.stack([pixels.min(axis=1), pixels.max(axis=1)], axis=1))
        self._extend(samples[whole:])

    def peaks(self) -> np.ndarray:
        """Return [min0, max0, min1, max1, ...]; the last pixel covers what remains."""
        if self._count:
            self._close()
        if not self._pairs:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate(self._pairs).astype(np.int32).reshape(-1)

    def _extend(self, samples: np.ndarray) -> None:
        if not samples.size:
            return
        low, high = int(samples.min()), int(samples.max())
        if self._count:
            low, high = min(low, self._low), max(high, self._high)
        self._low, self._high, self._count = low, high, self._count + samples.size

    def _close(self) -> None:
        self._pairs.append(np.array([[self._low, self._high]], dtype=np.int16))
        self._count = 0


def write_waveform(
    peaks: np.ndarray,
    *,
    out_path: Path,
    sample_rate: int,
    samples_per_pixel: int,
    bits: Literal[8, 16] = 8,
) -> Waveform:
    """Write 16-bit min/max peaks as audiowaveform JSON, at 8 or 16 bits a point."""
    if bits == 8:
        # audiowaveform's 8-bit output keeps the high byte of each 16-bit sample.
        peaks = peaks >> 8
    length = peaks.size // 2
    document = {
        "version": 2,
        "channels": 1,
        "sample_rate": sample_rate,
        "samples_per_pixel": samples_per_pixel,
        "bits": bits,
        "length": length,
        "data": peaks.tolist(),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, separators=(",", ":")))
    return Waveform(
        path=out_path, sample_rate=sample_rate, samples_per_pixel=samples_per_pixel, bits=bits,
        length=length,
    )  # fmt: skip
