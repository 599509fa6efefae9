"""Open local files (plain paths and file:// URLs), only below the configured roots."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from core.errors import ForbiddenSource, InvalidSource, SourceNotFound
from core.settings import Settings
from tasks.filenames import safe_filename
from tasks.source_stream import SourceStream
from tasks.spool import CHUNK_BYTES


def local_path(source: str) -> Path:
    """Turn a plain path or a file:// URL into a path (not yet resolved or checked)."""
    if not source.lower().startswith("file:"):
        return Path(source).expanduser()
    parts = urlsplit(source)
    if parts.netloc not in ("", "localhost"):
        raise InvalidSource(f"{source} names a remote host; file:// sources must be local")
    if not parts.path:
        raise InvalidSource(f"{source} has no path")
    return Path(url2pathname(parts.path))


def confine(path: Path, roots: list[Path]) -> Path:
    """Resolve ``path`` (symlinks and '..' included) and return it if it lies below a root."""
    real = path.resolve()
    if not roots:
        raise ForbiddenSource(
            f"refusing to read {path}: local sources are disabled; "
            "set ASSETFLOW_LOCAL_ROOTS to the directories they may come from"
        )
    if not any(real.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise ForbiddenSource(
            f"refusing to read {path}: it resolves to {real}, outside the local roots "
            f"({allowed}); add its directory to ASSETFLOW_LOCAL_ROOTS to allow it"
        )
    return real


@contextmanager
def open_local(source: str, *, settings: Settings) -> Iterator[SourceStream]:
    """Open a local source below ``settings.local_roots`` for streaming."""
    path = local_path(source)
    real = confine(path, settings.local_roots)
    with _open_regular(real, shown=path) as stream:
        size = os.fstat(stream.fileno()).st_size
        yield SourceStream(
            chunks=iter(lambda: stream.read(CHUNK_BYTES), b""),
            size=size,
            content_type=None,
            filename=safe_filename(real.name),
        )


@contextmanager
def _open_regular(real: Path, *, shown: Path) -> Iterator[BinaryIO]:
    # O_NOFOLLOW: ``real`` had no symlink when it was checked, so one that
    # appears now was swapped in after the check.
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise SourceNotFound(f"{shown} does not exist") from exc
    except PermissionError as exc:
        raise ForbiddenSource(f"{shown} is not readable by assetflow") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ForbiddenSource(f"{shown} changed into a symlink while being opened") from exc
        raise InvalidSource(f"cannot open {shown}: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidSource(f"{shown} is not a regular file")
    with os.fdopen(fd, "rb") as stream:
        yield stream
