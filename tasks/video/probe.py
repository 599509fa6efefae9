"""Read a media file's technical metadata with ffprobe, guarded (tasks/media_command.py)."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.media_command import run_ffprobe
from tasks.video.diagnostics import summarise_stderr

# Pixel formats whose name carries no depth but are 8 bits per component.
_EIGHT_BIT_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv411p",
     "yuv410p", "yuv440p", "yuvj440p", "nv12", "nv21", "nv16", "gray", "rgb24", "bgr24",
     "rgba", "bgra", "argb", "abgr", "rgb0", "bgr0", "0rgb", "0bgr", "yuva420p", "gbrp",
     "uyvy422", "yuyv422"}
)  # fmt: skip
# yuv420p10le, gray12le, gbrp16be, p010le ...: the number is bits per component.
_DEPTH_IN_NAME = re.compile(r"(?:p|gray|gbrp|gbrap)(9|10|12|14|16)(?:le|be)?$|^p0(10|12|16)")
# The first bytes of a web page saved under a media name.
_MARKUP_PREFIXES = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")


@dataclass(frozen=True)
class StreamInfo:
    """One stream as ffprobe sees it; fields that do not apply to its kind are None."""

    index: int
    kind: str  # video, audio, subtitle, data, attachment
    codec: str | None
    profile: str | None = None
    duration_s: float | None = None
    bit_rate: int | None = None
    language: str | None = None
    # Video.
    width: int | None = None
    height: int | None = None
    rotation: int = 0  # clockwise degrees a player turns the picture: 0, 90, 180, 270
    sample_aspect_ratio: str | None = None
    display_aspect_ratio: str | None = None
    frame_rate: float | None = None
    pixel_format: str | None = None
    bit_depth: int | None = None
    has_b_frames: int | None = None
    cover_art: bool = False  # an attached picture (album art), not a moving video
    # Audio.
    channels: int | None = None
    channel_layout: str | None = None
    sample_rate: int | None = None

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown: pixel aspect applied, then the rotation."""
        if not self.width or not self.height:
            return None
        width, height = self.width, self.height
        sar = _ratio(self.sample_aspect_ratio, sep=":")
        if sar and sar != 1:
            width = round(width * sar)
        return (height, width) if self.rotation in (90, 270) else (width, height)


