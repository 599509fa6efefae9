"""Waveform peaks in BBC audiowaveform's JSON layout (version 2), as peaks.js and wavesurfer read.

ffmpeg decodes to signed 16-bit mono PCM on a pipe; peaks are computed chunk
by chunk, so memory stays bounded whatever the track's length.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np

from core.errors import CorruptMedia, MediaTimeout, UnsupportedMedia
from tasks.audio._proc import TOOL_TIMEOUT_S, summarise_stderr
from tasks.audio.probe import probe_audio

# About this many min/max pairs for a whole track: enough for a full-width
# overview in a browser, small enough to ship with the asset (~10 KB at 8 bits).
TARGET_PIXELS = 1500
# audiowaveform's own default zoom; no finer than this, so a short clip keeps
# a sensible number of points instead of one per sample.
MIN_SAMPLES_PER_PIXEL = 256
# Pixels of PCM read from the pipe at a time.
_PIXELS_PER_CHUNK = 256


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


def write_waveform(
    source: Path,
    *,
    out_path: Path,
    samples_per_pixel: int | None = None,
    bits: Literal[8, 16] = 8,
) -> Waveform:
    """Write min/max peaks of the first audio stream (channels mixed to mono) as JSON.

    ``samples_per_pixel`` None: chosen from the duration (``auto_samples_per_pixel``).
    Raises UnsupportedMedia when there is no audio stream.
    """
    stream = probe_audio(source)
    if stream is None:
        raise UnsupportedMedia(f"{source.name} has no audio stream")
    sample_rate = stream.sample_rate or 44100
    spp = samples_per_pixel or auto_samples_per_pixel(stream.duration_s, sample_rate)
    command = [
        "ffmpeg", "-v", "error", "-nostdin", "-i", str(source),
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sample_rate),
        "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    # stderr goes to a file: a pipe left unread could fill and stall ffmpeg.
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors) as process,
    ):
        assert process.stdout is not None
        try:
            peaks = _peaks(process.stdout, spp)
            process.wait(timeout=TOOL_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            raise MediaTimeout(f"ffmpeg ran longer than {TOOL_TIMEOUT_S:.0f} s") from exc
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if process.returncode != 0 and peaks.size == 0:
        raise CorruptMedia(f"ffmpeg cannot decode {source.name}: {summarise_stderr(stderr)}")
    if bits == 8:
        # audiowaveform's 8-bit output keeps the high byte of each 16-bit sample.
        peaks = peaks >> 8
    document = {
        "version": 2,
        "channels": 1,
        "sample_rate": sample_rate,
        "samples_per_pixel": spp,
        "bits": bits,
        "length": peaks.size // 2,
        "data": peaks.tolist(),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, separators=(",", ":")))
    return Waveform(
        path=out_path, sample_rate=sample_rate, samples_per_pixel=spp, bits=bits,
        length=peaks.size // 2,
    )  # fmt: skip


def _peaks(pcm: IO[bytes], samples_per_pixel: int) -> np.ndarray:
    """Return interleaved [min0, max0, min1, max1, ...] of s16le PCM read from a stream."""
    chunk_bytes = samples_per_pixel * _PIXELS_PER_CHUNK * 2
    parts: list[np.ndarray] = []
    pending = b""
    while block := pcm.read(chunk_bytes):
        data = pending + block
        whole = len(data) // (samples_per_pixel * 2) * samples_per_pixel * 2
        pending = data[whole:]
        if whole:
            parts.append(_minmax(np.frombuffer(data[:whole], dtype="<i2"), samples_per_pixel))
    # The last pixel covers what remains, as audiowaveform does.
    usable = len(pending) // 2 * 2
    if usable:
        parts.append(_minmax(np.frombuffer(pending[:usable], dtype="<i2"), usable // 2))
    if not parts:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(parts)


def _minmax(samples: np.ndarray, samples_per_pixel: int) -> np.ndarray:
    pixels = samples.reshape(-1, samples_per_pixel)
    pairs = np.empty((pixels.shape[0], 2), dtype=np.int32)
    pairs[:, 0] = pixels.min(axis=1)
    pairs[:, 1] = pixels.max(axis=1)
    return pairs.reshape(-1)
