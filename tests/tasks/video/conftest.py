"""Short test videos, made once per session by ffmpeg lavfi, and helpers to inspect outputs."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.av_media import make_video

MakeClip = Callable[..., Path]


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> MakeClip:
    """Return a maker of cached test videos: the same arguments give the same file."""
    media = tmp_path_factory.mktemp("video-media")
    made: dict[str, Path] = {}

    def make(name: str, **kwargs: object) -> Path:
        if name not in made:
            made[name] = make_video(media / name, **kwargs)  # type: ignore[arg-type]
        return made[name]

    return make


def top_level_boxes(path: Path) -> list[str]:
    """List an MP4's top-level box types in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:  # a 64-bit size follows the type
            size = struct.unpack_from(">Q", data, offset + 8)[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes
