"""Run the media tools (ffprobe, ffmpeg, fpcalc) with a time limit."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from core.errors import MediaTimeout

# Long enough for a feature film's audio on a slow core; a stuck decoder is cut off.
TOOL_TIMEOUT_S = 3600.0


def run_tool(
    args: Sequence[str], *, timeout_s: float = TOOL_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion and return its output; the caller judges the result."""
    try:
        return subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaTimeout(f"{args[0]} ran longer than {timeout_s:.0f} s") from exc


def summarise_stderr(stderr: str, *, limit: int = 300) -> str:
    """Return the last meaningful lines of a tool's stderr, short enough for an error message."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = " | ".join(lines[-3:])
    return text[-limit:] if text else "no diagnostic output"
