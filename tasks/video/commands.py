"""Build the one ffmpeg command that decodes a video once and writes every derivative.

The source's picture is scaled once to the proxy's size, then split three
ways in one filter graph: the web proxy, the sprite sheets of the keyframe map
(shrunk further from the proxy-size picture), and a handful of poster
candidates at the proxy's size (DESIGN.md: one process with several outputs
costs ~20% less than three). Each piece is a small function so tests can read
what ffmpeg is told.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tasks.media_command import ffmpeg_command
from tasks.video.keyframes import KeyframePlan
from tasks.video.probe import MediaProbe
from tasks.video.profiles import ProxyProfile, VideoOptions

PROXY_NAME = "proxy.mp4"
SHEET_PATTERN = "sheet_%03d.jpg"
POSTER_PATTERN = "poster_%02d.jpg"
# mjpeg's qscale (2 best .. 31 worst): posters are looked at full size,
# sprite tiles only as thumbnails.
POSTER_QUALITY = 3
SHEET_QUALITY = 5


def even_fit(width: int, height: int, long_edge: int, short_edge: int) -> tuple[int, int]:
    """Fit width x height in the box turned to its orientation, never upscaling, even sides."""
    landscape = width >= height
    box_w, box_h = (long_edge, short_edge) if landscape else (short_edge, long_edge)
    scale = min(1.0, box_w / width, box_h / height)

    def even(value: float, limit: int) -> int:
        # Nearest even size, but never past the box or the source (no upscaling).
        return max(2, min(round(value / 2) * 2, limit // 2 * 2))

    return even(width * scale, min(box_w, width)), even(height * scale, min(box_h, height))


def proxy_size(probe: MediaProbe, profile: ProxyProfile) -> tuple[int, int]:
    """Return the proxy's width and height for this source (as displayed, rotation applied)."""
    width, height = probe.display_width, probe.display_height
    if not width or not height:
        raise ValueError("the source has no video stream to size a proxy from")
    return even_fit(width, height, profile.long_edge, profile.short_edge)


def shared_chain(size: tuple[int, int]) -> str:
    """Scale to the proxy size with square pixels: what every branch starts from."""
    width, height = size
    return f"scale={width}:{height},setsar=1"


# The web proxy in the 4:2:0 every browser decodes; the scale before the split
# converts to it in the same pass, since the split passes one format on.
PROXY_CHAIN = "format=yuv420p"


def sprite_chain(plan: KeyframePlan, duration_s: float) -> str:
    """Sample one frame per interval, shrink it and tile the frames into sheets.

    ``tpad`` clones the last frame past the end so ``fps`` always has a frame
    for the last interval, and ``trim`` stops at exactly the planned count:
    the sheets then match the plan's cues whatever ffmpeg's rounding at the end.
    """
    interval_ms = round(plan.interval_s * 1000)
    return (
        f"tpad=stop_mode=clone:stop_duration={duration_s + plan.interval_s:.3f},"
        f"fps=1000/{interval_ms},trim=end_frame={plan.frame_count},"
        f"scale={plan.frame_width}:{plan.frame_height},setsar=1,"
        f"tile={plan.columns}x{plan.rows}"
    )


def poster_times(duration_s: float, positions: Sequence[float]) -> list[float]:
    """Return the candidate timestamps (seconds) at these fractions of the duration."""
    return sorted({round(duration_s * p, 3) for p in positions if 0 < p < 1})


def poster_chain(times: Sequence[float]) -> str:
    """Keep the first frame and the first frame at or after each time."""
    # prev_selected_t is NAN until a frame is kept, and lt(NAN, x) is 0.
    terms = ["isnan(prev_selected_t)"]
    terms += [f"gte(t,{t:g})*lt(prev_selected_t,{t:g})" for t in times]
    return f"select='{'+'.join(terms)}'"


def filter_graph(
    *, video_index: int, shared: str, proxy: str | None, sprites: str, posters: str
) -> str:
    """Run the shared chain once, then split its picture into the labelled chains.

    ``proxy`` None leaves the proxy out: keyframes and poster only (from a proxy).
    """
    # (input label, chain, output label) of each branch of the split.
    branches = [
        (into, chain, out)
        for into, chain, out in (
            ("proxy_in", proxy, "proxy"),
            ("sprite_in", sprites, "sprites"),
            ("poster_in", posters, "posters"),
        )
        if chain is not None
    ]
    split = "".join(f"[{into}]" for into, _, _ in branches)
    chains = "".join(f";[{into}]{chain}[{out}]" for into, chain, out in branches)
    return f"[0:{video_index}]{shared},split={len(branches)}{split}{chains}"


def proxy_output(
    profile: ProxyProfile, *, preset: str, audio_index: int | None, path: Path
) -> list[str]:
    """Encode H.264 without B-frames (+ AAC stereo when there is audio) into a faststart MP4."""
    video = [
        "-map", "[proxy]",
        "-c:v", "libx264", "-preset", preset, "-profile:v", profile.h264_profile,
        "-pix_fmt", "yuv420p", "-bf", "0",
        "-b:v", profile.video_bitrate, "-maxrate", profile.maxrate, "-bufsize", profile.bufsize,
    ]  # fmt: skip
    if audio_index is None:
        audio = ["-an"]
    else:
        audio = [
            "-map", f"0:{audio_index}",
            "-c:a", "aac", "-b:a", profile.audio_bitrate,
            "-ac", str(profile.audio_channels), "-ar", str(profile.audio_rate),
        ]  # fmt: skip
    # Source tags (a phone's GPS position among them) stay with the original.
    container = ["-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart"]
    return [*video, *audio, *container, str(path)]


def image_output(label: str, *, quality: int, pattern: Path) -> list[str]:
    """Write each frame of a labelled chain as a numbered JPEG, from 0."""
    return [
        "-map", f"[{label}]", "-fps_mode", "passthrough", "-q:v", str(quality),
        "-f", "image2", "-start_number", "0", str(pattern),
    ]  # fmt: skip


def derive_command(
    source: Path,
    *,
    probe: MediaProbe,
    options: VideoOptions,
    plan: KeyframePlan,
    work_dir: Path,
    make_proxy: bool = True,
) -> list[str]:
    """Return the full ffmpeg argument list writing proxy, sheets and posters into work_dir.

    ``make_proxy`` False writes only the sheets and posters (the source is a proxy).
    """
    if probe.video is None:
        raise ValueError("the source has no video stream to derive from")
    size = proxy_size(probe, options.profile)
    graph = filter_graph(
        video_index=probe.video.index,
        shared=shared_chain(size),
        proxy=PROXY_CHAIN if make_proxy else None,
        sprites=sprite_chain(plan, probe.duration_s),
        posters=poster_chain(poster_times(probe.duration_s, options.poster_positions)),
    )
    audio = probe.audio
    proxy = proxy_output(
        options.profile,
        preset=options.preset,
        audio_index=audio.index if audio else None,
        path=work_dir / PROXY_NAME,
    )
    outputs = [
        "-filter_complex", graph,
        *(proxy if make_proxy else []),
        *image_output("sprites", quality=SHEET_QUALITY, pattern=work_dir / SHEET_PATTERN),
        *image_output("posters", quality=POSTER_QUALITY, pattern=work_dir / POSTER_PATTERN),
    ]  # fmt: skip
    return ffmpeg_command(source, outputs=outputs, progress=True)
