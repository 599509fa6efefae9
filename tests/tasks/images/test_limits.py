"""Bad input: each refused with the right error and a message naming the problem."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from core.errors import CorruptMedia, EmptySource, SourceNotFound, UnsupportedMedia
from tasks.images import ImageOptions, probe_image, process_image
from tests.fixtures.images import encoded, scene


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def forged_png(width: int, height: int) -> bytes:
    """Return a PNG whose header claims ``width`` x ``height`` over a few bytes of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def process(path: Path, **options: Any) -> None:
    process_image(path, out_dir=path.parent / "out", options=ImageOptions(**options))


def test_zero_byte_file(tmp_path: Path) -> None:
    with pytest.raises(EmptySource, match=r"empty file: empty\.jpg holds 0 bytes"):
        process(write(tmp_path, "empty.jpg", b""))


def test_bytes_that_are_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match=r"not an image: Pillow cannot identify notes\.jpg"):
        process(write(tmp_path, "notes.jpg", b"these are meeting notes, not a picture\n" * 20))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="no such file"):
        process(tmp_path / "gone.png")


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = encoded(scene(400, 300, seed=5), "JPEG", quality=90)

    with pytest.raises(CorruptMedia, match=r"^truncated JPEG: image file is truncated"):
        process(write(tmp_path, "cut.jpg", data[: len(data) * 2 // 3]))


def test_jpeg_cut_inside_its_header(tmp_path: Path) -> None:
    data = encoded(scene(400, 300, seed=5), "JPEG", quality=90)

    with pytest.raises(CorruptMedia, match=r"^truncated JPEG"):
        process(write(tmp_path, "stub.jpg", data[:300]))


def test_png_with_a_broken_data_crc(tmp_path: Path) -> None:
    data = bytearray(encoded(scene(200, 100, seed=6), "PNG"))
    idat = data.find(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    data[idat + 4 + length] ^= 0xFF  # first byte of the IDAT CRC

    with pytest.raises(CorruptMedia, match=r"^PNG chunk CRC mismatch in IDAT chunk"):
        process(write(tmp_path, "crc.png", bytes(data)))


def test_png_with_a_broken_header_crc(tmp_path: Path) -> None:
    data = bytearray(encoded(scene(200, 100, seed=6), "PNG"))
    data[29] ^= 0xFF  # inside the IHDR CRC

    with pytest.raises(CorruptMedia, match=r"^PNG chunk CRC mismatch in IHDR chunk"):
        process(write(tmp_path, "crc.png", bytes(data)))


def test_truncated_png(tmp_path: Path) -> None:
    data = encoded(scene(200, 100, seed=6), "PNG")

    with pytest.raises(CorruptMedia, match=r"^truncated PNG"):
        process(write(tmp_path, "cut.png", data[: len(data) // 2]))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    # 120 MP claimed over 64 bytes of pixels: decoding would fail with CorruptMedia,
    # so UnsupportedMedia proves the size was refused before any decoding.
    path = write(tmp_path, "bomb.png", forged_png(12000, 10000))

    with pytest.raises(UnsupportedMedia) as caught:
        process(path)
    assert str(caught.value) == (
        "image too large: 12000x10000 is 120.0 MP, above the limit of 100.0 MP (100000000 pixels)"
    )
    with pytest.raises(UnsupportedMedia, match="12000x10000"):
        probe_image(path)


def test_pixel_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1000)).save(path)

    with pytest.raises(UnsupportedMedia, match=r"2000x1000 is 2\.0 MP, above the limit of 1\.0 MP"):
        process(path, max_pixels=1_000_000)
    process(path, max_pixels=2_000_000)


def test_giant_header_past_pillows_own_guard(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="image too large"):
        process(write(tmp_path, "huge.png", forged_png(30000, 30000)), max_pixels=10**9)
