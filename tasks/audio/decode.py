"""Decode a file's first audio stream once, for every audio derivative at the same time.

One guarded ffmpeg run (tasks/media_command.py) writes the stream as mono
signed 16-bit PCM at its own rate to a pipe and, in the same run, any outputs
the caller adds (the fragments): ffmpeg decodes an input stream once for all
the outputs that map it. The PCM is read in fixed blocks and handed to each
consumer in turn (waveform peaks, Chromaprint), so memory stays bounded
whatever the track's length. Fed mono PCM at the stream's own rate,
Chromaprint gives exactly what fpcalc prints for the file.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import CorruptMedia, MediaTimeout
from tasks.media_command import decode_time_limit, ffmpeg_command
from tasks.video.diagnostics import summarise_stderr

# Whole samples are handed on; a block is 2^20 bytes: half a million samples.
PCM_BLOCK_BYTES = 1 << 20
_SAMPLE_BYTES = 2
# The rate PCM is written at is the stream's own, within the rates real audio
# uses; a header that declares none (or an absurd one) gets CD's rate.
MIN_RATE, MAX_RATE, FALLBACK_RATE = 8000, 192000, 44100

PcmConsumer = Callable[[bytes], None]


@dataclass(frozen=True)
class DecodedTrack:
    """What the decode produced: the PCM's rate and how many samples it held."""

    sample_rate: int
    samples: int

    @property
    def duration_s(self) -> float:
        """Return the decoded length: measured, not what the file declares."""
        return self.samples / self.sample_rate


def pcm_rate(declared: int | None) -> int:
    """Return the rate to decode at: the stream's own when it is a plausible one."""
    return declared if declared and MIN_RATE <= declared <= MAX_RATE else FALLBACK_RATE


def pcm_output(*, sample_rate: int, max_duration_s: float | None = None) -> list[str]:
    """Return the output arguments of the first audio stream as mono s16le PCM on stdout."""
    limit = [] if max_duration_s is None else ["-t", f"{max_duration_s:g}"]
    return [
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate), *limit,
        "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1",
    ]  # fmt: skip


def decode_audio(
    source: Path,
    *,
    sample_rate: int,
    consumers: Sequence[PcmConsumer],
    other_outputs: Sequence[str] = (),
    max_duration_s: float | None = None,
) -> DecodedTrack:
    """Decode ``source``'s first audio stream once, feeding its PCM to every consumer.

    ``other_outputs`` are written by the same run. Raises MediaTimeout past the
    decode's time limit (from the file's size) and CorruptMedia when ffmpeg fails.
    """
    command = ffmpeg_command(
        source,
        outputs=[
            *other_outputs,
            *pcm_output(sample_rate=sample_rate, max_duration_s=max_duration_s),
        ],
    )
    time_limit_s = decode_time_limit(source)
    timed_out = threading.Event()
    samples = 0
    # stderr goes to a file: a pipe left unread could fill and stall ffmpeg.
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        ) as process,
    ):
        assert process.stdout is not None

        def stop() -> None:
            timed_out.set()
            process.kill()

        watchdog = threading.Timer(time_limit_s, stop)
        watchdog.start()
        try:
            pending = b""
            while block := process.stdout.read(PCM_BLOCK_BYTES):
                data = pending + block
                whole = len(data) // _SAMPLE_BYTES * _SAMPLE_BYTES
                pending = data[whole:]
                for consume in consumers:
                    consume(data[:whole])
                samples += whole // _SAMPLE_BYTES
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:  # a consumer raised: do not leave ffmpeg running
                process.kill()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if timed_out.is_set():
        raise MediaTimeout(
            f"ffmpeg took longer than its limit of {time_limit_s:.0f} s "
            f"decoding the audio of {source.name} and was stopped"
        )
    if process.returncode != 0:
        reason = summarise_stderr(stderr, path=f"file:{source.resolve()}")
        raise CorruptMedia(f"ffmpeg cannot decode the audio of {source.name}: {reason}")
    return DecodedTrack(sample_rate=sample_rate, samples=samples)
