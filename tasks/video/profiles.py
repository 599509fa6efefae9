"""The video recipe's settings: proxy profiles and the knobs of one derivation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tasks.media_command import DECODE_MIN_S, DECODE_S_PER_MIB, decode_time_limit

ProxyName = Literal["720p", "1080p"]


@dataclass(frozen=True)
class ProxyProfile:
    """An H.264/AAC MP4 web proxy: the box it fits in and its rate control."""

    name: ProxyName
    long_edge: int  # the box is long_edge x short_edge, turned to the source's orientation
    short_edge: int
    video_bitrate: str  # -b:v
    maxrate: str
    bufsize: str
    h264_profile: str = "high"
    audio_bitrate: str = "128k"
    audio_rate: int = 48000
    audio_channels: int = 2


# iconik's default proxy: 720p, 3 Mb/s target, 4 Mb/s peak; a buffer of twice the
# peak lets the encoder spend bits on hard scenes without breaking the cap.
PROXY_PROFILES: dict[ProxyName, ProxyProfile] = {
    "720p": ProxyProfile("720p", 1280, 720, video_bitrate="3M", maxrate="4M", bufsize="8M"),
    "1080p": ProxyProfile("1080p", 1920, 1080, video_bitrate="5M", maxrate="6M", bufsize="12M"),
}


@dataclass(frozen=True)
class VideoOptions:
    """How to derive a video's proxy, poster and keyframe map."""

    proxy: ProxyName = "720p"
    # veryfast: on 20 s of the bench clip (1080p -> 720p at 3 Mb/s) it took 13.7 s of
    # CPU for SSIM 0.9973; faster took 16.3 s (+19%) for 0.9974, fast 21.8 s for 0.9974.
    preset: str = "veryfast"
    sprite_width: int = 160
    sprite_columns: int = 10
    sprite_rows: int = 10
    max_sprite_frames: int = 160
    min_sprite_interval_s: float = 0.5
    # Fractions of the duration where poster candidates are taken.
    poster_positions: tuple[float, ...] = field(default=(0.1, 0.25, 0.5, 0.75, 0.9))
    # The ffmpeg run may take min_time_limit_s plus time_limit_s_per_mib for each
    # MiB of the source, unless time_limit_s sets the limit outright. Never from
    # the duration the file declares: a small file can claim ten hours.
    time_limit_s_per_mib: float = DECODE_S_PER_MIB
    min_time_limit_s: float = DECODE_MIN_S
    time_limit_s: float | None = None

    @property
    def profile(self) -> ProxyProfile:
        """Return the chosen proxy profile."""
        return PROXY_PROFILES[self.proxy]

    def time_limit(self, source: Path) -> float:
        """Return the seconds the ffmpeg run may take on this source, from its size."""
        if self.time_limit_s is not None:
            return self.time_limit_s
        return decode_time_limit(
            source, min_s=self.min_time_limit_s, s_per_mib=self.time_limit_s_per_mib
        )
