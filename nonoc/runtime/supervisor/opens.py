"""Mediating ``open``, ``openat``, ``openat2`` and ``creat`` (``nono run --supervised``).

Three stages, cheapest first:

1. **fast** (:meth:`OpenMediator.fast`): the path as written, joined to the directory it
   is relative to (read from ``/proc/PID/cwd`` or ``/proc/PID/fd/N``), with no ``..``.
   Inside a never-grantable tree → EPERM. Inside the initial grants with every right the
   flags need → ``CONTINUE``. This is safe even though the process could rewrite the path
   after it was read: the kernel then re-reads it and Landlock, which enforces the same
   grants, decides.
2. **walk** (:meth:`OpenMediator.resolve`): the path resolved component by component from the
   process's own directory descriptors, never following a link blindly (see :mod:`walk`).
   The real path is checked again (never-grantable, inside the grants), then the type
   (regular files and directories only, never procfs).
3. **ask**, then **open**: the answer source is asked about the *real* path; on yes the
   supervisor reopens the inode the walk arrived at (or creates the missing last component
   with ``O_NOFOLLOW``), without ``O_CREAT``/``O_TRUNC`` unless the open writes, and injects
   the descriptor. Nothing the process does after the read can change which file it gets.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from functools import lru_cache

from nonoc.runtime.supervisor import memory, walk
from nonoc.runtime.supervisor.grants import (
    MAKE_REG,
    READ_DIR,
    READ_FILE,
    TRUNCATE,
    WRITE_FILE,
    GrantTable,
)
from nonoc.runtime.supervisor.notif import Notification

AT_FDCWD = -100
O_ACCMODE = 3
O_TMPFILE = getattr(os, "O_TMPFILE", 0o20200000)
#: Flags of the process's open the supervisor carries over to its own open.
KEPT_FLAGS = (
    O_ACCMODE
    | os.O_APPEND
    | os.O_NONBLOCK
    | os.O_DSYNC
    | os.O_SYNC
    | os.O_DIRECTORY
    | os.O_NOCTTY
    | getattr(os, "O_DIRECT", 0)
    | getattr(os, "O_NOATIME", 0)
    | getattr(os, "O_LARGEFILE", 0)
)
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS = 0x01, 0x02, 0x04
RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_CACHED = 0x08, 0x10, 0x20
_OPEN_HOW = struct.Struct("=QQQ")


class Needs:
    """What an open with given flags asks for: access words and the Landlock rights per case."""

    __slots__ = ("access", "create", "directory", "file", "text")

    def __init__(
        self,
        access: frozenset[str],
        text: str,
        file: frozenset[str],
        directory: frozenset[str],
        create: frozenset[str],
    ) -> None:
        self.access, self.text, self.file = access, text, file
        self.directory, self.create = directory, create


@lru_cache(maxsize=256)
def needs(flags: int) -> Needs:
    """The access and rights an open with ``flags`` needs (cached: programs reuse few flags)."""
    mode = flags & O_ACCMODE
    access = set()
    if mode in (os.O_RDONLY, O_ACCMODE, os.O_RDWR):
        access.add("read")
    if mode in (os.O_WRONLY, os.O_RDWR, O_ACCMODE) or flags & (os.O_TRUNC | os.O_CREAT):
        access.add("write")
    if (flags & O_TMPFILE) == O_TMPFILE:
        access.add("write")
    file, directory = set(), set()
    if "read" in access:
        file.add(READ_FILE)
        directory.add(READ_DIR)
    if "write" in access:
        file.add(WRITE_FILE)
    create = {*file, MAKE_REG}
    if flags & os.O_TRUNC:
        file.add(TRUNCATE)
    text = "+".join(sorted(access)) or "path"
    return Needs(frozenset(access), text, frozenset(file), frozenset(directory), frozenset(create))


class OpenCall:
    """A decoded open: directory descriptor, path as written, flags, creation mode."""

    __slots__ = ("dirfd", "flags", "mode", "path", "resolve", "syscall")

    def __init__(
        self, syscall: str, dirfd: int, path: str, flags: int, mode: int, resolve: int = 0
    ) -> None:
        self.syscall, self.dirfd, self.path = syscall, dirfd, path
        self.flags, self.mode, self.resolve = flags, mode, resolve

    def __repr__(self) -> str:
        return (
            f"OpenCall(syscall={self.syscall!r}, dirfd={self.dirfd!r}, path={self.path!r}, "
            f"flags={self.flags!r}, mode={self.mode!r}, resolve={self.resolve!r})"
        )

    @property
    def access(self) -> frozenset[str]:
        """``read`` and/or ``write``, as the kernel checks them for these flags."""
        return needs(self.flags).access

    def rights(self, *, directory: bool, creating: bool) -> frozenset[str]:
        """The Landlock rights this open needs on an object of that kind."""
        found = needs(self.flags)
        if creating:
            return found.create
        return found.directory if directory else found.file


def decode(notification: Notification, syscall: str) -> OpenCall:
    """Read an open's arguments from the parked thread; ``OSError`` carries the errno to return."""
    pid, args = notification.pid, notification.args
    if syscall == "open":
        return OpenCall(
            syscall,
            AT_FDCWD,
            memory.read_path(pid, args[0]),
            args[1] & 0xFFFFFFFF,
            args[2] & 0o7777,
        )
    if syscall == "creat":
        flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC
        return OpenCall(syscall, AT_FDCWD, memory.read_path(pid, args[0]), flags, args[1] & 0o7777)
    dirfd = notification.arg32(0)
    if syscall == "openat":
        return OpenCall(
            syscall, dirfd, memory.read_path(pid, args[1]), args[2] & 0xFFFFFFFF, args[3] & 0o7777
        )
    if syscall == "openat2":
        size = args[3]
        if size < _OPEN_HOW.size:
            raise OSError(errno.EINVAL, "open_how too small")
        if size > 4096:
            raise OSError(errno.E2BIG, "open_how too large")
        raw = memory.read_exact(pid, args[2], size)
        if any(raw[_OPEN_HOW.size :]):
            raise OSError(errno.E2BIG, "unknown open_how fields")
        flags, mode, resolve = _OPEN_HOW.unpack_from(raw)
        return OpenCall(
            syscall, dirfd, memory.read_path(pid, args[1]), flags, mode & 0o7777, resolve
        )
    raise ValueError(f"{syscall} is not an open call")


