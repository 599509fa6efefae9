from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.audio.derive import AudioOptions, derive_audio
from tasks.audio.fingerprint import ITEM_DURATION_S
from tasks.video import probe_media
from tests.fixtures.audio_media import video_with_audio, video_without_audio


def test_video_audio_is_derived_into_out_dir(tmp_path: Path) -> None:
    video = video_with_audio(tmp_path / "v.mp4", seed=6, duration_s=12)

    derived = derive_audio(
        video,
        out_dir=tmp_path / "out",
        probe=probe_media(video),
        options=AudioOptions(fragment_s=5, codec="aac"),
    )

    assert derived is not None
    assert len(derived.track.raw) > 60
    # Every 5 s, give or take an audio frame (25 ms).
    assert [f.offset_s for f, _ in derived.fragments] == pytest.approx([0.0, 5.0, 10.0], abs=0.025)
    for fragment, fingerprint in derived.fragments:
        assert fragment.path.is_file() and fragment.path.is_relative_to(tmp_path / "out")
        assert fingerprint.offset_s == fragment.offset_s
        start = round(fragment.offset_s / ITEM_DURATION_S)
        assert fingerprint.raw == derived.track.raw[start : start + len(fingerprint.raw)]
    assert json.loads(derived.waveform.read_text())["length"] > 100


def test_silent_video_has_nothing_to_derive(tmp_path: Path) -> None:
    video = video_without_audio(tmp_path / "v.mp4")
    assert derive_audio(video, out_dir=tmp_path / "o", probe=probe_media(video)) is None
    assert not (tmp_path / "o").exists()
