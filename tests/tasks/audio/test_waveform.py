from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from tasks.audio.derive import AudioOptions, derive_audio
from tasks.audio.waveform import PeakMeter, Waveform
from tasks.video import probe_media
from tests.fixtures.audio_media import structured_audio


def write_waveform(
    source: Path, *, out_path: Path, samples_per_pixel: int | None = None, bits: Literal[8, 16] = 8
) -> Waveform:
    """Run the audio recipe and return its waveform, read back."""
    derived = derive_audio(
        source,
        out_dir=out_path.parent,
        probe=probe_media(source),
        options=AudioOptions(samples_per_pixel=samples_per_pixel, waveform_bits=bits),
    )
    assert derived is not None
    doc = json.loads(derived.waveform.read_text())
    return Waveform(
        derived.waveform, doc["sample_rate"], doc["samples_per_pixel"], doc["bits"], doc["length"]
    )


def test_peaks_follow_audiowaveform_layout(tmp_path: Path) -> None:
    source = structured_audio(tmp_path / "a.wav", seed=0, duration_s=10, sample_rate=22050)

    waveform = write_waveform(source, out_path=tmp_path / "waveform.json", samples_per_pixel=512)

    doc = json.loads(waveform.path.read_text())
    assert {k: v for k, v in doc.items() if k != "data"} == {
        "version": 2, "channels": 1, "sample_rate": 22050, "samples_per_pixel": 512,
        "bits": 8, "length": 431,  # ceil(220500 / 512): the last pixel is partial
    }  # fmt: skip
    data = doc["data"]
    assert len(data) == 2 * doc["length"]
    assert all(lo <= hi for lo, hi in zip(data[::2], data[1::2], strict=True))
    assert -128 <= min(data) < -40 and 40 < max(data) <= 127


def test_default_zoom_gives_about_1500_points(tmp_path: Path) -> None:
    source = structured_audio(tmp_path / "a.wav", seed=1, duration_s=30, sample_rate=22050)

    waveform = write_waveform(source, out_path=tmp_path / "waveform.json", bits=16)

    doc = json.loads(waveform.path.read_text())
    assert doc["samples_per_pixel"] == 441 and doc["length"] == waveform.length == 1500
    assert doc["bits"] == 16 and max(doc["data"]) > 127 * 40


def test_default_zoom_of_a_short_clip_is_no_finer_than_256(tmp_path: Path) -> None:
    source = structured_audio(tmp_path / "a.wav", seed=1, duration_s=3, sample_rate=11025)

    waveform = write_waveform(source, out_path=tmp_path / "waveform.json")

    assert (waveform.samples_per_pixel, waveform.length) == (256, 130)  # ceil(33075 / 256)


def test_peaks_do_not_depend_on_how_the_pcm_is_cut_into_blocks() -> None:
    samples = np.random.default_rng(3).integers(-30000, 30000, 10_000, dtype=np.int16)
    whole, pieces = PeakMeter(256), PeakMeter(256)
    whole.feed(samples.tobytes())
    for start in range(0, samples.size, 77):
        pieces.feed(samples[start : start + 77].tobytes())

    expected = [
        (int(p.min()), int(p.max())) for p in np.array_split(samples, range(256, 10_000, 256))
    ]
    assert (
        whole.peaks().tolist() == pieces.peaks().tolist() == [v for pair in expected for v in pair]
    )
