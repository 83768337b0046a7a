"""Resolve a path the way the kernel would, one component at a time, never following a link blindly.

The supervisor opens files *for* the sandboxed process, from a process Landlock does not
restrict. It must therefore never let the kernel follow a symlink on its behalf: a link the
agent planted could lead anywhere. :func:`resolve` walks the path with
``openat(dir, name, O_PATH | O_NOFOLLOW)``; a component that turns out to be a symlink is
read with ``readlinkat`` *from the very inode just opened* and its target is walked the same
way (at most 40 links, as the kernel allows). The result is an ``O_PATH`` descriptor of the
exact object the walk arrived at, and the path the kernel holds for it: every later check
and the final open act on that inode, so the path can change afterwards without effect.

Links on procfs (``/proc/self``, ``/proc/PID/fd/N``, ``/proc/PID/root``…) are magic: their
text names the *supervisor's* view, not the sandboxed process's. The walk refuses them.
Standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Flags of every descriptor the walk opens: no access, no link following, no leak on exec.
WALK_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_LINKS = 40
_PROC_DEV = os.stat("/proc").st_dev if os.path.isdir("/proc/self") else -1


class Resolved:
    """Where a walk ended: an ``O_PATH`` descriptor and the kernel's path for it.

    When the last component does not exist, ``fd`` is its parent directory, ``missing``
    is the name and ``path`` the parent's path joined with it; ``mode`` is then 0.
    """

    __slots__ = ("fd", "missing", "mode", "path")

    def __init__(self, fd: int, path: str, mode: int, missing: str | None = None) -> None:
        self.fd, self.path, self.mode, self.missing = fd, path, mode, missing

    def __repr__(self) -> str:
        return (
            f"Resolved(fd={self.fd!r}, path={self.path!r}, mode={self.mode!r}, "
            f"missing={self.missing!r})"
        )

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def is_dir(self) -> bool:
        """Whether the object is a directory."""
        return self.missing is None and stat.S_ISDIR(self.mode)

    @property
    def is_regular(self) -> bool:
        """Whether the object is a regular file."""
        return self.missing is None and stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        """Whether the object is a symlink (only when the last link was not followed)."""
        return self.missing is None and stat.S_ISLNK(self.mode)

    @property
    def on_procfs(self) -> bool:
        """Whether the object lives on procfs (the supervisor never opens those for the agent)."""
        try:
            return os.fstat(self.fd).st_dev == _PROC_DEV
        except OSError:
            return True


def fd_path(fd: int) -> str:
    """The kernel's path for ``fd`` (``/proc/self/fd/N``)."""
    return os.readlink(f"/proc/self/fd/{fd}")


