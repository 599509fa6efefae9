from __future__ import annotations

import base64
from pathlib import Path

import pytest

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.audio.fingerprint import (
    ITEM_DURATION_S,
    decode_compressed,
    encode_raw,
    fingerprint_file,
    slice_fingerprint,
)
from tests.fixtures.audio_media import (
    corrupt_audio,
    sine_audio,
    structured_audio,
    video_with_audio,
    video_without_audio,
)


def test_track_fingerprint_is_time_indexed_and_round_trips(library: list[Path]) -> None:
    track = fingerprint_file(library[0])

    assert track.duration_s == pytest.approx(60.0, abs=0.1)
    # One item per ITEM_DURATION_S, less Chromaprint's filter tail of ~2.6 s.
    assert 60.0 / ITEM_DURATION_S - 30 < len(track.raw) < 60.0 / ITEM_DURATION_S
    assert all(0 <= item < 2**32 for item in track.raw)
    assert len(set(track.raw)) > len(track.raw) // 2
    assert decode_compressed(track.compressed) == track.raw
    header = base64.urlsafe_b64decode(track.compressed[:8])
    assert header[0] == 1  # the algorithm id, then the item count, big-endian
    assert int.from_bytes(header[1:4], "big") == len(track.raw)


def test_compressed_string_is_what_fpcalc_prints(library: list[Path]) -> None:
    import subprocess

    printed = subprocess.run(
        ["fpcalc", "-plain", "-length", "0", str(library[1])], capture_output=True, text=True
    ).stdout.strip()
    assert fingerprint_file(library[1]).compressed == printed


def test_max_duration_limits_the_fingerprint(library: list[Path]) -> None:
    head = fingerprint_file(library[0], max_duration_s=10)
    whole = fingerprint_file(library[0])

    assert head.duration_s == pytest.approx(10.0, abs=0.1)
    assert head.raw == whole.raw[: len(head.raw)]


def test_slice_covers_the_span_it_names(library: list[Path]) -> None:
    track = fingerprint_file(library[2])
    part = slice_fingerprint(track, offset_s=30.0, duration_s=15.0)

    first = round(30.0 / ITEM_DURATION_S)
    assert part.offset_s == 30.0 and part.duration_s == 15.0
    assert part.raw == track.raw[first : first + len(part.raw)]
    assert len(part.raw) == round(45.0 / ITEM_DURATION_S) - first
    assert decode_compressed(part.compressed) == part.raw


def test_video_audio_track_is_fingerprinted(tmp_path: Path) -> None:
    video = video_with_audio(tmp_path / "clip.mp4", seed=3, duration_s=8)

    assert len(fingerprint_file(video).raw) > 30


def test_too_short_audio_gives_an_empty_fingerprint(tmp_path: Path) -> None:
    short = structured_audio(tmp_path / "short.wav", seed=1, duration_s=1.5)

    empty = fingerprint_file(short)

    assert empty.is_empty and empty.raw == [] and empty.compressed == ""
    assert empty.duration_s == pytest.approx(1.5, abs=0.05)


def test_pure_tone_gives_a_constant_fingerprint(tmp_path: Path) -> None:
    # Measured with fpcalc 1.5.1: not empty, but one value repeated.
    tone = fingerprint_file(sine_audio(tmp_path / "tone.wav", duration_s=5))

    assert len(set(tone.raw)) == 1


def test_corrupt_audio_raises_corrupt_media(tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia, match=r"bad\.mp3 does not decode as media"):
        fingerprint_file(corrupt_audio(tmp_path / "bad.mp3"))


def test_video_without_audio_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="no audio stream"):
        fingerprint_file(video_without_audio(tmp_path / "silent.mp4"))


def test_encode_of_nothing_is_empty() -> None:
    assert encode_raw([]) == "" and decode_compressed("") == []
