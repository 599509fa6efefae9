from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from core.errors import CorruptMedia
from tasks.audio.derive import AudioOptions, derive_audio
from tasks.audio.fragments import AudioFragment, Codec
from tasks.video import probe_media
from tests.fixtures.audio_media import corrupt_audio, structured_audio


def make_fragments(
    source: Path, *, out_dir: Path, fragment_s: float, codec: Codec = "opus"
) -> list[AudioFragment]:
    """Run the audio recipe and return its fragments."""
    derived = derive_audio(
        source,
        out_dir=out_dir,
        probe=probe_media(source),
        options=AudioOptions(fragment_s=fragment_s, codec=codec),
    )
    assert derived is not None
    return [fragment for fragment, _ in derived.fragments]


def _probe(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate",
         "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    info = json.loads(out)
    return {**info["streams"][0], "duration": float(info["format"]["duration"])}


@pytest.mark.parametrize(
    ("codec", "codec_name", "content_type", "suffix"),
    [("opus", "opus", "audio/ogg", ".opus"), ("aac", "aac", "audio/mp4", ".m4a")],
)
def test_fragments_cover_the_track_in_fixed_lengths(
    tmp_path: Path, codec: str, codec_name: str, content_type: str, suffix: str
) -> None:
    source = structured_audio(tmp_path / "stereo.wav", seed=4, duration_s=25, stereo=True)

    fragments = make_fragments(source, out_dir=tmp_path / "out", fragment_s=10, codec=codec)  # type: ignore[arg-type]

    assert [f.index for f in fragments] == [0, 1, 2]
    # Cut points are within one codec frame (~21 ms) of each multiple of 10 s.
    assert [f.offset_s for f in fragments] == pytest.approx([0, 10, 20], abs=0.025)
    assert [f.duration_s for f in fragments] == pytest.approx([10, 10, 5], abs=0.03)
    for fragment in fragments:
        assert fragment.path.suffix == suffix and fragment.path.parent == tmp_path / "out/fragments"
        assert fragment.content_type == content_type
        data = fragment.path.read_bytes()
        assert fragment.size_bytes == len(data)
        assert fragment.sha256 == hashlib.sha256(data).hexdigest()
        probed = _probe(fragment.path)
        assert probed["codec_name"] == codec_name and probed["channels"] == 1
        assert probed["duration"] == pytest.approx(fragment.duration_s, abs=0.03)
    listed = sorted(p.name for p in (tmp_path / "out/fragments").iterdir())
    assert listed == [f.path.name for f in fragments]


def test_fragments_are_loudness_normalised(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    loud = structured_audio(tmp_path / "loud.wav", seed=2, duration_s=12)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(loud), "-af", "volume=-20dB", str(quiet)], check=True
    )

    def mean_volume(path: Path) -> float:
        err = subprocess.run(
            ["ffmpeg", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
            capture_output=True, text=True,
        ).stderr  # fmt: skip
        return float(err.split("mean_volume:")[1].split("dB")[0])

    quiet_out = make_fragments(quiet, out_dir=tmp_path / "q", fragment_s=30)[0].path
    loud_out = make_fragments(loud, out_dir=tmp_path / "l", fragment_s=30)[0].path

    assert mean_volume(loud) - mean_volume(quiet) == pytest.approx(20, abs=0.5)
    assert abs(mean_volume(quiet_out) - mean_volume(loud_out)) < 2


def test_corrupt_source_raises_corrupt_media(tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia, match=r"bad\.mp3"):
        make_fragments(corrupt_audio(tmp_path / "bad.mp3"), out_dir=tmp_path / "o", fragment_s=30)
