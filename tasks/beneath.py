"""Reach a directory below another one without following a symlink or leaving it.

A path checked by name and then opened by name can change in between: a
directory inside a local root swapped for a symlink to ``/etc`` after the
check is followed by the open. Here every step holds a file descriptor, not a
name, so nothing swapped in after a step can redirect the next one:

- ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`` (Linux 5.6+) resolves the
  whole path in the kernel, refusing any symlink and any way out;
- elsewhere, a walk opens one component at a time relative to the last
  (``O_PATH | O_NOFOLLOW``) and refuses a component that is a symlink.

Python has no wrapper for openat2 (CPython issue 81106): it is called through
``syscall(2)``. Errors are ``OSError`` with the errno openat2 would give:
ELOOP for a symlink, ENOENT, ENOTDIR, EXDEV for '..'.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import stat
from enum import StrEnum
from pathlib import PurePosixPath

# openat2 has number 437 on every architecture with the unified syscall table
# (x86_64, aarch64, arm, riscv64, ppc64le, s390x, i386); alpha and ia64 differ.
_OPENAT2 = 437
_OPENAT2_MACHINES = frozenset(
    {"x86_64", "amd64", "aarch64", "arm64", "armv7l", "riscv64", "ppc64le", "s390x", "i686"}
)
# linux/openat2.h
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_DIRECTORY_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class Resolver(StrEnum):
    """How a path below a directory is resolved."""

    OPENAT2 = "openat2"  # the kernel resolves it, in one call
    WALK = "walk"  # one component at a time, each relative to the last


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


def default_resolver() -> Resolver:
    """Return OPENAT2 when this kernel has it, else WALK."""
    return Resolver.OPENAT2 if kernel_has_openat2() else Resolver.WALK


@functools.cache
def kernel_has_openat2() -> bool:
    """Tell whether openat2 works here (a kernel before 5.6 or a seccomp filter may lack it)."""
    if platform.machine().lower() not in _OPENAT2_MACHINES:
        return False
    root = os.open("/", _DIRECTORY_FLAGS)
    try:
        os.close(_openat2(root, "."))
    except OSError as exc:
        # ENOSYS: no such syscall; EPERM: an older container seccomp profile refuses it.
        if exc.errno in (errno.ENOSYS, errno.EPERM):
            return False
        raise
    finally:
        os.close(root)
    return True


def open_directory_beneath(root: int, relative: PurePosixPath, *, resolver: Resolver) -> int:
    """Return an ``O_PATH`` descriptor of the directory ``relative`` below the directory ``root``.

    No component may be a symlink (ELOOP) or '..' (EXDEV); ``relative`` of
    ``.`` is ``root`` itself. The caller closes the descriptor.
    """
    if relative.is_absolute() or ".." in relative.parts:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
    if resolver is Resolver.OPENAT2:
        return _openat2(root, str(relative))
    return _walk(root, relative.parts)


def _openat2(directory: int, path: str) -> int:
    how = _OpenHow(
        flags=_DIRECTORY_FLAGS,
        mode=0,
        resolve=_RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS,
    )
    fd = _libc().syscall(
        ctypes.c_long(_OPENAT2),
        ctypes.c_int(directory),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(fd)


def _walk(root: int, parts: tuple[str, ...]) -> int:
    current = os.dup(root)
    try:
        for part in parts:
            # O_PATH | O_NOFOLLOW opens a symlink itself instead of failing, so fstat
            # on what was opened (not a name) tells a symlink from a directory.
            step = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            os.close(current)
            current = step
            mode = os.fstat(current).st_mode
            if stat.S_ISLNK(mode):
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
            if not stat.S_ISDIR(mode):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
    except BaseException:
        os.close(current)
        raise
    return current


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc
