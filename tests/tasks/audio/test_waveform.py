from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import UnsupportedMedia
from tasks.audio.waveform import write_waveform
from tests.fixtures.audio_media import structured_audio, video_without_audio


def test_peaks_follow_audiowaveform_layout(tmp_path: Path) -> None:
    source = structured_audio(tmp_path / "a.wav", seed=0, duration_s=10, sample_rate=22050)

    waveform = write_waveform(source, out_path=tmp_path / "peaks.json", samples_per_pixel=512)

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

    waveform = write_waveform(source, out_path=tmp_path / "peaks.json", bits=16)

    doc = json.loads(waveform.path.read_text())
    assert doc["samples_per_pixel"] == 441 and doc["length"] == waveform.length == 1500
    assert doc["bits"] == 16 and max(doc["data"]) > 127 * 40


def test_default_zoom_of_a_short_clip_is_no_finer_than_256(tmp_path: Path) -> None:
    source = structured_audio(tmp_path / "a.wav", seed=1, duration_s=3, sample_rate=11025)

    waveform = write_waveform(source, out_path=tmp_path / "peaks.json")

    assert (waveform.samples_per_pixel, waveform.length) == (256, 130)  # ceil(33075 / 256)


def test_silent_video_has_no_waveform(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="no audio stream"):
        write_waveform(video_without_audio(tmp_path / "v.mp4"), out_path=tmp_path / "p.json")
