"""The whole video recipe on generated media: what a player and a user would see."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from PIL import Image

from core.errors import CorruptMedia, MediaTimeout, UnsupportedMedia
from tasks.video import VideoDerivatives, VideoOptions, derive_video, probe_media
from tasks.video.poster import BLACK_MAX_MEAN, frame_stats
from tests.fixtures.av_media import (
    make_audio,
    make_html,
    make_no_streams,
    make_truncated,
    make_zero_length,
)
from tests.tasks.video.conftest import MakeClip, top_level_boxes

VTT_CUE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(\S+)")


def derive(source: Path, out_dir: Path, options: VideoOptions | None = None) -> VideoDerivatives:
    """Probe and derive as the ingest flow does."""
    return derive_video(source, out_dir=out_dir, probe=probe_media(source), options=options)


def seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def assert_proxy_plays_on_the_web(result: VideoDerivatives, size: tuple[int, int]) -> None:
    """H.264 without B-frames, even size within the box, no rotation left, moov first."""
    proxy = probe_media(result.proxy.path)
    video = proxy.video
    assert video is not None
    assert (video.codec, video.pixel_format, video.has_b_frames) == ("h264", "yuv420p", 0)
    assert video.profile == "High"
    assert (video.width, video.height, video.rotation) == (*size, 0)
    assert (result.proxy.width, result.proxy.height) == size
    assert size[0] % 2 == 0 and size[1] % 2 == 0
    boxes = top_level_boxes(result.proxy.path)
    assert boxes.index("moov") < boxes.index("mdat")
    assert result.proxy.content_type == "video/mp4"
    data = result.proxy.path.read_bytes()
    assert result.proxy.size_bytes == len(data)
    assert result.proxy.sha256 == hashlib.sha256(data).hexdigest()


def assert_keyframes_match_their_sheets(result: VideoDerivatives, duration_s: float) -> None:
    """Every VTT cue points inside an existing sheet, and the cues cover the duration."""
    keyframes = result.keyframes
    vtt = keyframes.vtt.read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n")
    cues = VTT_CUE.findall(vtt)
    assert len(cues) == keyframes.plan.frame_count
    sheet_sizes = {}
    for sheet in keyframes.sheets:
        with Image.open(sheet.path) as image:
            assert image.format == "JPEG"
            sheet_sizes[sheet.path.name] = image.size
            assert image.size == (sheet.width, sheet.height)
    previous_end = 0.0
    for cue in cues:
        start, end = seconds(*cue[0:4]), seconds(*cue[4:8])
        assert start == previous_end and end > start
        previous_end = end
        name, xywh = cue[8].split("#xywh=")
        x, y, w, h = map(int, xywh.split(","))
        sheet_w, sheet_h = sheet_sizes[name]
        assert (w, h) == (keyframes.plan.frame_width, keyframes.plan.frame_height)
        assert x + w <= sheet_w and y + h <= sheet_h
    assert previous_end == pytest.approx(duration_s, abs=0.05)


def assert_poster_shows_a_picture(result: VideoDerivatives, size: tuple[int, int]) -> None:
    with Image.open(result.poster.path) as image:
        assert (image.format, image.size) == ("JPEG", size)
    assert frame_stats(result.poster.path).usable


def test_video_with_audio(clip: MakeClip, tmp_path: Path) -> None:
    source = clip("av.mp4", seconds=3, width=320, height=240)
    progress: list[float] = []

    result = derive_video(
        source, out_dir=tmp_path, probe=probe_media(source), on_progress=progress.append
    )

    assert_proxy_plays_on_the_web(result, (320, 240))
    audio = probe_media(result.proxy.path).audio
    assert audio is not None
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 48000, 2)
    assert probe_media(result.proxy.path).video.frame_rate == 25.0  # type: ignore[union-attr]
    assert result.proxy.duration_s == pytest.approx(3.0, abs=0.1)
    assert_keyframes_match_their_sheets(result, 3.0)
    assert (result.keyframes.plan.columns, result.keyframes.plan.rows) == (6, 1)
    assert_poster_shows_a_picture(result, (320, 240))
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "keyframes.vtt", "poster.jpg", "proxy.mp4", "sheet_000.jpg",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "options", "size"),
    [
        ("rot90.mp4", {"width": 320, "height": 180, "rotate": 90, "audio": False}, {}, (180, 320)),
        ("portrait.mp4", {"width": 360, "height": 640}, {}, (360, 640)),
        ("odd.mp4", {"width": 641, "height": 361}, {}, (640, 360)),
        ("big.mp4", {"width": 1600, "height": 900}, {}, (1280, 720)),
        ("big.mp4", {"width": 1600, "height": 900}, {"proxy": "1080p"}, (1600, 900)),
    ],
)
def test_proxy_geometry(
    clip: MakeClip,
    tmp_path: Path,
    name: str,
    make: dict[str, object],
    options: dict[str, object],
    size: tuple[int, int],
) -> None:
    source = clip(name, seconds=2, **make)

    result = derive(source, tmp_path, VideoOptions(**options))  # type: ignore[arg-type]

    assert_proxy_plays_on_the_web(result, size)
    assert (probe_media(result.proxy.path).audio is None) == (make.get("audio") is False)
    assert_keyframes_match_their_sheets(result, 2.0)
    plan = result.keyframes.plan
    assert plan.frame_width == 160
    assert plan.frame_height == round(160 * size[1] / size[0] / 2) * 2
    assert_poster_shows_a_picture(result, size)


def test_black_opening_gives_a_poster_from_the_picture(clip: MakeClip, tmp_path: Path) -> None:
    source = clip("black-lead.mp4", seconds=4, width=320, height=180, black_lead_s=2)

    result = derive(source, tmp_path)

    assert frame_stats(result.poster.path).mean > BLACK_MAX_MEAN
    assert_poster_shows_a_picture(result, (320, 180))


def test_long_enough_video_fills_a_10x10_sheet_and_starts_another(
    clip: MakeClip, tmp_path: Path
) -> None:
    source = clip("long.mp4", seconds=51, width=160, height=90, fps=5, audio=False)

    result = derive(source, tmp_path)

    plan = result.keyframes.plan
    assert (plan.interval_s, plan.frame_count, plan.columns, plan.rows) == (0.5, 102, 10, 10)
    assert [s.path.name for s in result.keyframes.sheets] == ["sheet_000.jpg", "sheet_001.jpg"]
    assert probe_media(result.proxy.path).video.frame_rate == 5.0  # type: ignore[union-attr]
    assert_keyframes_match_their_sheets(result, 51.0)


def test_audio_only_source_is_refused(tmp_path: Path) -> None:
    source = make_audio(tmp_path / "a.wav", seconds=1)

    with pytest.raises(UnsupportedMedia, match=r"a\.wav has no video stream"):
        derive(source, tmp_path / "out")


def test_truncated_faststart_mp4_is_corrupt_and_leaves_nothing(
    clip: MakeClip, tmp_path: Path
) -> None:
    whole = clip("faststart.mp4", seconds=4, width=320, height=240,
                 extra=("-movflags", "+faststart"))  # fmt: skip
    # moov comes first, so the half still probes: only decoding finds the cut.
    cut = make_truncated(whole, tmp_path / "cut.mp4")
    out_dir = tmp_path / "out"

    with pytest.raises(CorruptMedia, match=r"cut\.mp4 decodes to 2\.\d s of its 4\.0 s: the file"):
        derive(cut, out_dir)

    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (make_no_streams, CorruptMedia, "no audio or video streams"),
        (make_zero_length, CorruptMedia, "zero-length video"),
        (make_html, UnsupportedMedia, "is an HTML/XML page"),
    ],
)
def test_bad_files_fail_before_any_output(
    tmp_path: Path, make: object, error: type[Exception], message: str
) -> None:
    source = make(tmp_path / "bad.mp4")  # type: ignore[operator]
    out_dir = tmp_path / "out"

    with pytest.raises(error, match=message):
        derive(source, out_dir)

    assert not out_dir.exists()


def test_time_limit_stops_the_run_and_cleans_up(clip: MakeClip, tmp_path: Path) -> None:
    source = clip("av.mp4", seconds=3, width=320, height=240)

    with pytest.raises(MediaTimeout, match=r"longer than its limit of 0\.01 s on av\.mp4"):
        derive(source, tmp_path, VideoOptions(time_limit_s=0.01))

    assert list(tmp_path.iterdir()) == []
