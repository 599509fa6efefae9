"""Run one ffmpeg command: report its progress, enforce its time limit, explain its failure."""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

from core.errors import CorruptMedia, MediaTimeout
from tasks.video.diagnostics import summarise_stderr

ProgressCallback = Callable[[float], None]

# Enough stderr to explain a failure; a broken stream can print thousands of lines.
STDERR_TAIL_LINES = 40
# How many of the last stderr lines make the error message.
SUMMARY_LINES = 3


def parse_progress(lines: Iterable[str]) -> Iterator[tuple[float, bool]]:
    """Yield (seconds of media written, finished) at each block of ffmpeg's ``-progress``."""
    out_time_s = 0.0
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            out_time_s = max(0, int(value)) / 1_000_000
        elif key == "progress":
            yield out_time_s, value == "end"


def done_fraction(out_time_s: float, duration_s: float, *, finished: bool) -> float:
    """Turn seconds written into the fraction of the job done, 0..1."""
    if finished or duration_s <= 0:
        return 1.0
    return min(1.0, out_time_s / duration_s)


def run_ffmpeg(
    args: Sequence[str],
    *,
    duration_s: float,
    time_limit_s: float,
    subject: str,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Run ffmpeg (with ``-progress pipe:1``) to the end or to its time limit.

    `on_progress` is called from the calling thread. Raises MediaTimeout when
    the limit passes (the process is killed first) and CorruptMedia when
    ffmpeg fails; `subject` names the source in both messages.
    """
    proc = subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None and proc.stderr is not None
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    # stderr is drained on its own thread so a chatty ffmpeg never blocks on a full pipe.
    drain = threading.Thread(target=stderr_tail.extend, args=(proc.stderr,), daemon=True)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(time_limit_s, stop)
    drain.start()
    watchdog.start()
    try:
        for written_s, finished in parse_progress(proc.stdout):
            if on_progress is not None:
                on_progress(done_fraction(written_s, duration_s, finished=finished))
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:  # the callback raised: do not leave ffmpeg running
            proc.kill()
            proc.wait()
        drain.join()
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode == 0:
        return
    if timed_out.is_set():
        raise MediaTimeout(
            f"ffmpeg took longer than its limit of {time_limit_s:g} s on {subject} "
            f"({duration_s:g} s of media) and was stopped"
        )
    reason = summarise_stderr("".join(stderr_tail), max_lines=SUMMARY_LINES)
    raise CorruptMedia(f"ffmpeg failed on {subject} (exit {proc.returncode}): {reason}")
