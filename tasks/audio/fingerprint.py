"""Chromaprint fingerprints: the raw time-indexed sequence and AcoustID's compressed string.

Chromaprint (libchromaprint through pyacoustid's ``chromaprint`` module) is fed
the PCM of the one guarded decode (tasks/audio/decode.py): fpcalc cannot be
told which demuxers and protocols it may use, so it is not run. The result is
the same as fpcalc's. The compressed string is encoded from the raw items, so a
slice of a track's raw sequence gets its own valid compressed string.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import chromaprint

from core.errors import UnsupportedMedia
from tasks.audio.decode import decode_audio, pcm_rate
from tasks.video.probe import MediaProbe, probe_media

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


class Chromaprinter:
    """Chromaprint of mono s16le PCM fed in blocks, at the rate the decode wrote it."""

    def __init__(self, sample_rate: int) -> None:
        self._context = chromaprint.Fingerprinter(CHROMAPRINT_ALGORITHM)
        self._context.start(sample_rate, 1)

    def feed(self, pcm: bytes) -> None:
        """Take the next block of whole samples."""
        self._context.feed(pcm)

    def finish(self, *, duration_s: float) -> Fingerprint:
        """Return the fingerprint of everything fed: empty when it was too short."""
        raw = decode_compressed(self._context.finish().decode("ascii"))
        return Fingerprint(offset_s=0.0, duration_s=duration_s, raw=raw, compressed=encode_raw(raw))


def fingerprint_file(
    path: Path, *, max_duration_s: float | None = None, probe: MediaProbe | None = None
) -> Fingerprint:
    """Fingerprint a file's first audio stream (all of it unless ``max_duration_s``).

    ``probe`` is the file's, when the caller has it already. Raises
    UnsupportedMedia when the file has no audio stream and CorruptMedia when it
    does not decode.
    """
    stream = (probe or probe_media(path)).audio
    if stream is None:
        raise UnsupportedMedia(f"{path.name} has no audio stream")
    rate = pcm_rate(stream.sample_rate)
    printer = Chromaprinter(rate)
    decoded = decode_audio(
        path, sample_rate=rate, consumers=[printer.feed], max_duration_s=max_duration_s
    )
    return printer.finish(duration_s=decoded.duration_s)


def slice_fingerprint(track: Fingerprint, *, offset_s: float, duration_s: float) -> Fingerprint:
    """Return the part of a track's fingerprint that covers [offset_s, offset_s + duration_s)."""
    start = round((offset_s - track.offset_s) / ITEM_DURATION_S)
    stop = round((offset_s - track.offset_s + duration_s) / ITEM_DURATION_S)
    raw = track.raw[max(start, 0) : max(stop, 0)]
    return Fingerprint(
        offset_s=offset_s, duration_s=duration_s, raw=raw, compressed=encode_raw(raw)
    )
