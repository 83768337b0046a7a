"""Metadata mediation (``protect metadata``): chmod, chown, utimes, xattrs, inode flags.

Landlock never mediates metadata: a sandbox that may only *read* ``~/project`` can still
``chmod 777`` it, move its times or set extended attributes. With ``protect metadata`` the
filter sends these calls here, and one is allowed only when its object lies inside a
*writable* grant (and not under a deny); otherwise it fails with EPERM. No question is
asked: the policy decides.

As for sockets, an allowed call is never *continued*: its path sits in the process's
memory and could be swapped after the check. The supervisor resolves the path itself (no
link followed blindly, see :mod:`walk`) and makes the change on the inode it checked, or
on its own copy of the descriptor for the ``f*`` calls. Objects outside the filesystem
(pipes, sockets, anonymous inodes) are not the user's files and are left alone.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct

from nonoc.runtime.supervisor import memory, walk
from nonoc.runtime.supervisor.grants import GrantTable
from nonoc.runtime.supervisor.handoff import take_fd
from nonoc.runtime.supervisor.notif import Listener, Notification
from nonoc.runtime.supervisor.syscalls import METADATA_CALLS, METADATA_IOCTLS
from nonoc.runtime.supervisor.verdict import CONTINUE, DROPPED, Event, Verdict, fail, returns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = -100, 0x100, 0x1000
XATTR_NAME_MAX, XATTR_SIZE_MAX = 255, 65536
_SYS_FILE_SETATTR = 469  # generic table: x86_64 and aarch64
_NULL = 0

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.fchownat.argtypes = [
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_uint,
    ctypes.c_uint,
    ctypes.c_int,
]
_libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]

#: Calls naming their object by path: (path argument, dirfd argument or None, flags
#: argument or None, follows a final link by default).
_BY_PATH: dict[str, tuple[int, int | None, int | None, bool]] = {
    "chmod": (0, None, None, True),
    "fchmodat": (1, 0, None, True),
    "fchmodat2": (1, 0, 3, True),
    "chown": (0, None, None, True),
    "lchown": (0, None, None, False),
    "fchownat": (1, 0, 4, True),
    "utime": (0, None, None, True),
    "utimes": (0, None, None, True),
    "futimesat": (1, 0, None, True),
    "utimensat": (1, 0, 3, True),
    "setxattr": (0, None, None, True),
    "lsetxattr": (0, None, None, False),
    "setxattrat": (1, 0, 2, True),
    "removexattr": (0, None, None, True),
    "lremovexattr": (0, None, None, False),
    "removexattrat": (1, 0, 2, True),
    "file_setattr": (1, 0, 4, True),
}
#: Calls naming their object by descriptor (argument 0).
_BY_FD = ("fchmod", "fchown", "fsetxattr", "fremovexattr", "ioctl")


class Target:
    """The object a metadata call acts on: a walk's ``O_PATH`` descriptor, or our copy of the fd.

    ``empty_path``: act on the descriptor itself with ``AT_EMPTY_PATH`` (``*at`` calls and
    every path-named object); otherwise the plain ``f*`` call (``fchmod``, ``fchown``…).
    """

    __slots__ = ("empty_path", "fd", "path", "symlink")

    def __init__(self, fd: int, path: str, empty_path: bool, symlink: bool = False) -> None:
        self.fd, self.path, self.empty_path, self.symlink = fd, path, empty_path, symlink

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self.fd)


class MetadataMediator:
    """Decide and perform metadata calls against the writable grants."""

    def __init__(self, grants: GrantTable) -> None:
        self.grants = grants

    def handles(self, name: str) -> bool:
        """Whether ``name`` is a metadata call (or ``ioctl``) this mediator answers."""
        return name in METADATA_CALLS or name == "ioctl"

    def handle(self, listener: Listener, n: Notification, name: str) -> tuple[Verdict, Event]:
        """Resolve the object, check it is writable, then make the change ourselves."""
        pid = n.pid
        if name == "ioctl" and (n.args[1] & 0xFFFFFFFF) not in METADATA_IOCTLS:
            return CONTINUE, Event(name, pid, "continue", "granted")
        if not self.grants.protect_metadata:
            return CONTINUE, Event(name, pid, "continue", "granted")
        try:
            target = self._target(n, name)
        except OSError as exc:
            code = exc.errno or errno.EINVAL
            reason = "walk_error" if code != errno.EFAULT else "bad_arguments"
            return fail(code), Event(name, pid, "deny", reason, error=code)
        try:
            if not listener.is_valid(n.id):
                return DROPPED, Event(name, pid, "deny", "bad_arguments")
            place = target.path.removesuffix(" (deleted)")
            if not place.startswith("/"):
                reason = "not_a_path"
            elif self.grants.never_grantable(place):
                return fail(errno.EPERM), Event(
                    name, pid, "deny", "never_grantable", place, "metadata", errno.EPERM
                )
            elif self.grants.writable(place):
                reason = "writable"
            else:
                return fail(errno.EPERM), Event(
                    name, pid, "deny", "not_writable", place, "metadata", errno.EPERM
                )
            change = _change(n, name, target)
            if not listener.is_valid(n.id):
                return DROPPED, Event(name, pid, "deny", "bad_arguments")
            try:
                result = change()
            except OSError as exc:
                return fail(exc.errno or errno.EPERM), Event(
                    name, pid, "allow", reason, place, "metadata", exc.errno
                )
            return returns(result), Event(name, pid, "allow", reason, place, "metadata")
        finally:
            target.close()

    def _target(self, n: Notification, name: str) -> Target:
        pid, args = n.pid, n.args
        if name in _BY_FD:
            fd = take_fd(pid, n.arg32(0))
            return Target(fd, _fd_path(fd), empty_path=False)
        path_arg, dirfd_arg, flags_arg, follow = _BY_PATH[name]
        flags = (args[flags_arg] & 0xFFFFFFFF) if flags_arg is not None else 0
        dirfd = n.arg32(dirfd_arg) if dirfd_arg is not None else AT_FDCWD
        pointer = args[path_arg]
        if pointer == _NULL and name in ("utimensat", "futimesat"):
            flags |= AT_EMPTY_PATH  # a NULL path acts on dirfd itself
            path = ""
        else:
            try:
                path = memory.read_path(pid, pointer)
            except OSError as exc:
                if exc.errno != errno.ENOENT or not flags & AT_EMPTY_PATH:
                    raise
                path = ""
        if not path:
            fd = take_fd(pid, dirfd)
            return Target(fd, _fd_path(fd), empty_path=True)
        start_at = f"/proc/{pid}/cwd" if dirfd == AT_FDCWD else f"/proc/{pid}/fd/{dirfd}"
        start = os.open(start_at, os.O_PATH | os.O_CLOEXEC)
        try:
            root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_CLOEXEC)
            try:
                found = walk.resolve(
                    path, start, root, follow_final=follow and not flags & AT_SYMLINK_NOFOLLOW
                )
            finally:
                os.close(root)
        finally:
            os.close(start)
        if found.on_procfs:
            found.close()
            raise OSError(errno.EPERM, "procfs objects are not changed by the supervisor")
        return Target(found.fd, found.path, empty_path=True, symlink=found.is_symlink)


def _fd_path(fd: int) -> str:
    try:
        return walk.fd_path(fd)
    except OSError:
        return "?"


def _change(n: Notification, name: str, target: Target) -> Callable[[], int]:
    """Read the call's values from the process now; return the change to make on ``target``."""
    pid, args, fd = n.pid, n.args, target.fd
    proc = f"/proc/self/fd/{fd}"
    if name.startswith(("chmod", "fchmod")):
        mode = args[1 if name in ("chmod", "fchmod") else 2] & 0o7777
        if not target.empty_path:
            return _call(os.fchmod, fd, mode)
        if target.symlink:
            raise OSError(errno.EOPNOTSUPP, "a symlink's mode cannot be changed")
        return _call(os.chmod, proc, mode)
    if name in ("chown", "lchown", "fchown", "fchownat"):
        first = 2 if name == "fchownat" else 1
        uid, gid = args[first] & 0xFFFFFFFF, args[first + 1] & 0xFFFFFFFF
        if not target.empty_path:
            return _call(os.fchown, fd, _id(uid), _id(gid))
        return lambda: _check(_libc.fchownat(fd, b"", uid, gid, AT_EMPTY_PATH))
    if name in ("utime", "utimes", "futimesat", "utimensat"):
        times = _times(pid, name, args)
        at_flags = 0 if not target.empty_path else AT_EMPTY_PATH
        return lambda: _check(
            _libc.utimensat(fd, b"" if target.empty_path else None, times, at_flags)
        )
    if name == "file_setattr":
        size = args[3]
        if size > 4096:
            raise OSError(errno.E2BIG, "fsxattr too large")
        raw = memory.read_exact(pid, args[2], size) if size else b""
        return lambda: _check(
            _libc.syscall(
                ctypes.c_long(_SYS_FILE_SETATTR),
                ctypes.c_int(fd),
                b"",
                raw,
                ctypes.c_size_t(size),
                ctypes.c_uint(AT_EMPTY_PATH),
            )
        )
    if name == "ioctl":
        command = args[1] & 0xFFFFFFFF
        size = 4 if command != METADATA_IOCTLS[-1] else 28
        argument = bytearray(memory.read_exact(pid, args[2], size))
        return lambda: int(fcntl.ioctl(fd, command, argument))
    return _xattr(n, name, target)


