"""What the one ffmpeg command is told to do, read from its argument list."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.video.commands import derive_command, even_fit, poster_chain, poster_times
from tasks.video.keyframes import plan_keyframes
from tasks.video.probe import MediaProbe, StreamInfo
from tasks.video.profiles import PROXY_PROFILES, VideoOptions


def probe_of(width: int, height: int, *, audio: bool = True, rotation: int = 0) -> MediaProbe:
    """Build the probe of a 10 s source with one video (and one audio) stream."""
    streams = [StreamInfo(index=0, kind="video", codec="h264", width=width, height=height,
                          rotation=rotation)]  # fmt: skip
    if audio:
        streams.append(StreamInfo(index=1, kind="audio", codec="aac", channels=6))
    return MediaProbe("mov,mp4", duration_s=10.0, size_bytes=1, bit_rate=1, streams=tuple(streams))


def command_for(
    probe: MediaProbe, options: VideoOptions | None = None, *, make_proxy: bool = True
) -> list[str]:
    options = options or VideoOptions()
    plan = plan_keyframes(probe.duration_s, probe.display_width or 0, probe.display_height or 0)
    return derive_command(
        Path("/in/src.mov"),
        probe=probe,
        options=options,
        plan=plan,
        work_dir=Path("/w"),
        make_proxy=make_proxy,
    )


def value_after(cmd: list[str], flag: str, start: int = 0) -> str:
    return cmd[cmd.index(flag, start) + 1]


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        ((1920, 1080), (1280, 720), (1280, 720)),
        ((3840, 2160), (1920, 1080), (1920, 1080)),
        ((1080, 1920), (1280, 720), (720, 1280)),  # portrait stays portrait
        ((641, 361), (1280, 720), (640, 360)),  # never upscaled, made even
        ((643, 361), (1280, 720), (642, 360)),
        ((1440, 1080), (1280, 720), (960, 720)),
        ((2000, 500), (1280, 720), (1280, 320)),
        ((1000, 1000), (1280, 720), (720, 720)),
        ((3, 3), (1280, 720), (2, 2)),
    ],
)
def test_even_fit(source: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]) -> None:
    assert even_fit(*source, *box) == expected


def test_proxy_is_h264_without_b_frames_at_the_profile_rates() -> None:
    cmd = command_for(probe_of(1920, 1080))

    assert value_after(cmd, "-c:v") == "libx264"
    assert value_after(cmd, "-bf") == "0"
    assert value_after(cmd, "-pix_fmt") == "yuv420p"
    assert value_after(cmd, "-profile:v") == "high"
    assert (value_after(cmd, "-b:v"), value_after(cmd, "-maxrate")) == ("3M", "4M")
    assert value_after(cmd, "-bufsize") == "8M"
    assert value_after(cmd, "-movflags") == "+faststart"
    assert value_after(cmd, "-preset") == "veryfast"
    graph = value_after(cmd, "-filter_complex")
    assert graph.startswith("[0:0]scale=1280:720,setsar=1,split=3")
    assert "[proxy_in]format=yuv420p[proxy]" in graph


def test_1080p_profile_and_preset_are_honoured() -> None:
    cmd = command_for(probe_of(3840, 2160), VideoOptions(proxy="1080p", preset="faster"))

    assert (value_after(cmd, "-b:v"), value_after(cmd, "-maxrate")) == ("5M", "6M")
    assert value_after(cmd, "-preset") == "faster"
    assert "scale=1920:1080," in value_after(cmd, "-filter_complex")
    assert PROXY_PROFILES["1080p"].long_edge == 1920


def test_audio_becomes_aac_stereo_48k_from_the_probed_stream() -> None:
    cmd = command_for(probe_of(640, 360))

    assert "0:1" in cmd
    assert value_after(cmd, "-c:a") == "aac"
    assert (value_after(cmd, "-ac"), value_after(cmd, "-ar")) == ("2", "48000")
    assert value_after(cmd, "-b:a") == "128k"
    assert "-an" not in cmd


def test_silent_source_gives_a_proxy_without_audio() -> None:
    cmd = command_for(probe_of(640, 360, audio=False))

    assert "-an" in cmd
    assert "-c:a" not in cmd


def test_rotated_source_is_sized_as_displayed() -> None:
    graph = value_after(command_for(probe_of(1920, 1080, rotation=90)), "-filter_complex")

    assert "scale=720:1280," in graph
    assert "scale=160:284," in graph  # sprite tiles are portrait too


def test_one_decode_scaled_once_feeds_proxy_sprites_and_posters() -> None:
    cmd = command_for(probe_of(1920, 1080))
    graph = value_after(cmd, "-filter_complex")

    assert cmd.count("-i") == 1
    # The full-size picture is scaled once, before the split; only the sprites shrink further.
    assert graph.startswith("[0:0]scale=1280:720,setsar=1,split=3[proxy_in][sprite_in][poster_in];")
    assert graph.count("scale=") == 2
    assert "fps=1000/500,trim=end_frame=20,scale=160:90,setsar=1,tile=10x2[sprites]" in graph
    assert cmd[-1] == "/w/poster_%02d.jpg"
    assert "/w/sheet_%03d.jpg" in cmd
    assert "/w/proxy.mp4" in cmd
    assert value_after(cmd, "-progress") == "pipe:1"


def test_from_a_proxy_the_same_decode_makes_sprites_and_posters_only() -> None:
    with_proxy = command_for(probe_of(1920, 1080))
    cmd = command_for(probe_of(1920, 1080), make_proxy=False)
    graph = value_after(cmd, "-filter_complex")

    assert graph.startswith("[0:0]scale=1280:720,setsar=1,split=2[sprite_in][poster_in];")
    assert "[proxy" not in graph and "libx264" not in cmd and "/w/proxy.mp4" not in cmd
    # The sprite and poster branches are the pipeline's own, unchanged.
    branches = value_after(with_proxy, "-filter_complex").split(";")[2:]
    assert graph.split(";")[1:] == branches
    assert cmd[-1] == "/w/poster_%02d.jpg" and "/w/sheet_%03d.jpg" in cmd


def test_poster_candidates_are_spread_over_the_duration() -> None:
    assert poster_times(20.0, (0.1, 0.25, 0.5, 0.75, 0.9)) == [2.0, 5.0, 10.0, 15.0, 18.0]
    chain = poster_chain([2.0, 5.5])

    assert chain == (
        "select='isnan(prev_selected_t)+gte(t,2)*lt(prev_selected_t,2)"
        "+gte(t,5.5)*lt(prev_selected_t,5.5)'"
    )


def test_streams_are_mapped_by_their_probed_index() -> None:
    probe = MediaProbe(
        "matroska",
        duration_s=4.0,
        size_bytes=1,
        bit_rate=1,
        streams=(
            StreamInfo(index=0, kind="video", codec="mjpeg", width=600, height=600, cover_art=True),
            StreamInfo(index=1, kind="audio", codec="flac", channels=2),
            StreamInfo(index=2, kind="video", codec="vp9", width=1280, height=720),
        ),
    )

    cmd = command_for(probe)

    assert value_after(cmd, "-filter_complex").startswith("[0:2]scale=1280:720,")
    assert "0:1" in cmd