@dataclass(frozen=True)
class MediaProbe:
    """A media file's container and streams."""

    container: str
    duration_s: float
    size_bytes: int | None
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]

    @property
    def video(self) -> StreamInfo | None:
        """Return the first moving-picture stream (cover art does not count)."""
        return next((s for s in self.streams if s.kind == "video" and not s.cover_art), None)

    @property
    def audio(self) -> StreamInfo | None:
        """Return the first audio stream."""
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def display_width(self) -> int | None:
        """Return the video's width as displayed (after rotation), if there is video."""
        size = self.video.display_size if self.video else None
        return size[0] if size else None

    @property
    def display_height(self) -> int | None:
        """Return the video's height as displayed (after rotation), if there is video."""
        size = self.video.display_size if self.video else None
        return size[1] if size else None

    def as_metadata(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field, for the asset graph's Format record."""
        return dataclasses.asdict(self) | {"streams": [dataclasses.asdict(s) for s in self.streams]}


def probe_media(path: Path) -> MediaProbe:
    """Probe `path`; raise CorruptMedia or UnsupportedMedia when it is not playable media."""
    done = run_ffprobe(path, show=["-show_format", "-show_streams"])
    if done.returncode != 0:
        _raise_if_markup(path)
        reason = summarise_stderr(done.stderr, path=f"file:{path.resolve()}")
        raise CorruptMedia(f"{path.name} does not decode as media: {reason}")
    try:
        raw = json.loads(done.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise CorruptMedia(
            f"{path.name} does not decode as media: ffprobe printed no report"
        ) from exc
    return parse_probe(raw, name=path.name)


def parse_probe(raw: dict[str, Any], *, name: str) -> MediaProbe:
    """Build a MediaProbe from ffprobe's JSON (-show_format -show_streams)."""
    fmt = raw.get("format", {})
    streams = tuple(_stream(s) for s in raw.get("streams", []))
    probe = MediaProbe(
        container=fmt.get("format_name", "unknown"),
        duration_s=_duration(fmt, streams),
        size_bytes=_int(fmt.get("size")),
        bit_rate=_int(fmt.get("bit_rate")),
        streams=streams,
    )
    if probe.video is None and probe.audio is None:
        raise CorruptMedia(f"{name}: no audio or video streams ({probe.container})")
    if probe.duration_s <= 0:
        kind = "video" if probe.video else "audio"
        raise CorruptMedia(f"{name}: zero-length {kind} (no frames to decode)")
    return probe


def _stream(raw: dict[str, Any]) -> StreamInfo:
    """Translate one ffprobe stream dict."""
    kind = raw.get("codec_type", "unknown")
    tags = raw.get("tags", {})
    pixel_format = raw.get("pix_fmt")
    return StreamInfo(
        index=int(raw["index"]),
        kind=kind,
        codec=raw.get("codec_name"),
        profile=raw.get("profile"),
        duration_s=_float(raw.get("duration")),
        bit_rate=_int(raw.get("bit_rate")),
        language=tags.get("language"),
        width=_int(raw.get("width")),
        height=_int(raw.get("height")),
        rotation=_rotation(raw) if kind == "video" else 0,
        sample_aspect_ratio=_aspect(raw.get("sample_aspect_ratio")),
        display_aspect_ratio=_aspect(raw.get("display_aspect_ratio")),
        frame_rate=_frame_rate(raw) if kind == "video" else None,
        pixel_format=pixel_format,
        bit_depth=_bit_depth(raw.get("bits_per_raw_sample"), pixel_format),
        has_b_frames=_int(raw.get("has_b_frames")),
        cover_art=bool(raw.get("disposition", {}).get("attached_pic")),
        channels=_int(raw.get("channels")),
        channel_layout=raw.get("channel_layout"),
        sample_rate=_int(raw.get("sample_rate")),
    )


def _duration(fmt: dict[str, Any], streams: tuple[StreamInfo, ...]) -> float:
    """Take the container's duration, else the longest stream's, else zero."""
    duration = _float(fmt.get("duration"))
    if duration is None:
        duration = max((s.duration_s or 0.0 for s in streams), default=0.0)
    return duration


def _rotation(raw: dict[str, Any]) -> int:
    """Return the clockwise display rotation from the display matrix or the rotate tag."""
    for side_data in raw.get("side_data_list", []):
        if "rotation" in side_data:
            # The display matrix's angle is counter-clockwise; players turn clockwise.
            return round(-float(side_data["rotation"])) % 360
    tag = raw.get("tags", {}).get("rotate")
    return round(float(tag)) % 360 if tag else 0


def _frame_rate(raw: dict[str, Any]) -> float | None:
    """Return the average frame rate, falling back to the base rate, to 3 decimals."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        rate = _ratio(raw.get(key), sep="/")
        if rate:
            return round(float(rate), 3)
    return None


def _bit_depth(bits_per_raw_sample: str | None, pixel_format: str | None) -> int | None:
    """Return bits per component from ffprobe's field, else from the pixel format's name."""
    bits = _int(bits_per_raw_sample)
    if bits:
        return bits
    if not pixel_format:
        return None
    if pixel_format in _EIGHT_BIT_FORMATS:
        return 8
    match = _DEPTH_IN_NAME.search(pixel_format)
    return int(match.group(1) or match.group(2)) if match else None


def _aspect(value: str | None) -> str | None:
    """Drop ffprobe's '0:1' (unknown) aspect ratio."""
    return value if value and not value.startswith("0:") else None


def _ratio(value: str | None, *, sep: str) -> Fraction | None:
    """Parse '30000/1001' or '16:9'; None for missing or zero ratios."""
    if not value or sep not in value:
        return None
    num, den = value.split(sep, 1)
    try:
        ratio = Fraction(int(num), int(den))
    except (ValueError, ZeroDivisionError):
        return None
    return ratio or None


def _int(value: object) -> int | None:
    """Parse ffprobe's integer strings; None for 'N/A' and missing."""
    try:
        return int(str(value))
    except ValueError:
        return None


def _float(value: object) -> float | None:
    """Parse ffprobe's decimal strings; None for 'N/A' and missing."""
    try:
        return float(str(value))
    except ValueError:
        return None


def _raise_if_markup(path: Path) -> None:
    """Raise UnsupportedMedia when the file is a web page rather than media."""
    with path.open("rb") as handle:
        head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_MARKUP_PREFIXES):
        raise UnsupportedMedia(
            f"{path.name} is an HTML/XML page, not audio or video "
            "(the server probably sent an error or login page)"
        )
