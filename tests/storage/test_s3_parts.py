"""Multipart part sizes: bounded memory, and within S3's 10,000-part limit at any size."""

from __future__ import annotations

from storage.s3 import MAX_PARTS, PART_SIZE, _part_size

GIB = 1024**3


def test_part_size_is_the_fixed_size_up_to_the_part_limit() -> None:
    assert _part_size(1) == PART_SIZE
    assert _part_size(20 * GIB) == PART_SIZE
    assert _part_size(PART_SIZE * MAX_PARTS) == PART_SIZE


def test_part_size_grows_in_whole_mib_beyond_the_part_limit() -> None:
    for size in (PART_SIZE * MAX_PARTS + 1, 200 * GIB, 5 * 1024 * GIB):
        part = _part_size(size)
        assert part % (1024 * 1024) == 0
        assert -(-size // part) <= MAX_PARTS
