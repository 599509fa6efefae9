"""The audio recipe in one call: track fingerprint, fragments with their fingerprints, waveform."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tasks.audio.decode import decode_audio, pcm_rate
from tasks.audio.fingerprint import Chromaprinter, Fingerprint, slice_fingerprint
from tasks.audio.fragments import (
    AudioFragment,
    Codec,
    Normalizer,
    collect_fragments,
    fragment_outputs,
)
from tasks.audio.waveform import PeakMeter, auto_samples_per_pixel, write_waveform
from tasks.video.probe import MediaProbe


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
    source: Path, *, out_dir: Path, probe: MediaProbe, options: AudioOptions | None = None
) -> AudioDerivatives | None:
    """Fingerprint, fragment and draw the first audio stream of ``source`` into ``out_dir``.

    ``probe`` is the source's, read once by the caller. Returns None when the
    source has no audio stream (a silent video): there is nothing to derive,
    which is not a failure.

    The stream is decoded once (tasks/audio/decode.py): the same ffmpeg run
    writes the fragments and hands its PCM to the waveform and to Chromaprint.
    Each fragment's fingerprint is the slice of the whole-track fingerprint
    over the fragment's time span, not a fingerprint of the fragment file:
    Chromaprint's raw items are time-indexed (``ITEM_DURATION_S`` each).
    Measured on 75 s tracks with 30 s fragments: the slice and the fragment
    file's own fingerprint differ in 0.3-8 % of bits (the file is lossy and
    normalised), and the slice keeps the ~21 items (2.6 s) at each fragment's
    end that a fingerprint of the file alone loses to Chromaprint's filter length.
    """
    options = options or AudioOptions()
    stream = probe.audio
    if stream is None:
        return None
    rate = pcm_rate(stream.sample_rate)
    # The zoom is only a drawing choice, so the declared duration may pick it.
    samples_per_pixel = options.samples_per_pixel or auto_samples_per_pixel(
        stream.duration_s or probe.duration_s, rate
    )
    meter, printer = PeakMeter(samples_per_pixel), Chromaprinter(rate)
    fragments_dir = out_dir / "fragments"
    fragments_dir.mkdir(parents=True, exist_ok=True)
    decoded = decode_audio(
        source,
        sample_rate=rate,
        consumers=[meter.feed, printer.feed],
        other_outputs=fragment_outputs(
            out_dir=fragments_dir,
            fragment_s=options.fragment_s,
            codec=options.codec,
            bitrate=options.bitrate,
            normalizer=options.normalizer,
        ),
    )
    track = printer.finish(duration_s=decoded.duration_s)
    fragments = collect_fragments(fragments_dir, codec=options.codec, name=source.name)
    waveform = write_waveform(
        meter.peaks(),
        out_path=out_dir / "waveform.json",
        sample_rate=rate,
        samples_per_pixel=samples_per_pixel,
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
