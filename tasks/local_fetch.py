"""Open local files (plain paths and file:// URLs), only below the configured roots.

Below a root nothing is followed: no symlink, whatever it points at, and the
directories are reached through descriptors (``tasks.beneath``), so one
swapped for a symlink while a fetch runs is refused too. Only regular files
are read; a FIFO or a device is refused without waiting on it. Messages name
the path as given, never where a symlink points.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from core.errors import (
    ForbiddenSource,
    IngestError,
    InvalidSource,
    SourceNotFound,
    SourceUnavailable,
)
from core.redact import redact_source
from core.settings import Settings
from tasks.beneath import Resolver, default_resolver, open_directory_beneath
from tasks.filenames import safe_filename
from tasks.source_stream import SourceStream
from tasks.spool import CHUNK_BYTES

# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
_NOT_REGULAR = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def local_path(source: str) -> Path:
    """Turn a plain path or a file:// URL into a path (not yet resolved or checked)."""
    if not source.lower().startswith("file:"):
        return Path(source).expanduser()
    parts = urlsplit(source)
    shown = redact_source(source)
    if parts.netloc not in ("", "localhost"):
        raise InvalidSource(f"{shown} names a remote host; file:// sources must be local")
    if not parts.path:
        raise InvalidSource(f"{shown} has no path")
    return Path(url2pathname(parts.path))


def below_a_root(path: Path, roots: list[Path], *, shown: str) -> tuple[Path, PurePosixPath]:
    """Return the root ``path`` lies below and the path relative to it.

    '..' is taken by name (below a root no symlink is followed, so it cannot
    mean anything else); symlinks above a root are the machine's own layout
    and are followed, so ``/data`` reaches a root configured as ``/mnt/data``.
    """
    if not roots:
        raise ForbiddenSource(
            f"refusing to read {shown}: local sources are disabled; "
            "set ASSETFLOW_LOCAL_ROOTS to the directories they may come from"
        )
    absolute = Path(os.path.abspath(path))  # noqa: PTH100 (resolve() would follow symlinks)
    for root in roots:  # the common case, without a system call
        if absolute.is_relative_to(root):
            return root, PurePosixPath(absolute.relative_to(root))
    # Reached through a symlink above the root: from '/' down, the first
    # directory that resolves to a root; below it, nothing is followed.
    for ancestor in reversed((absolute, *absolute.parents)):
        real = Path(os.path.realpath(ancestor))
        if real in roots:
            return real, PurePosixPath(absolute.relative_to(ancestor))
    allowed = ", ".join(str(root) for root in roots)
    raise ForbiddenSource(
        f"refusing to read {shown}: it is outside the local roots ({allowed}); "
        "add its directory to ASSETFLOW_LOCAL_ROOTS to allow it"
    )


@contextmanager
def open_local(
    source: str, *, settings: Settings, resolver: Resolver | None = None
) -> Iterator[SourceStream]:
    """Open a local source below ``settings.local_roots`` for streaming.

    ``resolver`` says how the directories are reached (default: openat2 where
    the kernel has it); both refuse every symlink below the root.
    """
    shown = redact_source(source)
    root, relative = below_a_root(local_path(source), settings.local_roots, shown=shown)
    how = resolver or default_resolver()
    with open_regular_beneath(root, relative, how=how, shown=shown) as stream:
        yield SourceStream(
            chunks=_chunks(stream, shown=shown),
            size=os.fstat(stream.fileno()).st_size,
            content_type=None,
            filename=safe_filename(relative.name),
        )


@contextmanager
def open_regular_beneath(
    root: Path, relative: PurePosixPath, *, how: Resolver, shown: str
) -> Iterator[BinaryIO]:
    """Open the regular file ``relative`` below ``root``, following no symlink below it.

    Refusals are IngestErrors that name the path as ``shown``.
    """
    try:
        fd = _open_file(root, relative, how=how, shown=shown)
    except OSError as exc:
        raise _refusal(exc, shown) from exc
    try:
        # Again on what was opened: the name may have changed since it was checked.
        _check_regular(os.fstat(fd).st_mode, shown=shown)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as stream:
        yield stream


def _open_file(root: Path, relative: PurePosixPath, *, how: Resolver, shown: str) -> int:
    """Open ``root/relative`` for reading, every directory reached by descriptor."""
    top = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        directory = open_directory_beneath(top, relative.parent, resolver=how)
    finally:
        os.close(top)
    try:
        name = relative.name or "."
        # Checked before opening, so a device is not even opened.
        mode = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        _check_regular(mode, shown=shown)
        return os.open(name, _READ_FLAGS, dir_fd=directory)
    finally:
        os.close(directory)


def _check_regular(mode: int, *, shown: str) -> None:
    if not stat.S_ISREG(mode):
        kind = _NOT_REGULAR.get(stat.S_IFMT(mode), "something else")
        raise InvalidSource(f"{shown} is {kind}, not a regular file: only files are read")


def _refusal(exc: OSError, shown: str) -> IngestError:
    """Say why a local file could not be opened: the path as given, never a link's target."""
    if exc.errno == errno.ELOOP:
        return ForbiddenSource(
            f"refusing to read {shown}: its path goes through a symbolic link, "
            "and links below the local roots are not followed"
        )
    if exc.errno == errno.ENOENT:
        return SourceNotFound(f"{shown} does not exist")
    if exc.errno == errno.ENOTDIR:
        return SourceNotFound(f"{shown} does not exist: a part of its path is not a directory")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ForbiddenSource(f"{shown} is not readable by assetflow")
    if exc.errno == errno.EXDEV:
        return ForbiddenSource(f"refusing to read {shown}: it leads outside the local roots")
    return InvalidSource(f"cannot open {shown}: {exc.strerror}")


def _chunks(stream: BinaryIO, *, shown: str) -> Iterator[bytes]:
    try:
        yield from iter(lambda: stream.read(CHUNK_BYTES), b"")
    except OSError as exc:
        raise SourceUnavailable(f"reading {shown} failed: {exc.strerror}") from exc
