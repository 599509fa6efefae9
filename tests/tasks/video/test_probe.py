"""ffprobe metadata of real generated media, and the errors bad files give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.video.diagnostics import summarise_stderr
from tasks.video.probe import parse_probe, probe_media
from tests.fixtures.av_media import (
    make_audio,
    make_html,
    make_no_streams,
    make_truncated,
    make_zero_length,
)
from tests.tasks.video.conftest import MakeClip


def test_video_with_audio(clip: MakeClip) -> None:
    probe = probe_media(clip("av.mp4", seconds=3, width=320, height=240))

    assert "mp4" in probe.container
    assert probe.duration_s == pytest.approx(3.0, abs=0.1)
    assert probe.size_bytes and probe.bit_rate
    video, audio = probe.video, probe.audio
    assert video is not None and audio is not None
    assert (video.codec, video.width, video.height, video.rotation) == ("h264", 320, 240, 0)
    assert (video.frame_rate, video.pixel_format, video.bit_depth) == (25.0, "yuv420p", 8)
    assert video.display_aspect_ratio == "4:3"
    assert (audio.codec, audio.channels, audio.channel_layout) == ("aac", 2, "stereo")
    assert (audio.sample_rate, audio.language) == (44100, "und")
    assert (probe.display_width, probe.display_height) == (320, 240)


def test_rotated_phone_video_is_displayed_portrait(clip: MakeClip) -> None:
    probe = probe_media(clip("rot90.mp4", seconds=2, width=320, height=180, rotate=90, audio=False))

    assert probe.video is not None and probe.video.rotation == 90
    assert (probe.video.width, probe.video.height) == (320, 180)
    assert (probe.display_width, probe.display_height) == (180, 320)
    assert probe.audio is None


def test_metadata_is_json_safe(clip: MakeClip) -> None:
    probe = probe_media(clip("av.mp4", seconds=3, width=320, height=240))

    metadata = json.loads(json.dumps(probe.as_metadata()))

    assert metadata["container"] == probe.container
    assert [s["kind"] for s in metadata["streams"]] == ["video", "audio"]
    assert metadata["streams"][0]["frame_rate"] == 25.0


def test_audio_only_file(tmp_path: Path) -> None:
    probe = probe_media(make_audio(tmp_path / "a.wav", seconds=1.5, channels=1))

    assert probe.video is None and probe.display_width is None
    assert probe.audio is not None
    assert (probe.audio.codec, probe.audio.channels) == ("pcm_s16le", 1)
    assert probe.duration_s == pytest.approx(1.5, abs=0.01)


def test_parse_reads_rotate_tags_rates_depths_and_cover_art() -> None:
    raw = {
        "format": {"format_name": "mov", "duration": "2.5"},
        "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "hevc", "width": 1920,
             "height": 1080, "tags": {"rotate": "270"}, "pix_fmt": "yuv420p10le",
             "r_frame_rate": "30000/1001", "avg_frame_rate": "0/0", "sample_aspect_ratio": "0:1"},
            {"index": 1, "codec_type": "video", "codec_name": "mjpeg", "width": 600,
             "height": 600, "disposition": {"attached_pic": 1}},
        ],
    }  # fmt: skip

    probe = parse_probe(raw, name="x.mov")

    video = probe.video
    assert video is not None
    assert (video.rotation, video.frame_rate, video.bit_depth) == (270, 29.97, 10)
    assert video.sample_aspect_ratio is None
    assert (probe.display_width, probe.display_height) == (1080, 1920)
    assert probe.streams[1].cover_art


def test_parse_applies_pixel_aspect_ratio() -> None:
    raw = {
        "format": {"format_name": "mpeg", "duration": "1"},
        "streams": [{"index": 0, "codec_type": "video", "width": 720, "height": 576,
                     "sample_aspect_ratio": "64:45", "display_aspect_ratio": "16:9"}],
    }  # fmt: skip

    probe = parse_probe(raw, name="dvd.mpg")

    assert (probe.display_width, probe.display_height) == (1024, 576)


def test_cover_art_alone_is_no_video() -> None:
    raw = {
        "format": {"format_name": "mp3", "duration": "3"},
        "streams": [{"index": 0, "codec_type": "video", "disposition": {"attached_pic": 1}}],
    }

    with pytest.raises(CorruptMedia, match="no audio or video streams"):
        parse_probe(raw, name="song.mp3")


def test_truncated_mp4_is_corrupt(clip: MakeClip, tmp_path: Path) -> None:
    bad = make_truncated(clip("av.mp4", seconds=3, width=320, height=240), tmp_path / "cut.mp4")

    with pytest.raises(CorruptMedia) as caught:
        probe_media(bad)

    assert str(caught.value) == (
        "cut.mp4 does not decode as media: moov atom not found; "
        "Invalid data found when processing input"
    )


def test_file_without_streams_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia, match=r"empty\.mp4: no audio or video streams"):
        probe_media(make_no_streams(tmp_path / "empty.mp4"))


def test_zero_length_video_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia, match=r"zero\.avi: zero-length video"):
        probe_media(make_zero_length(tmp_path / "zero.avi"))


def test_html_page_named_mp4_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match=r"page\.mp4 is an HTML/XML page, not audio"):
        probe_media(make_html(tmp_path / "page.mp4"))


def test_stderr_summary_drops_banner_pointers_and_repeats() -> None:
    stderr = (
        "ffmpeg version 5.1.9 Copyright (c) 2000-2026 the FFmpeg developers\n"
        "  built with gcc 12\n  configuration: --prefix=/usr\n"
        "  libavutil      57. 28.100 / 57. 28.100\n"
        "[h264 @ 0x5581d2a0] error while decoding MB 3 4\n"
        "[h264 @ 0x5581d2a0] error while decoding MB 3 4\n\n"
        "/data/in.mp4: Invalid data found when processing input\n"
    )

    assert summarise_stderr(stderr, path="/data/in.mp4") == (
        "error while decoding MB 3 4; Invalid data found when processing input"
    )
    assert summarise_stderr("\n\n") == "the tool printed no diagnostic"
