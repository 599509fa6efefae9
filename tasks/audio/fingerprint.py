"""Chromaprint fingerprints: the raw time-indexed sequence and AcoustID's compressed string.

fpcalc (Chromaprint's own tool) decodes and fingerprints; pyacoustid's
``chromaprint`` module encodes the compressed string from the raw items, so a
slice of a track's raw sequence gets its own valid compressed string.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import chromaprint

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.audio._proc import run_tool, summarise_stderr
from tasks.audio.probe import probe_audio

# Chromaprint's default algorithm (TEST2, fpcalc "-algorithm 2") resamples to
# 11025 Hz and slides a 4096-sample frame by 4096 - 4096 * 2 // 3 = 1365
# samples (chromaprint/src/fingerprinter_configuration.h: FRAME_SIZE 4096,
# OVERLAP FRAME_SIZE - FRAME_SIZE / 3): one raw item per 1365 / 11025 s.
# Measured here: a cut at 33.3 s of a 60 s track aligns best at item 269
# (33.3 / 0.12381 = 268.96).
ITEM_DURATION_S = 1365 / 11025
# The library's id of that algorithm (CHROMAPRINT_ALGORITHM_TEST2 = 1); it is
# the first byte of the compressed string.
CHROMAPRINT_ALGORITHM = 1


@dataclass(frozen=True)
class Fingerprint:
    """A Chromaprint fingerprint of ``duration_s`` seconds of audio starting at ``offset_s``.

    ``raw`` holds uint32 items, one per ``ITEM_DURATION_S``; it is empty when
    the audio is too short (under about 3 s) for Chromaprint, which is a fact
    to record, not a failure. Silence and a pure tone give a constant sequence.
    """

    offset_s: float
    duration_s: float
    raw: list[int]
    compressed: str

    @property
    def is_empty(self) -> bool:
        """Tell whether Chromaprint found nothing to fingerprint."""
        return not self.raw


def encode_raw(raw: list[int]) -> str:
    """Return AcoustID's compressed, URL-safe base64 form of a raw fingerprint."""
    if not raw:
        return ""
    encoded: bytes = chromaprint.encode_fingerprint(raw, CHROMAPRINT_ALGORITHM, base64=True)
    return encoded.decode("ascii")


def decode_compressed(compressed: str) -> list[int]:
    """Return the raw uint32 items of a compressed fingerprint."""
    if not compressed:
        return []
    raw, _algorithm = chromaprint.decode_fingerprint(compressed.encode("ascii"))
    return [item & 0xFFFFFFFF for item in raw]


def fingerprint_file(path: Path, *, max_duration_s: float | None = None) -> Fingerprint:
    """Fingerprint a file's first audio stream (all of it unless ``max_duration_s``).

    Raises UnsupportedMedia when the file has no audio stream and CorruptMedia
    when fpcalc cannot decode it.
    """
    length = "0" if max_duration_s is None else str(max(1, math.ceil(max_duration_s)))
    result = run_tool(["fpcalc", "-raw", "-json", "-length", length, str(path)])
    # fpcalc exits 3 after printing a good result when the decoder reports the
    # end of file as an error: the printed JSON is what counts.
    if result.stdout.strip():
        payload = json.loads(result.stdout)
        raw = [int(item) for item in payload["fingerprint"]]
        # fpcalc prints the file's duration, whatever part of it it read.
        duration = float(payload["duration"])
        if max_duration_s is not None:
            duration = min(duration, max_duration_s)
        return Fingerprint(
            offset_s=0.0,
            duration_s=duration,
            raw=raw,
            compressed=encode_raw(raw),
        )
    if "Empty fingerprint" in result.stderr:
        stream = probe_audio(path)
        duration = stream.duration_s if stream else 0.0
        if max_duration_s is not None:
            duration = min(duration, max_duration_s)
        return Fingerprint(offset_s=0.0, duration_s=duration, raw=[], compressed="")
    if "Could not find any audio stream" in result.stderr:
        raise UnsupportedMedia(f"{path.name} has no audio stream")
    raise CorruptMedia(f"fpcalc cannot fingerprint {path.name}: {summarise_stderr(result.stderr)}")


def slice_fingerprint(track: Fingerprint, *, offset_s: float, duration_s: float) -> Fingerprint:
    """Return the part of a track's fingerprint that covers [offset_s, offset_s + duration_s)."""
    start = round((offset_s - track.offset_s) / ITEM_DURATION_S)
    stop = round((offset_s - track.offset_s + duration_s) / ITEM_DURATION_S)
    raw = track.raw[max(start, 0) : max(stop, 0)]
    return Fingerprint(
        offset_s=offset_s, duration_s=duration_s, raw=raw, compressed=encode_raw(raw)
    )
