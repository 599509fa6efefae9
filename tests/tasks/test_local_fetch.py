"""Local sources: nothing below a root is followed, not even a directory swapped mid-fetch."""

from __future__ import annotations

import os
import stat
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ForbiddenSource, InvalidSource, SourceNotFound
from core.settings import Settings
from tasks.beneath import Resolver, default_resolver
from tasks.local_fetch import open_local

RESOLVERS = pytest.mark.parametrize("resolver", list(Resolver))
TRIES = 1500


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the root holding a file the root's users must not read."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "f.bin").write_bytes(b"OUTSIDE")
    return path


@pytest.fixture
def settings(root: Path) -> Settings:
    return Settings(_env_file=None, local_roots=[root])  # type: ignore[call-arg]


def read(source: Path | str, settings: Settings, resolver: Resolver | None = None) -> bytes:
    with open_local(str(source), settings=settings, resolver=resolver) as stream:
        return b"".join(stream.chunks)


def test_this_kernel_resolves_with_openat2() -> None:
    # Linux 5.6+: the WALK cases below are the fallback, OPENAT2 the path taken here.
    assert default_resolver() is Resolver.OPENAT2


@RESOLVERS
def test_a_directory_swapped_for_a_symlink_is_never_followed(
    root: Path, outside: Path, settings: Settings, resolver: Resolver
) -> None:
    (root / "dir").mkdir()
    (root / "dir" / "f.bin").write_bytes(b"inside")
    (root / "link").symlink_to(outside)
    stop = threading.Event()

    def swap() -> None:
        # dir is, in turn: the real directory, missing, a symlink to outside, missing.
        while not stop.is_set():
            os.rename(root / "dir", root / "held")
            os.rename(root / "link", root / "dir")
            os.rename(root / "dir", root / "link")
            os.rename(root / "held", root / "dir")

    seen: Counter[str] = Counter()
    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for _ in range(TRIES):
            try:
                seen[read(root / "dir" / "f.bin", settings, resolver).decode()] += 1
            except ForbiddenSource as exc:
                assert str(outside) not in str(exc)
                seen["refused"] += 1
            except SourceNotFound:
                seen["missing"] += 1
    finally:
        stop.set()
        swapper.join()

    assert seen["OUTSIDE"] == 0, seen
    # The race was run: some tries met the symlink, some the real directory.
    assert seen["refused"] > 0 and seen["inside"] > 0, seen


@RESOLVERS
@pytest.mark.parametrize("where", ["inside", "outside"])
def test_a_symlinked_directory_below_a_root_is_refused_without_saying_where_it_points(
    root: Path, outside: Path, settings: Settings, resolver: Resolver, where: str
) -> None:
    (root / "real").mkdir()
    (root / "real" / "f.bin").write_bytes(b"inside")
    (root / "sub").symlink_to(root / "real" if where == "inside" else outside)

    with pytest.raises(ForbiddenSource, match="symbolic link") as refused:
        read(root / "sub" / "f.bin", settings, resolver)

    assert str(outside) not in str(refused.value) and "real" not in str(refused.value)


@RESOLVERS
def test_a_symlinked_file_is_refused_without_saying_where_it_points(
    root: Path, outside: Path, settings: Settings, resolver: Resolver
) -> None:
    (root / "f.bin").symlink_to(outside / "f.bin")

    with pytest.raises(ForbiddenSource, match="symbolic link") as refused:
        read(root / "f.bin", settings, resolver)

    assert str(outside) not in str(refused.value)


@RESOLVERS
@pytest.mark.timeout(30)
def test_a_fifo_is_refused_at_once(root: Path, settings: Settings, resolver: Resolver) -> None:
    # Opened for reading without O_NONBLOCK, a FIFO waits for a writer forever.
    os.mkfifo(root / "clip.mp4")

    with pytest.raises(InvalidSource, match="is a FIFO, not a regular file"):
        read(root / "clip.mp4", settings, resolver)


@pytest.fixture
def zero_device(root: Path) -> Iterator[Path]:
    """A character device like /dev/zero inside the root (making one needs root, as CI runs)."""
    path = root / "zero.bin"
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    yield path
    path.unlink()


def test_a_device_is_refused(zero_device: Path, settings: Settings) -> None:
    with pytest.raises(InvalidSource, match="is a character device, not a regular file"):
        read(zero_device, settings)


def test_a_symlink_above_the_root_leads_into_it(
    tmp_path: Path, root: Path, settings: Settings
) -> None:
    # The machine's own layout: /data -> /mnt/data with the root set to /data.
    (root / "f.bin").write_bytes(b"inside")
    (tmp_path / "alias").symlink_to(root)

    assert read(tmp_path / "alias" / "f.bin", settings) == b"inside"
    assert read(f"{root}/sub/../f.bin", settings) == b"inside"


def test_dotdot_out_of_the_root_is_refused(root: Path, outside: Path, settings: Settings) -> None:
    with pytest.raises(ForbiddenSource, match="outside the local roots"):
        read(f"{root}/../outside/f.bin", settings)


def test_a_file_in_place_of_a_directory_is_not_found(root: Path, settings: Settings) -> None:
    (root / "plain").write_bytes(b"x")

    with pytest.raises(SourceNotFound, match="not a directory"):
        read(root / "plain" / "f.bin", settings)
