"""Read a parked thread's memory: path strings, socket addresses, small structures.

``process_vm_readv`` reads the *current* address space of the pid (an ``exec`` since the
last read is followed, unlike a kept ``/proc/PID/mem`` descriptor); ``/proc/PID/mem`` is
the fallback where the call is missing. Everything read here is a snapshot: the process
may rewrite its memory a moment later, so a caller never lets the kernel act on what the
process wrote (``CONTINUE``) unless Landlock independently enforces the same decision.
Callers check the notification is still valid *after* reading, which proves the pid was
still the parked thread's (not a recycled one) when the bytes were taken.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading

#: The kernel's limit on a path argument, terminating NUL included (``getname``).
PATH_MAX = 4096
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
FIRST_READ = 256


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_readv = getattr(_libc, "process_vm_readv", None)
if _readv is not None:
    # No argtypes: their checks triple the cost of a call made on every notification. Every
    # argument is passed as a ctypes object or a C int, so nothing is left to guess.
    _readv.restype = ctypes.c_ssize_t
_ONE, _NO_FLAGS = ctypes.c_ulong(1), ctypes.c_ulong(0)


def read(pid: int, address: int, size: int) -> bytes:
    """Up to ``size`` bytes at ``address`` in ``pid``; fewer when the mapping ends first.

    Raises ``OSError(EFAULT)`` when not even the first byte is readable, and
    ``OSError(ESRCH)`` when the process is gone.
    """
    if size <= 0:
        return b""
    if address == 0:
        raise OSError(errno.EFAULT, "null pointer")
    if _readv is not None:
        if size <= _PAGE:
            buffer, local, remote, local_ref, remote_ref = _scratch.parts
        else:
            buffer = ctypes.create_string_buffer(size)
            local, remote = _IoVec(ctypes.addressof(buffer), size), _IoVec(None, 0)
            local_ref, remote_ref = ctypes.byref(local), ctypes.byref(remote)
        local.len = remote.len = size
        remote.base = address
        got = _readv(pid, local_ref, _ONE, remote_ref, _ONE, _NO_FLAGS)
        if got > 0:
            return ctypes.string_at(buffer, got)
        err = ctypes.get_errno()
        if got == 0 or err == errno.EFAULT:
            raise OSError(errno.EFAULT, "unreadable address")
        if err != errno.ENOSYS:
            raise OSError(err, os.strerror(err))
    return _read_proc_mem(pid, address, size)


class _Scratch(threading.local):
    """A page-sized read buffer and its iovecs, per thread: every notification reads."""

    def __init__(self) -> None:
        buffer = ctypes.create_string_buffer(_PAGE)
        local, remote = _IoVec(ctypes.addressof(buffer), _PAGE), _IoVec(None, 0)
        self.parts = (buffer, local, remote, ctypes.byref(local), ctypes.byref(remote))


_scratch = _Scratch()


def _read_proc_mem(pid: int, address: int, size: int) -> bytes:
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise OSError(errno.ESRCH, "no such process") from None
    try:
        data = os.pread(fd, size, address)
    except OSError:
        raise OSError(errno.EFAULT, "unreadable address") from None
    finally:
        os.close(fd)
    if not data:
        raise OSError(errno.EFAULT, "unreadable address")
    return data


def read_exact(pid: int, address: int, size: int) -> bytes:
    """Exactly ``size`` bytes at ``address``, or ``OSError(EFAULT)``."""
    data = read(pid, address, size)
    while len(data) < size:
        more = read(pid, address + len(data), size - len(data))
        data += more
    return data


def read_path(pid: int, address: int, limit: int = PATH_MAX) -> str:
    """The NUL-terminated path at ``address``, as the kernel's ``getname`` would take it.

    Reads page by page (a string may end just before an unmapped page). Raises
    ``OSError(ENAMETOOLONG)`` when no NUL is found within ``limit`` bytes,
    ``OSError(ENOENT)`` for an empty path and ``OSError(EFAULT)`` for a bad pointer.
    Paths are decoded with ``surrogateescape`` (bytes, not text, are what the kernel sees).
    """
    taken = bytearray()
    cursor = address
    first = True
    while len(taken) < limit:
        # Never ask across a page boundary in one go: the next page may be unmapped. Most
        # paths are short: the first read takes at most FIRST_READ bytes.
        span = min(_PAGE - (cursor % _PAGE), limit - len(taken))
        if first:
            span, first = min(span, FIRST_READ), False
        try:
            chunk = read(pid, cursor, span)
        except OSError as exc:
            if exc.errno == errno.EFAULT and taken:
                raise OSError(errno.EFAULT, "path runs into unmapped memory") from None
            raise
        end = chunk.find(b"\0")
        if end >= 0:
            taken += chunk[:end]
            if not taken:
                raise OSError(errno.ENOENT, "empty path")
            return taken.decode("utf-8", "surrogateescape")
        taken += chunk
        cursor += len(chunk)
    raise OSError(errno.ENAMETOOLONG, "path longer than PATH_MAX")


def open_for_writing(pid: int) -> int:
    """A ``/proc/PID/mem`` descriptor to write a call's results back with :func:`write_at`.

    Opened by an unrestricted thread: the access check happens here, once, so a pool
    thread that Landlock restricts (see :mod:`netrules`) can still write through it.
    """
    try:
        return os.open(f"/proc/{pid}/mem", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise OSError(errno.ESRCH, "no such process") from None


def write_at(mem_fd: int, address: int, data: bytes) -> None:
    """Write ``data`` at ``address`` through a descriptor from :func:`open_for_writing`."""
    try:
        done = os.pwrite(mem_fd, data, address)
    except OSError:
        raise OSError(errno.EFAULT, "unwritable address") from None
    if done != len(data):
        raise OSError(errno.EFAULT, "unwritable address")