def base_directory(pid: int, dirfd: int) -> str:
    """The path of the directory a relative path starts from (the cwd or the descriptor's)."""
    if dirfd == AT_FDCWD:
        return os.readlink(f"/proc/{pid}/cwd")
    return os.readlink(f"/proc/{pid}/fd/{dirfd}")


def lexical_path(pid: int, call_dirfd: int, path: str) -> str | None:
    """The absolute path as written, or ``None`` when only a walk can tell (``..``, odd bases)."""
    if not path.startswith("/"):
        try:
            base = base_directory(pid, call_dirfd)
        except OSError:
            return None
        if not base.startswith("/"):
            return None  # a descriptor without a path (pipe:, anon_inode:)
        path = base + "/" + path
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        return None
    return "/" + "/".join(parts)


class Pending:
    """An open that needs an answer: the call, the walk's result and the question's facts."""

    __slots__ = ("call", "notification", "real_path", "target")

    def __init__(
        self, notification: Notification, call: OpenCall, target: walk.Resolved, real_path: str
    ) -> None:
        self.notification, self.call, self.target, self.real_path = (
            notification,
            call,
            target,
            real_path,
        )

    def close(self) -> None:
        """Release the walk's descriptor."""
        self.target.close()


class OpenMediator:
    """The open-side decisions against one grant table (stateless between calls)."""

    def __init__(self, grants: GrantTable) -> None:
        self.grants = grants

    def fast(self, call: OpenCall, absolute: str | None) -> str | None:
        """``never_grantable``, ``granted`` or ``None`` (walk needed), from the path as written."""
        if call.flags & os.O_PATH:
            return "granted"  # O_PATH opens read nothing; Landlock lets them through too
        if absolute is None or call.resolve:
            return None
        found = needs(call.flags)
        if call.flags & os.O_CREAT:
            wanted = found.create
        else:
            wanted = found.directory if call.flags & os.O_DIRECTORY else found.file
        return self.grants.classify(absolute, wanted)

    def resolve(self, notification: Notification, call: OpenCall) -> walk.Resolved:
        """Resolve the call's path from the process's own directories (see :mod:`walk`)."""
        pid = notification.pid
        if call.resolve & ~(
            RESOLVE_NO_MAGICLINKS
            | RESOLVE_NO_SYMLINKS
            | RESOLVE_BENEATH
            | RESOLVE_IN_ROOT
            | RESOLVE_CACHED
        ):
            raise OSError(errno.EPERM, "resolve flags the supervisor does not reproduce")
        if call.resolve & RESOLVE_CACHED:
            raise OSError(errno.EAGAIN, "RESOLVE_CACHED: retry without it")
        where = f"/proc/{pid}/cwd" if call.dirfd == AT_FDCWD else f"/proc/{pid}/fd/{call.dirfd}"
        try:
            start = os.open(where, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            raise OSError(errno.EBADF, "no such descriptor") from None
        try:
            if not stat.S_ISDIR(os.fstat(start).st_mode) and not call.path.startswith("/"):
                raise OSError(errno.ENOTDIR, "the directory descriptor is not a directory")
            in_root = bool(call.resolve & RESOLVE_IN_ROOT)
            root = (
                os.dup(start) if in_root else os.open(f"/proc/{pid}/root", os.O_PATH | os.O_CLOEXEC)
            )
            try:
                exclusive = bool(call.flags & os.O_CREAT and call.flags & os.O_EXCL)
                return walk.resolve(
                    call.path,
                    start,
                    root,
                    follow_final=not (call.flags & os.O_NOFOLLOW or exclusive),
                    no_symlinks=bool(call.resolve & RESOLVE_NO_SYMLINKS),
                    beneath=bool(call.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)),
                    allow_missing=bool(call.flags & os.O_CREAT),
                )
            finally:
                os.close(root)
        finally:
            os.close(start)

    def judge(self, call: OpenCall, target: walk.Resolved) -> tuple[str, int]:
        """After the walk: ``(reason, errno)``; reason ``"ask"`` means a question is due.

        ``granted`` continues (errno 0); every other reason fails with its errno.
        """
        flags = call.flags
        if target.missing is None:
            if flags & os.O_CREAT and flags & os.O_EXCL:
                return "walk_error", errno.EEXIST
            if target.is_symlink:
                return "walk_error", errno.ELOOP
            if flags & os.O_DIRECTORY and not target.is_dir:
                return "walk_error", errno.ENOTDIR
            if target.is_dir and "write" in call.access:
                return "walk_error", errno.EISDIR
        if self.grants.never_grantable(target.path):
            return "never_grantable", errno.EPERM
        creating = target.missing is not None
        if self.grants.allows(target.path, call.rights(directory=target.is_dir, creating=creating)):
            return "granted", 0  # Landlock allows it: the kernel decides, whatever it is
        # What the supervisor would have to open itself:
        if (flags & O_TMPFILE) == O_TMPFILE:
            return "unsupported", errno.EPERM
        if target.missing is None and not (target.is_regular or target.is_dir):
            return "unsupported", errno.EPERM  # devices and FIFOs could block or act on open
        if target.on_procfs:
            return "unsupported", errno.EPERM  # procfs answers by the opener: the supervisor
        return "ask", 0

    def open_for(self, pending: Pending) -> int:
        """Open what the walk found, as the call asked, for injection; raise ``OSError`` on failure.

        Creation and truncation only happen when the open writes (the question said so).
        """
        call, target = pending.call, pending.target
        writes = "write" in call.access
        flags = call.flags & KEPT_FLAGS
        if writes and call.flags & os.O_TRUNC:
            flags |= os.O_TRUNC
        if target.missing is not None:
            if not writes:
                raise OSError(errno.ENOENT, "no such file")
            flags |= call.flags & os.O_EXCL
            fd = walk.create(target, flags, call.mode & ~process_umask(pending.notification.pid))
        else:
            fd = walk.reopen(target, flags)
        try:
            info = os.fstat(fd)
            real = walk.fd_path(fd)
            if not (
                stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)
            ) or self.grants.never_grantable(real):
                raise OSError(errno.EPERM, "the opened object is not what was approved")
        except BaseException:
            os.close(fd)
            raise
        return fd


def process_umask(pid: int) -> int:
    """The process's umask (``/proc/PID/status``), 0o022 if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def command_name(pid: int) -> str:
    """The process's command name (``/proc/PID/comm``), or ``?``."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as comm:
            return comm.read().strip().decode("utf-8", "replace") or "?"
    except OSError:
        return "?"
