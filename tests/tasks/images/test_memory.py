"""Memory: a limit on decoded bytes, bombs of every format refused from their headers, peak RSS.

Each measured ingest runs in a child process that reports its own peak RSS
(VmHWM: getrusage's ru_maxrss would carry the parent's peak across the
spawn), so what the test process holds does not count.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from PIL import Image

from core.errors import UnsupportedMedia
from tasks.images import ImageOptions, process_image
from tests.fixtures.formats import picture

REPO = Path(__file__).resolve().parents[3]
PEAK_LIMIT_MIB = 512
# The child's own weight (Python, Pillow, numpy, the decoders) is about 95 MiB;
# a refusal that decoded the 200 MB of pixels first would be far above this.
REFUSED_PEAK_MIB = 160
# What an image ingest does to the bytes: recognise them, then derive.
_CHILD = """
import json, re, sys
from pathlib import Path
from core.errors import IngestError
from tasks.images import process_image
from tasks.sniff import sniff_file
try:
    sniff_file(Path(sys.argv[1]))
    result = process_image(Path(sys.argv[1]), out_dir=Path(sys.argv[2]))
    outcome = {"ok": True, "size": [result.probe.width, result.probe.height]}
except IngestError as exc:
    outcome = {"ok": False, "error": str(exc)}
status = Path("/proc/self/status").read_text()
outcome["peak_mib"] = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
print(json.dumps(outcome))
"""


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def streamed_png(path: Path, width: int, height: int, *, bit_depth: int, colour: int) -> Path:
    """Write a real PNG of zero pixels row by row, never holding the image in memory."""
    with path.open("wb") as fh:
        _write_png(fh, width, height, bit_depth=bit_depth, colour=colour)
    return path


def streamed_ico(path: Path, width: int, height: int) -> Path:
    """Write an ICO whose directory says 32x32 and whose PNG picture is ``width`` x ``height``."""
    directory = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, 0, 22)
    with path.open("wb") as fh:
        fh.write(directory)
        _write_png(fh, width, height, bit_depth=8, colour=2)
    return path


def _write_png(fh: BinaryIO, width: int, height: int, *, bit_depth: int, colour: int) -> None:
    channels = {0: 1, 2: 3}[colour]
    row = b"\0" * (1 + width * channels * bit_depth // 8)
    compressor = zlib.compressobj(9)
    fh.write(b"\x89PNG\r\n\x1a\n")
    fh.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)))
    for _ in range(height):
        if data := compressor.compress(row):
            fh.write(_chunk(b"IDAT", data))
    fh.write(_chunk(b"IDAT", compressor.flush()))
    fh.write(_chunk(b"IEND", b""))


def screen_gif(width: int, height: int) -> bytes:
    """Return a 1x1 GIF on a logical screen of ``width`` x ``height``: under 64 bytes."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    image = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + image + b";"


def _measure(path: Path, tmp_path: Path) -> dict[str, object]:
    command = [sys.executable, "-W", "ignore", "-c", _CHILD, str(path), str(tmp_path / "out")]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_issues_sixteen_bit_png_is_refused_without_decoding_it(tmp_path: Path) -> None:
    # 194 KB on disk, 200 MB as 16-bit pixels: it peaked at 1.78 GB before.
    path = streamed_png(tmp_path / "deep.png", 10000, 10000, bit_depth=16, colour=0)
    outcome = _measure(path, tmp_path)
    assert outcome["ok"] is False
    assert str(outcome["error"]).startswith("image too large to decode: 10000x10000 in mode I;16")
    assert float(outcome["peak_mib"]) < REFUSED_PEAK_MIB, outcome  # type: ignore[arg-type]


def test_an_icon_is_refused_before_pillow_decodes_it_while_opening(tmp_path: Path) -> None:
    # 81 MP: under the pixel limit and Pillow's own guard, 324 MB as RGB in Pillow's memory.
    path = streamed_ico(tmp_path / "favicon.ico", 9000, 9000)
    outcome = _measure(path, tmp_path)
    assert outcome["ok"] is False
    assert str(outcome["error"]).startswith(
        "image too large to decode: an icon picture of 9000x9000"
    )
    assert float(outcome["peak_mib"]) < REFUSED_PEAK_MIB, outcome  # type: ignore[arg-type]


