"""No media tool reads a file but the one it is given, or takes its time limit from a header."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CorruptMedia, UnsupportedMedia
from core.kinds import AssetKind
from tasks.audio.derive import derive_audio
from tasks.audio.fingerprint import fingerprint_file
from tasks.media_command import DECODE_MIN_S, SAFE_DEMUXERS, decode_time_limit
from tasks.sniff import sniff_file
from tasks.video import VideoOptions, derive_video, probe_media
from tests.fixtures.av_media import make_video
from tests.fixtures.hostile_media import HOSTILE_PLAYLISTS, declare_mkv_duration

# A refusal is a sentence: the bytes do not decode, or they are markup.
REFUSED = (CorruptMedia, UnsupportedMedia)


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A video with sound that no ingest may read: outside every root, named by the playlists."""
    return make_video(
        tmp_path_factory.mktemp("outside") / "secret.ts", seconds=3, width=64, height=48
    )


@pytest.mark.parametrize("name", HOSTILE_PLAYLISTS)
def test_no_media_tool_reads_the_file_a_playlist_names(
    name: str, secret: Path, tmp_path: Path
) -> None:
    hostile = HOSTILE_PLAYLISTS[name](tmp_path / "song.mp3", secret)

    assert sniff_file(hostile, filename="song.mp3").kind not in (AssetKind.AUDIO, AssetKind.VIDEO)
    # Were a step handed it as media all the same, every tool refuses to read it.
    with pytest.raises(REFUSED):
        probe_media(hostile)
    with pytest.raises(REFUSED):
        fingerprint_file(hostile)
    fooled = probe_media(secret)  # what the steps would be told, had the probe followed the list
    with pytest.raises(REFUSED):
        derive_audio(hostile, out_dir=tmp_path / "audio", probe=fooled)
    with pytest.raises(REFUSED):
        derive_video(hostile, out_dir=tmp_path / "video", probe=fooled)
    assert not list((tmp_path / "video").iterdir())


def test_no_demuxer_that_opens_other_inputs_is_allowed() -> None:
    opening = {"hls", "dash", "concat", "ffconcat", "image2", "image2pipe", "webm_dash_manifest",
               "sdp", "rtsp", "rtp", "lavfi", "tee", "avisynth", "vapoursynth", "imf"}  # fmt: skip
    assert not opening & set(SAFE_DEMUXERS)


def test_a_declared_duration_does_not_lengthen_the_time_limit(tmp_path: Path) -> None:
    honest = make_video(tmp_path / "honest.mkv", seconds=2, width=64, height=48)
    boastful = declare_mkv_duration(honest, tmp_path / "boastful.mkv", seconds=36_000)
    assert probe_media(boastful).duration_s == 36_000

    options = VideoOptions()
    assert options.time_limit(boastful) == options.time_limit(honest) == decode_time_limit(honest)
    assert options.time_limit(boastful) < DECODE_MIN_S + 1  # a file of a few KiB
    # The file's claim ends the ingest with a sentence, promptly.
    with pytest.raises(CorruptMedia, match=r"decodes to 2\.0 s of its 36000\.0 s"):
        derive_video(boastful, out_dir=tmp_path / "out", probe=probe_media(boastful))


def test_the_time_limit_grows_with_the_file_size(tmp_path: Path) -> None:
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"\0" * 1024)
    large.write_bytes(b"\0" * 4 * 1024 * 1024)

    assert decode_time_limit(large, min_s=10, s_per_mib=5) == 30
    assert 10 < decode_time_limit(small, min_s=10, s_per_mib=5) < 10.01
    assert VideoOptions(time_limit_s=7.0).time_limit(large) == 7.0
