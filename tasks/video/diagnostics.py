"""Turn ffmpeg's and ffprobe's stderr into a one-line reason a user can read."""

from __future__ import annotations

import re

# "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55f5026a4180] moov atom not found": the context
# prefix names a pointer, which means nothing to a user.
_CONTEXT_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")
_BANNER = re.compile(
    r"^(ffmpeg version|ffprobe version|built with|configuration:|lib(av|sw|postproc)\w*\s+\d)"
)


def summarise_stderr(stderr: str, *, path: str | None = None, max_lines: int = 2) -> str:
    """Keep the last `max_lines` distinct meaningful lines of a tool's stderr, joined by '; '."""
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = _CONTEXT_PREFIX.sub("", raw.strip())
        if path:
            line = line.removeprefix(f"{path}: ")
        if not line or _BANNER.match(line) or line in lines[-1:]:
            continue
        lines.append(line)
    return "; ".join(lines[-max_lines:]) or "the tool printed no diagnostic"