def test_a_tiny_gif_on_a_huge_screen_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "screen.gif"
    path.write_bytes(screen_gif(10000, 10000))
    assert path.stat().st_size <= 64
    outcome = _measure(path, tmp_path)
    assert outcome["ok"] is False and "image too large" in str(outcome["error"])
    assert float(outcome["peak_mib"]) < REFUSED_PEAK_MIB, outcome  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "width", "height", "bit_depth", "colour"),
    [("rgb-25mp", 5000, 5000, 8, 2), ("grey16-16mp", 4000, 4000, 16, 0)],
)
def test_the_largest_images_accepted_stay_under_512_mib(
    tmp_path: Path, name: str, width: int, height: int, bit_depth: int, colour: int
) -> None:
    path = streamed_png(tmp_path / f"{name}.png", width, height, bit_depth=bit_depth, colour=colour)
    outcome = _measure(path, tmp_path)
    assert outcome["ok"] is True, outcome
    assert outcome["size"] == [width, height]
    assert float(outcome["peak_mib"]) < PEAK_LIMIT_MIB, outcome  # type: ignore[arg-type]


def _encoded(fmt: str, mode: str = "RGB", **params: object) -> bytearray:
    buffer = io.BytesIO()
    picture(mode).save(buffer, fmt, **params)
    return bytearray(buffer.getvalue())


def _patch(data: bytearray, offset: int, fmt: str, *values: int) -> bytes:
    struct.pack_into(fmt, data, offset, *values)
    return bytes(data)


def _jpeg() -> bytes:
    data = _encoded("JPEG")
    sof = data.find(b"\xff\xc0")
    return _patch(data, sof + 5, ">HH", 60000, 60000)


def _tiff() -> bytes:
    data = _encoded("TIFF")
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<I" if kind == 4 else "<H", data, entry + 8, 60000)
    return bytes(data)


def _ico_with_a_huge_png() -> bytes:
    # The directory says 32x32; the PNG it points at says 12000x10000 (Pillow only warns).
    inner = streamed_png_bytes(12000, 10000)
    directory = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32,
                                                           len(inner), 22)  # fmt: skip
    return directory + inner


def streamed_png_bytes(width: int, height: int) -> bytes:
    """Return a PNG header claiming ``width`` x ``height`` over a few rows of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 4 * width) * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


BOMBS: dict[str, Callable[[], bytes]] = {
    "PNG": lambda: streamed_png_bytes(30000, 30000),
    "GIF": lambda: screen_gif(60000, 60000),
    "JPEG": _jpeg,
    "TIFF": _tiff,
    "BMP": lambda: _patch(_encoded("BMP"), 18, "<ii", 60000, 60000),
    "PPM": lambda: b"P6\n60000 60000\n255\n" + bytes(64),
    "PSD": lambda: b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 60000, 60000, 8, 3) + bytes(64),
    "QOI": lambda: _patch(_encoded("QOI"), 4, ">II", 60000, 60000),
    "TGA": lambda: _patch(_encoded("TGA"), 12, "<HH", 60000, 60000),
    "SGI": lambda: _patch(_encoded("SGI"), 6, ">HH", 60000, 60000),
    "PCX": lambda: _patch(_encoded("PCX"), 8, "<HH", 59999, 59999),
    "DDS": lambda: _patch(_encoded("DDS", "RGBA"), 12, "<II", 60000, 60000),
    "ICO with a PNG entry": _ico_with_a_huge_png,
}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_are_refused_from_their_headers(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"bomb.{name.split()[0].lower()}"
    path.write_bytes(BOMBS[name]())
    with pytest.raises(UnsupportedMedia, match=r"^image too large"):
        process_image(path, out_dir=tmp_path / "out", options=ImageOptions())


def test_the_limit_on_decoded_bytes_is_an_option(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (100, 100)).save(path)
    with pytest.raises(UnsupportedMedia, match=r"100x100 in mode RGB needs 0 MiB, above the limit"):
        process_image(path, out_dir=tmp_path / "o", options=ImageOptions(max_decoded_bytes=1000))
