"""Durable writes for the rollback store: atomic replace, directory fsync, filesystem sync.

Snapshots write thousands of objects; an fsync per object would dominate the cost of a
snapshot on a real disk. Instead objects are written without fsync and the whole
filesystem is flushed once (``syncfs``) before the manifest that references them is made
durable. A crash before that point leaves unreferenced objects, which cleanup removes; a
crash after it leaves a complete snapshot. Restore uses the same two-step flush: every
temporary file is durable before the first rename puts one in place.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import secrets
from pathlib import Path

_libc: ctypes.CDLL | None = None


def fsync_dir(path: str | Path) -> None:
    """Flush a directory's entries (a rename or create inside it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary name in the same directory and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def sync_filesystem(path: str | Path) -> None:
    """Flush every dirty page of the filesystem holding ``path`` (``syncfs``, else ``sync``)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    syncfs = getattr(_libc, "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
