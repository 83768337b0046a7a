"""Performing a socket call for the sandboxed process, on the supervisor's copy of its socket.

:mod:`sockets` reads and judges the call; this module makes it with the supervisor's own
copies of what was read (:class:`Outgoing`), and turns the kernel's answer into the
verdict. A unix send is first tried without blocking, inline in the loop
(:func:`send_now`); what would block finishes on a pool thread (:func:`send_rest`), as
do connects and inet calls (:func:`perform`), whose pool threads carry the sandbox's TCP
rules. ``MSG_NOSIGNAL`` is always added (a ``SIGPIPE`` must not reach the supervisor); the
agent gets its own ``SIGPIPE`` when it did not ask for that flag.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct

from nonoc.runtime.supervisor import memory, walk
from nonoc.runtime.supervisor.verdict import Verdict, fail, returns

MSG_NOSIGNAL = 0x4000
MSG_DONTWAIT = 0x40
#: ``struct msghdr``'s size: a ``sendmmsg`` entry's ``msg_len`` follows it.
MSGHDR_SIZE = 56
MMSGHDR_SIZE = 64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.connect.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_libc.sendto.argtypes = [
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_uint,
]
_libc.sendto.restype = ctypes.c_ssize_t


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_char_p), ("len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("namelen", ctypes.c_uint),
        ("iov", ctypes.POINTER(_IoVec)),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_char_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    ]


_libc.sendmsg.argtypes = [ctypes.c_int, ctypes.POINTER(_MsgHdr), ctypes.c_int]
_libc.sendmsg.restype = ctypes.c_ssize_t


class Outgoing:
    """One message ready to send: our copies of the data, address, control and descriptors."""

    __slots__ = ("address", "control", "data", "fds", "path", "reason", "socket_inode")

    def __init__(
        self,
        data: bytes = b"",
        address: bytes | None = None,
        control: bytes = b"",
        fds: list[int] | None = None,
        socket_inode: walk.Resolved | None = None,
        path: str | None = None,
        reason: str = "no_address",
    ) -> None:
        self.data, self.address, self.control = data, address, control
        self.fds: list[int] = [] if fds is None else fds
        self.socket_inode, self.path, self.reason = socket_inode, path, reason

    def close(self) -> None:
        """Close the descriptors this message held."""
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        if self.socket_inode is not None:
            self.socket_inode.close()


def perform(
    name: str, sock: int, messages: list[Outgoing], flags: int, mem_fd: int, vector: int, pid: int
) -> Verdict:
    """Make the call on our copy of the socket; the kernel's answer becomes the verdict."""
    if name == "connect":
        address = messages[0].address or b""
        if _libc.connect(sock, address, len(address)) != 0:
            return fail(ctypes.get_errno())
        return returns(0)
    sent = 0
    for index, message in enumerate(messages):
        result = _send(sock, message, flags)
        if result < 0:
            err = ctypes.get_errno()
            if err == errno.EPIPE and not flags & MSG_NOSIGNAL:
                os.kill(pid, 13)  # SIGPIPE, which the kernel would have sent the agent
            if name == "sendmmsg" and sent:
                break
            return fail(err)
        if name == "sendmmsg":
            memory.write_at(
                mem_fd, vector + index * MMSGHDR_SIZE + MSGHDR_SIZE, struct.pack("=I", result)
            )
            sent += 1
        else:
            return returns(result)
    return returns(sent)


def send_now(sock: int, message: Outgoing, flags: int, pid: int) -> Verdict | int:
    """Send without blocking: the verdict when that settles the call, else the bytes sent so far.

    A call the process made non-blocking (``MSG_DONTWAIT``, ``O_NONBLOCK``) is settled here
    whatever happens; a blocking one that could not send everything continues in the pool.
    """
    nonblocking = bool(flags & MSG_DONTWAIT) or bool(
        fcntl.fcntl(sock, fcntl.F_GETFL) & os.O_NONBLOCK
    )
    result = _send(sock, message, flags | MSG_DONTWAIT)
    if result < 0:
        err = ctypes.get_errno()
        if nonblocking or err not in (errno.EAGAIN, errno.EWOULDBLOCK):
            return _failed(err, flags, pid)
        return 0
    if nonblocking or result >= len(message.data):
        return returns(result)
    return result


def send_rest(sock: int, message: Outgoing, flags: int, sent: int, pid: int) -> Verdict:
    """Finish a blocking send (from ``sent`` bytes on) as the process's blocking call would."""
    while True:
        rest = message if sent == 0 else Outgoing(message.data[sent:], message.address)
        result = _send(sock, rest, flags)
        if result < 0:
            err = ctypes.get_errno()
            if sent:
                return returns(sent)  # what was sent stays sent: report it, as the kernel does
            return _failed(err, flags, pid)
        sent += result
        if sent >= len(message.data):
            return returns(sent)


def _failed(err: int, flags: int, pid: int) -> Verdict:
    if err == errno.EPIPE and not flags & MSG_NOSIGNAL:
        os.kill(pid, 13)  # SIGPIPE, which the kernel would have sent the agent
    return fail(err)


def _send(sock: int, message: Outgoing, flags: int) -> int:
    flags |= MSG_NOSIGNAL  # a SIGPIPE must not reach the supervisor
    if not message.control:
        address = message.address
        return int(
            _libc.sendto(
                sock,
                message.data,
                len(message.data),
                flags,
                address,
                len(address) if address else 0,
            )
        )
    vector = _IoVec(message.data, len(message.data))
    header = _MsgHdr(
        message.address,
        len(message.address) if message.address else 0,
        ctypes.pointer(vector),
        1,
        message.control,
        len(message.control),
        0,
    )
    return int(_libc.sendmsg(sock, ctypes.byref(header), flags))


def close_all(sock: int, messages: list[Outgoing], mem_fd: int) -> None:
    """Close our copy of the socket, the messages' descriptors and the memory descriptor."""
    for message in messages:
        message.close()
    os.close(sock)
    if mem_fd >= 0:
        os.close(mem_fd)
