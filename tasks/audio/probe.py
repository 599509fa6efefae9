"""Find a file's first audio stream with ffprobe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import CorruptMedia, SourceNotFound
from tasks.audio._proc import run_tool, summarise_stderr


@dataclass(frozen=True)
class AudioStream:
    """The first audio stream of a file: what decoding and sizing need."""

    duration_s: float
    sample_rate: int
    channels: int


def probe_audio(path: Path) -> AudioStream | None:
    """Describe the first audio stream of a file, or return None when it has none."""
    if not path.is_file():
        raise SourceNotFound(f"no such file: {path.name}")
    result = run_tool(
        [
            "ffprobe", "-v", "error", "-select_streams", "a:0",
            "-show_entries", "stream=duration,sample_rate,channels:format=duration",
            "-of", "json", str(path),
        ],
        timeout_s=60.0,
    )  # fmt: skip
    if result.returncode != 0:
        raise CorruptMedia(f"ffprobe cannot read {path.name}: {summarise_stderr(result.stderr)}")
    info = json.loads(result.stdout or "{}")
    streams = info.get("streams") or []
    if not streams:
        return None
    stream = streams[0]
    # Containers such as Matroska carry the duration on the format, not the stream.
    duration = stream.get("duration") or info.get("format", {}).get("duration") or 0.0
    return AudioStream(
        duration_s=float(duration),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
    )
