"""Running ffmpeg: progress, time limit, failures explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CorruptMedia, MediaTimeout
from tasks.video.transcode import done_fraction, parse_progress, run_ffmpeg


def test_progress_blocks_give_the_time_written() -> None:
    lines = [
        "frame=0\n", "out_time_us=N/A\n", "progress=continue\n",
        "out_time_us=-23000\n", "progress=continue\n",
        "frame=50\n", "out_time_us=2000000\n", "progress=continue\n",
        "out_time_us=8000000\n", "progress=end\n",
    ]  # fmt: skip

    assert list(parse_progress(lines)) == [
        (0.0, False), (0.0, False), (2.0, False), (8.0, True),
    ]  # fmt: skip


def test_done_fraction_is_capped_and_ends_at_one() -> None:
    assert done_fraction(2.0, 8.0, finished=False) == 0.25
    assert done_fraction(9.0, 8.0, finished=False) == 1.0
    assert done_fraction(7.9, 8.0, finished=True) == 1.0
    assert done_fraction(5.0, 0.0, finished=False) == 1.0


def lavfi_encode(tmp_path: Path, seconds: float) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-progress", "pipe:1", "-y", "-f", "lavfi", "-i", f"testsrc2=s=160x90:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", str(tmp_path / "out.mp4"),
    ]  # fmt: skip


def test_progress_reaches_one_in_the_calling_thread(tmp_path: Path) -> None:
    seen: list[float] = []

    run_ffmpeg(
        lavfi_encode(tmp_path, 2),
        duration_s=2,
        time_limit_s=60,
        subject="x",
        on_progress=seen.append,
    )

    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen)
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_time_limit_kills_ffmpeg(tmp_path: Path) -> None:
    with pytest.raises(MediaTimeout, match=r"longer than its limit of 0\.01 s on clip\.mp4"):
        run_ffmpeg(lavfi_encode(tmp_path, 30), duration_s=30, time_limit_s=0.01, subject="clip.mp4")


def test_failure_is_corrupt_media_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(missing), str(tmp_path / "o.mp4")]

    with pytest.raises(CorruptMedia) as caught:
        run_ffmpeg(cmd, duration_s=1, time_limit_s=60, subject="missing.mp4")

    assert str(caught.value) == (
        f"ffmpeg failed on missing.mp4 (exit 1): {missing}: No such file or directory"
    )


def test_a_failing_callback_stops_ffmpeg(tmp_path: Path) -> None:
    def explode(fraction: float) -> None:
        raise RuntimeError("listener gone")

    with pytest.raises(RuntimeError, match="listener gone"):
        run_ffmpeg(
            lavfi_encode(tmp_path, 30), duration_s=30, time_limit_s=60, subject="x",
            on_progress=explode,
        )  # fmt: skip
