"""The video recipe: proxy, poster and keyframe map from one decode of the source."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.video.commands import PROXY_NAME, derive_command
from tasks.video.keyframes import KeyframeMap, KeyframePlan, plan_keyframes, render_vtt
from tasks.video.poster import choose_poster
from tasks.video.probe import MediaProbe, probe_media
from tasks.video.profiles import VideoOptions
from tasks.video.renditions import Rendition, describe_file
from tasks.video.transcode import ProgressCallback, run_ffmpeg

POSTER_NAME = "poster.jpg"
VTT_NAME = "keyframes.vtt"
# A truncated file decodes up to the cut and ffmpeg exits 0 all the same: the
# outputs are called incomplete when they fall short of the streams' probed
# duration by more than this share of it (at least this many seconds), plus a frame.
SHORTFALL_SHARE = 0.05
SHORTFALL_MIN_S = 1.0


@dataclass(frozen=True)
class VideoDerivatives:
    """Everything the video recipe made, as files in the output directory."""

    # None when asked for keyframes and poster only (derived from a proxy).
    proxy: Rendition | None
    poster: Rendition
    keyframes: KeyframeMap


def derive_video(
    source: Path,
    *,
    out_dir: Path,
    probe: MediaProbe,
    options: VideoOptions | None = None,
    on_progress: ProgressCallback | None = None,
    make_proxy: bool = True,
) -> VideoDerivatives:
    """Decode `source` once into proxy.mp4, poster.jpg, sheet_NNN.jpg and keyframes.vtt.

    `make_proxy` False makes no proxy.mp4: `source` is a proxy already.

    The files land in `out_dir` under those fixed names (give each asset its
    own directory); the VTT names the sheets relatively, so `render_vtt` can
    write another with the stored URLs. On failure nothing is left in
    `out_dir`: ffmpeg writes into a scratch directory inside it, removed at the end.
    """
    options = options or VideoOptions()
    if probe.video is None or not probe.display_width or not probe.display_height:
        raise UnsupportedMedia(f"{source.name} has no video stream: nothing to make a proxy of")
    plan = plan_keyframes(
        probe.duration_s,
        probe.display_width,
        probe.display_height,
        frame_width=options.sprite_width,
        columns=options.sprite_columns,
        rows=options.sprite_rows,
        max_frames=options.max_sprite_frames,
        min_interval_s=options.min_sprite_interval_s,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=".video-", dir=out_dir))
    try:
        command = derive_command(
            source,
            probe=probe,
            options=options,
            plan=plan,
            work_dir=work_dir,
            make_proxy=make_proxy,
        )
        run_ffmpeg(
            command,
            duration_s=probe.duration_s,
            time_limit_s=options.time_limit(source),
            subject=source.name,
            on_progress=on_progress,
        )
        return _collect(
            work_dir, out_dir, source=probe, plan=plan, name=source.name, with_proxy=make_proxy
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _check_complete(proxy: MediaProbe, source: MediaProbe, *, name: str) -> None:
    """Raise CorruptMedia when the proxy stops well before the end of the source's streams."""
    streams = [s for s in (source.video, source.audio) if s is not None and s.duration_s]
    expected_s = max((s.duration_s or 0.0 for s in streams), default=source.duration_s)
    video = source.video
    frame_s = 1 / video.frame_rate if video and video.frame_rate else 0.0
    allowed_s = max(SHORTFALL_MIN_S, SHORTFALL_SHARE * expected_s) + frame_s
    if expected_s - proxy.duration_s > allowed_s:
        raise CorruptMedia(
            f"{name} decodes to {proxy.duration_s:.1f} s of its {expected_s:.1f} s: "
            "the file is truncated or damaged"
        )


def _collect(
    work_dir: Path,
    out_dir: Path,
    *,
    source: MediaProbe,
    plan: KeyframePlan,
    name: str,
    with_proxy: bool,
) -> VideoDerivatives:
    """Check what ffmpeg wrote, keep the chosen poster and move the outputs to out_dir."""
    candidates = sorted(work_dir.glob("poster_*.jpg"))
    if not candidates:
        raise CorruptMedia(f"ffmpeg decoded no video frame from {name}")
    # Without a proxy made, the source is the proxy: its own size is the posters'.
    proxy_probe = probe_media(work_dir / PROXY_NAME) if with_proxy else source
    _check_complete(proxy_probe, source, name=name)
    sheets = sorted(work_dir.glob("sheet_*.jpg"))
    if len(sheets) != plan.sheet_count:
        raise CorruptMedia(
            f"ffmpeg wrote {len(sheets)} sprite sheets of {name}, expected {plan.sheet_count}"
        )
    width, height = proxy_probe.display_width or 0, proxy_probe.display_height or 0
    proxy = _move(work_dir / PROXY_NAME, out_dir) if with_proxy else None
    poster = _move(choose_poster(candidates), out_dir, POSTER_NAME)
    sheet_paths = [_move(sheet, out_dir) for sheet in sheets]
    vtt = out_dir / VTT_NAME
    vtt.write_text(render_vtt(plan, [p.name for p in sheet_paths]), encoding="utf-8")
    sheet_w, sheet_h = plan.sheet_size
    return VideoDerivatives(
        proxy=describe_file(
            proxy, content_type="video/mp4", width=width, height=height,
            duration_s=proxy_probe.duration_s,
        ) if proxy else None,
        poster=describe_file(poster, content_type="image/jpeg", width=width, height=height),
        keyframes=KeyframeMap(
            plan=plan,
            sheets=tuple(
                describe_file(p, content_type="image/jpeg", width=sheet_w, height=sheet_h)
                for p in sheet_paths
            ),
            vtt=vtt,
        ),
    )  # fmt: skip


def _move(path: Path, out_dir: Path, name: str | None = None) -> Path:
    """Move a finished file into out_dir (atomically: same filesystem), replacing any old one."""
    target = out_dir / (name or path.name)
    return path.replace(target)
