"""Cut an audio track into fixed-length, mono, loudness-normalised fragments, in the one decode."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import CorruptMedia
from storage.digest import digest_file

Codec = Literal["opus", "aac"]
Normalizer = Literal["loudnorm", "dynaudnorm"]

# Per codec: ffmpeg encoder, file extension, segment container, content type.
# Opus in Ogg is audio/ogg (RFC 7845); AAC in an MP4 container is audio/mp4.
_CODECS: dict[str, tuple[str, str, str, str]] = {
    "opus": ("libopus", "opus", "ogg", "audio/ogg"),
    "aac": ("aac", "m4a", "mp4", "audio/mp4"),
}
# Both codecs take 48 kHz; Opus takes nothing else above 24 kHz.
FRAGMENT_SAMPLE_RATE = 48000
# loudnorm (EBU R128) in its single-pass, dynamic mode brings every asset to
# the same integrated loudness, so fragments of different assets play at one
# level; it costs about 3x dynaudnorm (measured here: 2.0 s vs 0.6 s of CPU
# for 60 s of audio, Opus encode included), which is small next to a video
# proxy. dynaudnorm evens the level inside one track instead (a quiet intro is
# raised to the level of the chorus) and is the cheap choice.
_NORMALIZERS: dict[str, str] = {
    "loudnorm": "loudnorm=I=-16:TP=-1.5:LRA=11",
    "dynaudnorm": "dynaudnorm",
}
_LISTING = "fragments.csv"


@dataclass(frozen=True)
class AudioFragment:
    """One stored fragment file: ``duration_s`` seconds of the track from ``offset_s``."""

    path: Path
    index: int
    offset_s: float
    duration_s: float
    content_type: str
    size_bytes: int
    sha256: str


def fragment_outputs(
    *,
    out_dir: Path,
    fragment_s: float,
    codec: Codec,
    bitrate: str,
    normalizer: Normalizer,
) -> list[str]:
    """Return the ffmpeg output arguments writing every fragment and a CSV list of their times.

    The audio is re-encoded, so the segment muxer cuts at the first codec frame
    at or after each multiple of ``fragment_s`` (20 ms for Opus, 21.3 ms for
    AAC at 48 kHz), measured from the start, so the error does not add up.
    """
    encoder, extension, container, _ = _CODECS[codec]
    return [
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1",
        "-af", f"{_NORMALIZERS[normalizer]},aresample={FRAGMENT_SAMPLE_RATE}",
        "-c:a", encoder, "-b:a", bitrate,
        "-f", "segment", "-segment_time", f"{fragment_s}", "-segment_format", container,
        "-reset_timestamps", "1",
        "-segment_list", str(out_dir / _LISTING), "-segment_list_type", "csv",
        str(out_dir / f"fragment-%05d.{extension}"),
    ]  # fmt: skip


def collect_fragments(out_dir: Path, *, codec: Codec, name: str) -> list[AudioFragment]:
    """Describe the fragments the decode wrote into ``out_dir``, in order; the last is shorter."""
    listing = out_dir / _LISTING
    if not listing.is_file():
        raise CorruptMedia(f"ffmpeg cut no audio fragments of {name}")
    content_type = _CODECS[codec][3]
    fragments = []
    with listing.open(newline="") as rows:
        for index, (file_name, start, end) in enumerate(csv.reader(rows)):
            path = out_dir / file_name
            digest = digest_file(path)
            fragments.append(
                AudioFragment(
                    path=path,
                    index=index,
                    offset_s=float(start),
                    duration_s=round(float(end) - float(start), 6),
                    content_type=content_type,
                    size_bytes=digest.size,
                    sha256=digest.sha256,
                )
            )
    listing.unlink()
    return fragments
