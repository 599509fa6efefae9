"""The audio recipe in one call: track fingerprint, fragments with their fingerprints, waveform."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tasks.audio.fingerprint import Fingerprint, fingerprint_file, slice_fingerprint
from tasks.audio.fragments import AudioFragment, Codec, Normalizer, make_fragments
from tasks.audio.probe import probe_audio
from tasks.audio.waveform import write_waveform


class AudioOptions(BaseModel):
    """The audio derivation knobs, typed so a Prefect UI form can show them."""

    fragment_s: float = Field(default=30.0, gt=0, description="fragment length in seconds")
    codec: Codec = "opus"
    bitrate: str = Field(default="48k", pattern=r"^\d+k$")
    normalizer: Normalizer = "loudnorm"
    samples_per_pixel: int | None = Field(
        default=None, gt=0, description="waveform zoom; empty: about 1,500 points per track"
    )
    waveform_bits: Literal[8, 16] = 8


@dataclass(frozen=True)
class AudioDerivatives:
    """What ``derive_audio`` wrote: every path is inside the ``out_dir`` it was given."""

    track: Fingerprint
    fragments: list[tuple[AudioFragment, Fingerprint]]
    waveform: Path


def derive_audio(
    source: Path, *, out_dir: Path, options: AudioOptions | None = None
) -> AudioDerivatives | None:
    """Fingerprint, fragment and draw the first audio stream of ``source`` into ``out_dir``.

    Returns None when the source has no audio stream (a silent video): there
    is nothing to derive, which is not a failure.

    Each fragment's fingerprint is the slice of the whole-track fingerprint
    over the fragment's time span, not a fingerprint of the fragment file:
    Chromaprint's raw items are time-indexed (``ITEM_DURATION_S`` each), so one
    fpcalc run over the original serves every fragment. Measured on 75 s
    tracks with 30 s fragments: the slice and the fragment file's own
    fingerprint differ in 0.3-8 % of bits (the file is lossy and normalised),
    and the slice keeps the ~21 items (2.6 s) at each fragment's end that a
    fingerprint of the file alone loses to Chromaprint's filter length.
    """
    options = options or AudioOptions()
    if probe_audio(source) is None:
        return None
    track = fingerprint_file(source)
    fragments = make_fragments(
        source,
        out_dir=out_dir / "fragments",
        fragment_s=options.fragment_s,
        codec=options.codec,
        bitrate=options.bitrate,
        normalizer=options.normalizer,
    )
    waveform = write_waveform(
        source,
        out_path=out_dir / "waveform.json",
        samples_per_pixel=options.samples_per_pixel,
        bits=options.waveform_bits,
    )
    return AudioDerivatives(
        track=track,
        fragments=[
            (
                fragment,
                slice_fingerprint(
                    track, offset_s=fragment.offset_s, duration_s=fragment.duration_s
                ),
            )
            for fragment in fragments
        ],
        waveform=waveform.path,
    )