def resolve(
    path: str,
    start_fd: int,
    root_fd: int,
    *,
    follow_final: bool = True,
    no_symlinks: bool = False,
    beneath: bool = False,
    allow_missing: bool = False,
) -> Resolved:
    """Walk ``path`` from ``start_fd`` (relative paths) or ``root_fd`` (absolute ones).

    ``follow_final`` follows a symlink in the last component (``O_NOFOLLOW`` clears it);
    ``no_symlinks`` fails with ELOOP on any symlink (``RESOLVE_NO_SYMLINKS``); ``beneath``
    fails with EXDEV on any escape from ``start_fd`` (``RESOLVE_BENEATH``, with
    ``root_fd`` the same as ``start_fd`` for ``RESOLVE_IN_ROOT``). ``allow_missing``
    returns the parent when only the last component is missing (``O_CREAT``).
    Raises ``OSError`` with the errno the kernel would give. The caller closes the result.
    """
    if not path:
        raise OSError(errno.ENOENT, "empty path")
    quick = _resolve_without_links(path, start_fd, root_fd, follow_final, beneath)
    if quick is not None:
        return quick
    todo: deque[str] = deque(path.split("/"))
    links = 0
    anchor = root_fd if path.startswith("/") else start_fd
    if beneath and path.startswith("/") and root_fd != start_fd:
        raise OSError(errno.EXDEV, "absolute path with RESOLVE_BENEATH")
    current = os.dup(anchor)
    anchor_id = _identity(start_fd if beneath else root_fd)
    try:
        while todo:
            name = todo.popleft()
            last = not any(part not in ("", ".") for part in todo)
            if name in ("", "."):
                continue
            if name == "..":
                if _identity(current) == anchor_id:
                    if beneath and root_fd != start_fd:
                        raise OSError(errno.EXDEV, "'..' escapes the starting directory")
                    continue  # ".." at the root stays at the root, as the kernel does
                parent = os.open("..", WALK_FLAGS | os.O_DIRECTORY, dir_fd=current)
                os.close(current)
                current = parent
                continue
            try:
                child = os.open(name, WALK_FLAGS, dir_fd=current)
            except FileNotFoundError:
                if last and allow_missing:
                    found = Resolved(current, _join(fd_path(current), name), 0, missing=name)
                    current = -1
                    return found
                raise
            mode = os.fstat(child).st_mode
            if stat.S_ISLNK(mode) and (not last or follow_final):
                try:
                    if no_symlinks:
                        raise OSError(errno.ELOOP, "symlink with RESOLVE_NO_SYMLINKS")
                    if os.fstat(current).st_dev == _PROC_DEV:
                        raise OSError(errno.EPERM, "procfs links name the supervisor's view")
                    links += 1
                    if links > MAX_LINKS:
                        raise OSError(errno.ELOOP, "too many levels of symbolic links")
                    target = os.readlink("", dir_fd=child)
                finally:
                    os.close(child)
                if not target:
                    raise OSError(errno.ENOENT, "empty symlink")
                todo.extendleft(reversed(target.split("/")))
                if target.startswith("/"):
                    if beneath and root_fd != start_fd:
                        raise OSError(errno.EXDEV, "absolute symlink with RESOLVE_BENEATH")
                    os.close(current)
                    current = os.dup(root_fd)
                continue
            if not last and not stat.S_ISDIR(mode):
                os.close(child)
                raise OSError(errno.ENOTDIR, "not a directory")
            os.close(current)
            current = child
        mode = os.fstat(current).st_mode
        if path.endswith("/") and not stat.S_ISDIR(mode):
            raise OSError(errno.ENOTDIR, "not a directory")
        result = Resolved(current, fd_path(current), mode)
        current = -1
        return result
    finally:
        if current >= 0:
            os.close(current)


def _resolve_without_links(
    path: str, start_fd: int, root_fd: int, follow_final: bool, beneath: bool
) -> Resolved | None:
    """One ``openat2`` with ``RESOLVE_NO_SYMLINKS``: the whole walk when no link is on the way.

    The kernel then does in one call what the component walk does in many; on any link
    (ELOOP), a missing component or an error the walk words differently, ``None`` hands
    the path to the component walk.
    """
    if _openat2 is None or beneath:
        return None  # RESOLVE_BENEATH/IN_ROOT asked by the process: the walk says EXDEV its way
    resolve = RESOLVE_NO_SYMLINKS
    if path.startswith("/"):
        anchor = root_fd
        resolve |= RESOLVE_IN_ROOT  # an absolute path starts at the process's root, not ours
    else:
        anchor = start_fd
    flags = WALK_FLAGS if not follow_final else WALK_FLAGS & ~os.O_NOFOLLOW
    how = _OpenHow(flags, 0, resolve)
    fd = int(
        _openat2(
            ctypes.c_long(_SYS_OPENAT2),
            ctypes.c_int(anchor),
            path.encode("utf-8", "surrogateescape"),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
    )
    if fd < 0:
        return None
    try:
        mode = os.fstat(fd).st_mode
        return Resolved(fd, fd_path(fd), mode)
    except BaseException:
        os.close(fd)
        raise


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_SYS_OPENAT2 = 437  # the generic table: x86_64 and aarch64
RESOLVE_NO_SYMLINKS, RESOLVE_IN_ROOT = 0x04, 0x10
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _openat2: Any = _libc.syscall
    _openat2.restype = ctypes.c_long
except (OSError, AttributeError):
    _openat2 = None


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def reopen(resolved: Resolved, flags: int) -> int:
    """Open the object a walk arrived at with real access ``flags`` (close-on-exec).

    Goes through ``/proc/self/fd/N``: the kernel reopens the same inode, whatever its path
    has become since. Never creates anything.
    """
    flags &= ~(os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_PATH)
    return os.open(f"/proc/self/fd/{resolved.fd}", flags | os.O_CLOEXEC)


def create(resolved: Resolved, flags: int, mode: int) -> int:
    """Create (or open, without ``O_EXCL``) the missing last component in its parent.

    ``O_NOFOLLOW`` makes a symlink planted there since the walk fail with ELOOP instead of
    being followed.
    """
    if resolved.missing is None:
        raise ValueError("nothing is missing")
    flags = (flags & ~os.O_PATH) | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(resolved.missing, flags, mode, dir_fd=resolved.fd)