def _xattr(n: Notification, name: str, target: Target) -> Callable[[], int]:
    pid, args = n.pid, n.args
    name_arg = {"setxattrat": 3, "removexattrat": 3}.get(name, 1)
    attribute = memory.read_path(pid, args[name_arg], XATTR_NAME_MAX + 1)
    on: int | str = target.fd if not target.empty_path else f"/proc/self/fd/{target.fd}"
    if target.symlink:
        raise OSError(
            errno.EPERM, "extended attributes on symlinks are not changed by the supervisor"
        )
    if "remove" in name:
        return _call(os.removexattr, on, attribute)
    if name == "setxattrat":
        usize = args[5]
        if usize < 16:
            raise OSError(errno.EINVAL, "xattr_args too small")
        value_ptr, size, flags = struct.unpack("=QII", memory.read_exact(pid, args[4], 16))
    else:
        value_ptr, size, flags = args[2], args[3], args[4] & 0xFFFFFFFF
    if size > XATTR_SIZE_MAX:
        raise OSError(errno.E2BIG, "xattr value too large")
    value = memory.read_exact(pid, value_ptr, size) if size else b""
    return _call(os.setxattr, on, attribute, value, flags)


_TIMESPEC2 = struct.Struct("=qqqq")


def _times(pid: int, name: str, args: tuple[int, ...]) -> bytes | None:
    """The call's times as ``struct timespec[2]`` bytes (``None``: now)."""
    pointer = args[2] if name in ("futimesat", "utimensat") else args[1]
    if pointer == _NULL:
        return None
    if name == "utimensat":
        return memory.read_exact(pid, pointer, _TIMESPEC2.size)
    if name == "utime":
        actime, modtime = struct.unpack("=qq", memory.read_exact(pid, pointer, 16))
        return _TIMESPEC2.pack(actime, 0, modtime, 0)
    a_sec, a_usec, m_sec, m_usec = struct.unpack("=qqqq", memory.read_exact(pid, pointer, 32))
    if not (0 <= a_usec < 1_000_000 and 0 <= m_usec < 1_000_000):
        raise OSError(errno.EINVAL, "bad timeval")
    return _TIMESPEC2.pack(a_sec, a_usec * 1000, m_sec, m_usec * 1000)


def _id(value: int) -> int:
    return -1 if value == 0xFFFFFFFF else value


def _call(function: Callable[..., None], *arguments: Any) -> Callable[[], int]:
    """A change that calls ``function(*arguments)`` and returns 0 (what the call returns)."""

    def change() -> int:
        function(*arguments)
        return 0

    return change


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return 0
