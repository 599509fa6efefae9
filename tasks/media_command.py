"""Build every ffmpeg and ffprobe command line: one local file in, read by a self-contained demuxer.

ffmpeg's demuxers can open inputs of their own: an HLS or DASH playlist names
segments and keys, concat and ffconcat name files, image2 reads a numbered
sequence, mov follows data references. A file handed to us must never make a
tool read another file or the network, so every input is given as

    -protocol_whitelist file -format_whitelist <SAFE_DEMUXERS> -i file:<absolute path>

The protocol list keeps ffmpeg on the local filesystem (a nested open inherits
it), the demuxer list leaves out every demuxer that opens a second input, and
the ``file:`` prefix keeps a name such as ``concat:a|b`` or ``-i`` from being
read as anything but a path. fpcalc takes no such options, so it is not run:
Chromaprint is fed the audio that a guarded ffmpeg decodes (tasks/audio/decode.py).

Time limits never come from a duration the file declares (a header can claim
ten hours): a probe gets a fixed limit, a decode one from the file's size on disk.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from core.errors import MediaTimeout

# Demuxers a tool may use on a file: self-contained containers and streams only.
# Never hls, dash, concat, ffconcat, image2 or any other demuxer that opens a
# second input (mov's data references stay off, its default); devices, network
# protocols and lavfi are not demuxers of files either.
SAFE_DEMUXERS = (
    "mov", "matroska", "avi", "mpeg", "mpegts", "mpegvideo", "m4v", "h264", "hevc", "flv",
    "asf", "ogg", "wav", "w64", "aiff", "flac", "mp3", "aac", "ac3", "eac3", "dts", "truehd",
    "amr", "au", "caf", "wv", "ape", "tta", "mpc", "mpc8", "dsf", "gsm", "voc", "rm", "nut",
    "mxf", "gxf", "dv", "ivf", "obu", "yuv4mpegpipe", "flic", "wtv", "smk", "bink", "swf",
    "vc1", "nsv", "xwma", "mtv", "thp", "roq",
)  # fmt: skip

# ffprobe reads headers, not media: seconds even for a large file. A limit
# far above that stops a probe stuck on a hostile file.
PROBE_TIMEOUT_S = 30.0
# A decode may take DECODE_MIN_S plus DECODE_S_PER_MIB for each MiB of the
# file. The bytes are a fact about the file, unlike its declared duration; the
# allowance suits the slowest honest input, a low-bit-rate video (a 2-hour
# screencast at 200 kb/s, 180 MiB, gets 1.5 h for a 720p transcode that takes
# about 20 min here).
DECODE_MIN_S = 60.0
DECODE_S_PER_MIB = 30.0
_MIB = 1024 * 1024


def guarded_input(path: Path) -> list[str]:
    """Return the arguments that open ``path`` as the one input, by a safe demuxer only."""
    return [
        "-protocol_whitelist", "file", "-format_whitelist", ",".join(SAFE_DEMUXERS),
        "-i", f"file:{path.resolve()}",
    ]  # fmt: skip


def ffprobe_command(path: Path, *, show: Sequence[str]) -> list[str]:
    """Return an ffprobe command printing ``show`` (e.g. ``-show_format``) of ``path`` as JSON."""
    input_args = guarded_input(path)
    options, source = input_args[:-2], input_args[-1]
    return ["ffprobe", "-hide_banner", "-v", "error", *options, *show, "-of", "json", source]


def ffmpeg_command(
    path: Path, *, outputs: Sequence[str], progress: bool = False, loglevel: str = "error"
) -> list[str]:
    """Return an ffmpeg command reading ``path`` (guarded) and writing ``outputs``.

    ``progress`` adds ``-progress pipe:1`` for tasks/video/transcode.py to read.
    """
    head = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel]
    if progress:
        head += ["-progress", "pipe:1"]
    return [*head, "-y", *guarded_input(path), *outputs]


def decode_time_limit(
    path: Path, *, min_s: float = DECODE_MIN_S, s_per_mib: float = DECODE_S_PER_MIB
) -> float:
    """Return the seconds a decode of ``path`` may take: from its size, not its declared length."""
    return min_s + s_per_mib * path.stat().st_size / _MIB


def run_tool(args: Sequence[str], *, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion and return its output; MediaTimeout past ``timeout_s``."""
    try:
        return subprocess.run(
            list(args), capture_output=True, text=True, errors="replace", timeout=timeout_s,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise MediaTimeout(f"{args[0]} ran longer than its limit of {timeout_s:g} s") from exc


def run_ffprobe(path: Path, *, show: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ffprobe on ``path`` within PROBE_TIMEOUT_S; the caller judges the result."""
    return run_tool(ffprobe_command(path, show=show), timeout_s=PROBE_TIMEOUT_S)
