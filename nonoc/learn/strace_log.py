"""Read strace's output (``strace -f -y -qq -o LOG``) into a ``Trace``.

The lines look like::

    15318 openat(AT_FDCWD</tmp/p>, "in.txt", O_RDONLY|O_CLOEXEC) = 3</tmp/p/in.txt>
    15318 mkdir("d", 0777)                  = 0
    15318 vfork( <unfinished ...>
    15319 execve("/usr/bin/sh", ["sh", "-c", "..."], 0x7ffd /* 35 vars */) = 0
    15318 <... vfork resumed>)              = 15319
    15318 connect(3<socket:[117818]>, {sa_family=AF_INET, sin_port=htons(9), ...}, 16) = -1 ECONNREFUSED (...)

``-y`` annotates every descriptor with its path (``3</tmp/p/in.txt>``, ``AT_FDCWD</tmp/p>``):
the path the kernel resolved, symlinks followed, which is what Landlock checks. Calls
that take a plain path relative to the working directory (``mkdir("d")``) are resolved
against each process's working directory, which this reader follows through ``chdir``,
``fchdir``, the ``AT_FDCWD`` annotations and ``clone``/``fork`` (a child starts where its
parent was).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

from nonoc.learn.events import Endpoint, FileAccess, Mode, Trace
from nonoc.learn.strace_syntax import (
    CALL,
    FAMILIES,
    LINE,
    RESULT,
    RESUMED,
    SOCKET_INODE,
    UNFINISHED,
    clean_annotation,
    decode_c_string,
    fd_annotation,
    quoted,
    sockaddr,
    split_call,
)

#: System calls whose path argument is opened; (index of dirfd or None, index of path).
_OPENS: dict[str, tuple[int | None, int]] = {
    "open": (None, 0),
    "openat": (0, 1),
    "openat2": (0, 1),
    "creat": (None, 0),
    "open_by_handle_at": (None, -1),  # no path: skipped below
}
#: Calls that create or remove a directory entry: write on the entry's parent directory.
#: Value: (dirfd index or None, path index) of each entry they change.
_ENTRY_CHANGES: dict[str, tuple[tuple[int | None, int], ...]] = {
    "mkdir": ((None, 0),),
    "mkdirat": ((0, 1),),
    "mknod": ((None, 0),),
    "mknodat": ((0, 1),),
    "unlink": ((None, 0),),
    "unlinkat": ((0, 1),),
    "rmdir": ((None, 0),),
    "rename": ((None, 0), (None, 1)),
    "renameat": ((0, 1), (2, 3)),
    "renameat2": ((0, 1), (2, 3)),
    "link": ((None, 1),),
    "linkat": ((2, 3),),
    "symlink": ((None, 1),),
    "symlinkat": ((1, 2),),
}
_EXECS: dict[str, tuple[int | None, int]] = {"execve": (None, 0), "execveat": (0, 1)}
_TRUNCATES: dict[str, tuple[int | None, int]] = {"truncate": (None, 0)}
_CLONES = frozenset({"clone", "clone3", "fork", "vfork"})
_SENDS = frozenset({"sendto", "sendmsg", "sendmmsg"})


class StraceReader:
    """Feed strace lines one by one; ``trace`` holds what they meant.

    ``cwd`` is the working directory the command started in. ``realpath`` resolves the
    symlinks of a path the tracer did not resolve (an executed file, a parent directory);
    ``is_dir`` tells whether an opened path is a directory when the flags do not say.
    Both default to asking this host; tests of canned logs replace them.
    """

    def __init__(
        self,
        cwd: str,
        *,
        realpath: Callable[[str], str] = os.path.realpath,
        is_dir: Callable[[str], bool] = os.path.isdir,
    ) -> None:
        self.trace = Trace()
        self.start_cwd = cwd
        self.realpath = realpath
        self.is_dir = is_dir
        self.cwd: dict[int, str] = {}
        self.pending: dict[int, str] = {}
        #: socket inode -> (family, transport), from socket() results.
        self.sockets: dict[str, tuple[str, str]] = {}
        self._seen: set[FileAccess] = set()

    def feed_lines(self, lines: Iterable[str]) -> Trace:
        """Feed every line and return the trace."""
        for line in lines:
            self.feed(line)
        return self.trace

    def feed(self, line: str) -> None:
        """Read one line of strace output."""
        line = line.rstrip("\n")
        match = LINE.match(line)
        if match is None:
            if line.strip():
                self.trace.unparsed += 1
            return
        pid, rest = int(match.group("pid")), match.group("rest")
        if rest.startswith(("---", "+++")):
            return
        resumed = RESUMED.match(rest)
        if resumed is not None:
            head = self.pending.pop(pid, None)
            if head is None:
                self.trace.unparsed += 1
                return
            rest = head + resumed.group("tail")
        elif rest.endswith(UNFINISHED):
            self.pending[pid] = rest[: -len(UNFINISHED)]
            self._first_sight(pid)
            return
        call = CALL.match(rest)
        if call is None:
            self.trace.unparsed += 1
            return
        split = split_call(call.group("rest"))
        if split is None:
            self.trace.unparsed += 1
            return
        args, result_text = split
        result = RESULT.match(result_text)
        if result is None:
            self.trace.unparsed += 1
            return
        self._first_sight(pid)
        self._handle(pid, call.group("name"), args, result)

    # --- working directories -------------------------------------------------------------

    def _first_sight(self, pid: int) -> None:
        """Give a process seen for the first time its parent's working directory."""
        if pid in self.trace.pids:
            return
        self.trace.pids.add(pid)
        if pid in self.cwd:
            return
        # A child can speak before its parent's clone() returns: guess the one process
        # that is in the middle of a clone, if there is exactly one.
        cloning = [
            p for p, head in self.pending.items() if p != pid and head.split("(", 1)[0] in _CLONES
        ]
        parent = cloning[0] if len(cloning) == 1 else None
        self.cwd[pid] = (
            self.cwd.get(parent, self.start_cwd) if parent is not None else self.start_cwd
        )

    def _absolute(self, pid: int, args: list[str], dirfd: int | None, index: int) -> str | None:
        """The absolute path that argument ``index`` names, relative to ``dirfd`` or the cwd."""
        if index < 0 or index >= len(args):
            return None
        path = quoted(args[index])
        if path is None or path == "":
            return None
        if path.startswith("/"):
            return os.path.normpath(path)
        base: str | None = None
        if dirfd is not None and dirfd < len(args):
            fd = fd_annotation(args[dirfd])
            if fd is not None:
                base = fd[1] if fd[0] != "AT_FDCWD" else (fd[1] or self.cwd.get(pid))
        if base is None:
            base = self.cwd.get(pid, self.start_cwd)
        return os.path.normpath(os.path.join(base, path))

    def _note_cwd(self, pid: int, args: list[str]) -> None:
        """Every ``AT_FDCWD</x>`` annotation says where the process stands now."""
        for arg in args[:3]:
            fd = fd_annotation(arg)
            if fd is not None and fd[0] == "AT_FDCWD" and fd[1]:
                self.cwd[pid] = fd[1]

    # --- calls -------------------------------------------------------------------------------

    def _handle(self, pid: int, name: str, args: list[str], result: re.Match[str]) -> None:
        error = result.group("errno")
        value = result.group("value")
        if value == "?" and error is None:
            return  # the process ended inside the call: nothing to learn from it
        self._note_cwd(pid, args)
        if name in _OPENS:
            self._open(pid, name, args, result, error)
        elif name in _EXECS:
            dirfd, index = _EXECS[name]
            path = self._absolute(pid, args, dirfd, index)
            if path is not None:
                resolved = self.realpath(path) if error is None else path
                self._add(FileAccess(resolved, frozenset({"exec"}), name, pid, error=error))
        elif name in _ENTRY_CHANGES:
            for dirfd, index in _ENTRY_CHANGES[name]:
                path = self._absolute(pid, args, dirfd, index)
                if path is None:
                    continue
                parent = os.path.dirname(path) or "/"
                parent = self.realpath(parent) if error is None else parent
                self._add(FileAccess(parent, frozenset({"write"}), name, pid, True, error))
        elif name in _TRUNCATES:
            dirfd, index = _TRUNCATES[name]
            path = self._absolute(pid, args, dirfd, index)
            if path is not None:
                self._add(FileAccess(path, frozenset({"write"}), name, pid, error=error))
        elif name == "chdir" and error is None:
            path = self._absolute(pid, args, None, 0)
            if path is not None:
                self.cwd[pid] = path
        elif name == "fchdir" and error is None:
            fd = fd_annotation(args[0]) if args else None
            if fd is not None and clean_annotation(fd[1]):
                self.cwd[pid] = fd[1]  # type: ignore[assignment]
        elif name in _CLONES and error is None and value.isdigit() and int(value) > 0:
            child = int(value)
            self.cwd.setdefault(child, self.cwd.get(pid, self.start_cwd))
        elif name == "socket" and error is None:
            self._socket(args, result)
        elif name in ("connect", "bind") or name in _SENDS:
            self._endpoint(name, args, error)

    def _open(
        self, pid: int, name: str, args: list[str], result: re.Match[str], error: str | None
    ) -> None:
        dirfd, index = _OPENS[name]
        requested = self._absolute(pid, args, dirfd, index)
        if requested is None:
            return
        if name == "creat":
            flags = "O_WRONLY|O_CREAT|O_TRUNC"
        else:
            flag_arg = index + 1
            flags = args[flag_arg] if flag_arg < len(args) else ""
        words = set(re.findall(r"O_[A-Z_]+", flags))
        if "O_PATH" in words:
            return  # an O_PATH descriptor grants no access: Landlock does not check it
        modes: set[Mode] = set()
        if "O_WRONLY" in words:
            modes.add("write")
        elif "O_RDWR" in words:
            modes.update(("read", "write"))
        else:
            modes.add("read")
        if words & {"O_CREAT", "O_TRUNC", "O_APPEND", "O_TMPFILE"}:
            modes.add("write")
        resolved = clean_annotation(
            result.group("annotation") and decode_c_string(result.group("annotation"))
        )
        path = resolved or requested
        directory = "O_DIRECTORY" in words or (
            error is None and "O_TMPFILE" not in words and self.is_dir(path)
        )
        if "O_TMPFILE" in words:
            directory = True  # an unnamed file in that directory: writing it needs the directory
        self._add(FileAccess(path, frozenset(modes), name, pid, directory, error))

    def _socket(self, args: list[str], result: re.Match[str]) -> None:
        annotation = result.group("annotation")
        inode = SOCKET_INODE.match(decode_c_string(annotation)) if annotation else None
        if inode is None or len(args) < 2:
            return
        family = FAMILIES.get(args[0].strip(), "other")
        kind = args[1]
        transport = "tcp" if "SOCK_STREAM" in kind else "udp" if "SOCK_DGRAM" in kind else "other"
        self.sockets[inode.group("inode")] = (family, transport)

    def _endpoint(self, name: str, args: list[str], error: str | None) -> None:
        if not args:
            return
        address = sockaddr(", ".join(args[1:]))
        if address is None:
            return  # a connected socket's send carries no address
        family, where, port = address
        transport = "unknown"
        fd = fd_annotation(args[0])
        if fd is not None and fd[1]:
            inode = SOCKET_INODE.match(fd[1])
            if inode is not None and inode.group("inode") in self.sockets:
                transport = self.sockets[inode.group("inode")][1]
        operation = "connect" if name == "connect" else "bind" if name == "bind" else "send"
        endpoint = Endpoint(family, operation, where, port, transport, error)  # type: ignore[arg-type]
        if endpoint not in self.trace.endpoints:
            self.trace.endpoints.append(endpoint)

    def _add(self, access: FileAccess) -> None:
        # A long run opens the same files thousands of times: keep each attempt once.
        if access not in self._seen:
            self._seen.add(access)
            self.trace.accesses.append(access)


def read_log(lines: Iterable[str], cwd: str, **options: Callable[[str], object]) -> Trace:
    """Parse strace output (``lines``) of a command started in ``cwd`` into a ``Trace``."""
    reader = StraceReader(cwd, **options)  # type: ignore[arg-type]
    return reader.feed_lines(lines)
