"""Unix sockets the sandbox bound itself: a server and its clients both inside may talk.

Landlock ABI 9 lets a sandboxed process reach a pathname socket when the path is granted
*or* when the socket was created inside the same Landlock domain. The supervisor, which
does the job below ABI 9, mirrors the second half so that programs that make their own
server socket (test suites, language servers, build daemons, ``tmux -S ./sock``) keep
working, while a socket some other process left in a writable tree (ssh-agent's and
tmux's in ``/tmp``, an editor's IPC socket) stays out of reach:

* ``bind`` is notified. The supervisor takes its own copy of the descriptor (the same
  socket), and if it is a unix socket with no address yet, records its *cookie*
  (``SO_COOKIE``: a number the kernel never gives another socket until reboot), then lets
  the kernel run the call, which Landlock judges (``MAKE_SOCK`` where it creates the file).
  Another thread swapping the descriptor in between makes the kernel bind a socket that
  was not recorded: its clients are then refused, never let through.
* At a ``connect``/``sendto`` to a path outside the ``unix_socket`` grants, the socket
  file the supervisor resolved (an ``O_PATH`` descriptor it holds, so the inode cannot be
  replaced) is looked up in the kernel's table of unix sockets (``NETLINK_SOCK_DIAG`` with
  ``UDIAG_SHOW_VFS``: the device and inode each bound socket's file has). The call is
  performed when the socket bound there has a recorded cookie.

Limits, written in ``docs/supervisor.md``: sockets in another network namespace than the
supervisor's (``--net-private``) are not looked up, so there the exception does not
apply; a socket passed into the sandbox already bound is not the sandbox's.
"""

from __future__ import annotations

import _socket
import _thread
import os
import sys

AF_UNIX, AF_NETLINK = 1, 16
SOL_SOCKET, SO_COOKIE = 1, 57
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
UDIAG_SHOW_VFS, UNIX_DIAG_VFS = 0x2, 1
#: Recorded cookies kept at most (the oldest are forgotten: their clients are refused).
KEPT = 65536


def _u(data: bytes, offset: int, size: int) -> int:
    return int.from_bytes(data[offset : offset + size], sys.byteorder)


def cookie(fd: int) -> int:
    """The kernel's cookie for socket ``fd`` (unique until reboot)."""
    sock = _socket.socket(fileno=fd)
    try:
        return int.from_bytes(sock.getsockopt(SOL_SOCKET, SO_COOKIE, 8), sys.byteorder)
    finally:
        sock.detach()


def unbound_unix(fd: int) -> bool:
    """Whether ``fd`` is a unix socket without an address yet (what a ``bind`` would name)."""
    sock = _socket.socket(fileno=fd)
    try:
        return bool(sock.family == AF_UNIX and not sock.getsockname())
    finally:
        sock.detach()


def bound_at(device: int, inode: int) -> list[int]:
    """Cookies of the unix sockets bound to the file ``(device, inode)`` (``os.stat`` form).

    Asks the kernel for every unix socket of this network namespace with the device and
    inode of its file. The kernel reports the device as its own ``dev_t`` (major, minor)
    and the inode number cut to 32 bits; callers refuse larger inode numbers.
    """
    wanted = (os.major(device), os.minor(device), inode & 0xFFFFFFFF)
    request = bytearray(40)  # struct nlmsghdr, then struct unix_diag_req
    request[0:4] = len(request).to_bytes(4, sys.byteorder)
    request[4:6] = SOCK_DIAG_BY_FAMILY.to_bytes(2, sys.byteorder)
    request[6:8] = (NLM_F_REQUEST | NLM_F_DUMP).to_bytes(2, sys.byteorder)
    request[16] = AF_UNIX  # family, protocol, pad, states, ino, show, cookie
    request[20:24] = b"\xff\xff\xff\xff"  # every state
    request[28:32] = UDIAG_SHOW_VFS.to_bytes(4, sys.byteorder)
    found: list[int] = []
    sock = _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
    try:
        sock.sendall(bytes(request))
        while True:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = _u(data, offset, 4), _u(data, offset + 4, 2)
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    error = -int.from_bytes(
                        data[offset + 16 : offset + 20], sys.byteorder, signed=True
                    )
                    raise OSError(error, f"sock_diag: {os.strerror(error)}")
                if length < 16:
                    raise OSError(0, "sock_diag: malformed answer")
                value = _match(data[offset + 16 : offset + length], wanted)
                if value is not None:
                    found.append(value)
                offset += (length + 3) & ~3
    finally:
        sock.close()


def _match(message: bytes, wanted: tuple[int, int, int]) -> int | None:
    """The cookie of one ``unix_diag_msg`` if its file is ``wanted`` (major, minor, inode)."""
    # struct unix_diag_msg { u8 family, type, state, pad; u32 ino; u32 cookie[2]; } + attrs
    offset = 16
    while offset + 4 <= len(message):
        length, kind = _u(message, offset, 2), _u(message, offset + 2, 2)
        if length < 4:
            return None
        if kind == UNIX_DIAG_VFS and length >= 12:
            # struct unix_diag_vfs { u32 inode; u32 device (the kernel's: major << 20 | minor) }
            inode, device = _u(message, offset + 4, 4), _u(message, offset + 8, 4)
            if (device >> 20, device & 0xFFFFF, inode) == wanted:
                return _u(message, 8, 4) | _u(message, 12, 4) << 32
            return None
        offset += (length + 3) & ~3
    return None


class BoundSockets:
    """The cookies of the unix sockets this sandbox bound (see the module docstring)."""

    def __init__(self) -> None:
        self._cookies: dict[int, None] = {}  # insertion-ordered: the oldest go first
        self._lock = _thread.allocate_lock()
        self._netns = _netns("self")

    def record(self, pid: int, fd: int) -> bool:
        """Remember the socket ``fd`` (our copy of the agent's) if it is the sandbox's to bind.

        Only an unbound unix socket of a process in our network namespace is recorded.
        """
        if _netns(str(pid)) != self._netns or not unbound_unix(fd):
            return False
        value = cookie(fd)
        with self._lock:
            self._cookies[value] = None
            while len(self._cookies) > KEPT:
                del self._cookies[next(iter(self._cookies))]
        return True

    def holds(self, socket_file: int) -> bool:
        """Whether the socket bound to the file open as ``socket_file`` is one we recorded.

        ``socket_file`` (an ``O_PATH`` descriptor the caller holds) keeps the inode from
        being replaced while the kernel's table is read. Every socket the table shows at
        that file must be ours: the table cuts inode numbers to 32 bits, so a file whose
        number does not fit is refused, and any foreign socket at the same place refuses.
        """
        with self._lock:
            if not self._cookies:
                return False
        info = os.fstat(socket_file)
        if info.st_ino > 0xFFFFFFFF:
            return False
        matches = bound_at(info.st_dev, info.st_ino)
        with self._lock:
            return bool(matches) and all(value in self._cookies for value in matches)


def _netns(pid: str) -> int:
    """The inode of ``pid``'s network namespace (0 when it cannot be read)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return 0
