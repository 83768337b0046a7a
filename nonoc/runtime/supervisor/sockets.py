"""Unix-socket mediation: ``connect``/``sendto``/``sendmsg``/``sendmmsg`` to a pathname socket.

Landlock before ABI 9 does not mediate reaching a pathname unix socket, and a reachable
``docker.sock`` is root on the host. The filter sends these calls here; a pathname
destination is allowed only when its real path is a ``unix_socket`` grant, or when the
socket bound there is one the sandbox bound itself (:mod:`bound`, as Landlock ABI 9 lets
a domain reach its own sockets). ``bind`` is notified for that record and then continued.

The supervisor never lets the kernel *continue* one of these calls: the destination sits
in the process's memory and the socket behind the descriptor number can be swapped by
another thread (``dup2``) after the supervisor looked. Instead it performs the call itself,
on its own copy of the descriptor (``pidfd_getfd``: the same socket) with its own copy of
the address and the data, and returns the kernel's answer. For a granted pathname it
connects through ``/proc/self/fd/N`` of the socket inode it resolved, so a link swapped
into the path afterwards changes nothing. Inet calls run on pool threads that carry the
sandbox's Landlock TCP rules (:mod:`netrules`), so the kernel judges ports as for the agent.

Costs, documented in ``docs/supervisor.md``: every such call is a round trip and a copy;
peers see the supervisor as the connecting process (``SO_PEERCRED``); with the abstract
scope on, abstract destinations are refused (the supervisor cannot tell which are inside).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct

from nonoc.runtime.supervisor import memory, walk
from nonoc.runtime.supervisor.bound import BoundSockets
from nonoc.runtime.supervisor.grants import GrantTable
from nonoc.runtime.supervisor.handoff import take_fd
from nonoc.runtime.supervisor.notif import Listener, Notification
from nonoc.runtime.supervisor.sending import (
    MMSGHDR_SIZE,
    Outgoing,
    close_all,
    perform,
    send_now,
    send_rest,
)
from nonoc.runtime.supervisor.syscalls import SOCKET_CALLS
from nonoc.runtime.supervisor.verdict import CONTINUE, DROPPED, Event, Job, Verdict, fail

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6 = 0, 1, 2, 10
SOL_SOCKET, SO_TYPE, SO_DOMAIN = 1, 3, 39
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
SOCK_STREAM = 1
SOCKADDR_MAX = 128  # sizeof(struct sockaddr_storage): the kernel refuses longer addresses
MAX_PAYLOAD = 8 << 20  # what the supervisor copies per call; a longer stream send is partial
UIO_MAXIOV = 1024
CONTROL_MAX = 1 << 17
_MSGHDR = struct.Struct("=QI4xQQQQi4x")  # name, namelen, iov, iovlen, control, controllen, flags
_IOVEC = struct.Struct("=QQ")
_CMSG = struct.Struct("=Qii")
_UCRED = struct.Struct("=iII")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.getsockopt.argtypes = [
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
]


def sockopt(fd: int, option: int) -> int:
    """An integer ``SOL_SOCKET`` option of ``fd``; ``OSError(ENOTSOCK)`` for a non-socket."""
    value, size = ctypes.c_int(0), ctypes.c_uint(4)
    if _libc.getsockopt(fd, SOL_SOCKET, option, ctypes.byref(value), ctypes.byref(size)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return value.value


class Refused(Exception):
    """A destination the policy refuses: ``reason`` and the errno the call returns."""

    def __init__(self, reason: str, error: int, path: str | None) -> None:
        super().__init__(reason)
        self.reason, self.error, self.path = reason, error, path


class SocketMediator:
    """Decide and perform the socket calls the filter sends (see the module docstring)."""

    def __init__(self, grants: GrantTable) -> None:
        self.grants = grants
        #: The unix sockets the sandbox bound (reachable from inside, as on ABI 9).
        self.bound = BoundSockets()

    def handles(self, name: str) -> bool:
        """Whether ``name`` is a socket call this mediator answers."""
        return name in SOCKET_CALLS

    def handle(self, listener: Listener, n: Notification, name: str) -> tuple[Verdict, Event] | Job:
        """Read the call, decide; refusals are answered now, allowed calls become a :class:`Job`."""
        pid, args = n.pid, n.args
        if name == "bind":
            return self._bind(n)
        if name == "sendto" and args[4] == 0:
            # No destination (a register, not memory): nothing can be resolved by path.
            return CONTINUE, Event(name, pid, "continue", "no_address")
        try:
            sock = take_fd(pid, n.arg32(0))
        except OSError as exc:
            return fail(errno.EBADF if exc.errno != errno.ESRCH else errno.ESRCH), Event(
                name, pid, "deny", "bad_arguments", error=errno.EBADF
            )
        messages: list[Outgoing] = []
        try:
            domain = sockopt(sock, SO_DOMAIN)
            stream = sockopt(sock, SO_TYPE) == SOCK_STREAM
            mem_fd = -1
            if name == "connect":
                messages.append(self._address_only(pid, domain, args[1], n.arg32(2)))
            elif name == "sendto":
                message = self._address_only(pid, domain, args[4], n.arg32(5))
                message.data = _payload(pid, args[1], args[2], stream)
                messages.append(message)
            elif name == "sendmsg":
                messages.append(self._message(pid, domain, args[1], stream))
            else:
                count = min(n.arg32(2) & 0xFFFFFFFF, UIO_MAXIOV)
                for index in range(count):
                    messages.append(
                        self._message(pid, domain, args[1] + index * MMSGHDR_SIZE, stream)
                    )
                mem_fd = memory.open_for_writing(pid) if count else -1
            if not listener.is_valid(n.id):
                raise _Stale()
        except _Stale:
            close_all(sock, messages, -1)
            return DROPPED, Event(name, pid, "deny", "bad_arguments")
        except Refused as refused:
            close_all(sock, messages, -1)
            return fail(refused.error), Event(
                name, pid, "deny", refused.reason, refused.path, error=refused.error
            )
        except OSError as exc:
            close_all(sock, messages, -1)
            code = exc.errno or errno.EINVAL
            return fail(code), Event(name, pid, "deny", "bad_arguments", error=code)
        first = messages[0] if messages else Outgoing()
        event = Event(name, pid, "allow", first.reason, first.path)
        flags = n.arg32(2 if name == "sendmsg" else 3)
        if domain == AF_UNIX and name in ("sendto", "sendmsg"):
            # Most unix sends complete at once: try without blocking here, and only hand what
            # would block to the pool (a thread hop costs as much as the rest of the call).
            done = send_now(sock, first, flags, pid)
            if isinstance(done, Verdict):
                close_all(sock, messages, mem_fd)
                return done, event
            sent = done

            def rest() -> tuple[Verdict, Event]:
                return send_rest(sock, first, flags, sent, pid), event

            return Job(rest, cleanup=lambda: close_all(sock, messages, mem_fd))

        def run() -> tuple[Verdict, Event]:
            return perform(name, sock, messages, flags, mem_fd, args[1], pid), event

        return Job(
            run,
            restricted=domain in (AF_INET, AF_INET6),
            cleanup=lambda: close_all(sock, messages, mem_fd),
        )

    def _bind(self, n: Notification) -> tuple[Verdict, Event]:
        """Record the socket if it is an unbound unix socket; the kernel then runs the bind.

        Continuing is safe: the supervisor restricts nothing here, and Landlock judges
        where the socket file may be made. What the record is worth is in :mod:`bound`.
        """
        try:
            sock = take_fd(n.pid, n.arg32(0))
        except OSError:
            # Not a descriptor of the process (any more): the kernel answers EBADF itself.
            return CONTINUE, Event("bind", n.pid, "continue", "bad_arguments")
        try:
            recorded = self.bound.record(n.pid, sock)
        except OSError:
            recorded = False
        finally:
            os.close(sock)
        return CONTINUE, Event(
            "bind", n.pid, "continue", "sandbox_socket" if recorded else "not_unix"
        )

    # --------------------------------------------------------------- reading

    def _address_only(self, pid: int, domain: int, pointer: int, length: int) -> Outgoing:
        if length < 0 or length > SOCKADDR_MAX:
            raise OSError(errno.EINVAL, "bad address length")
        raw = memory.read_exact(pid, pointer, length) if length else b""
        return self.destination(pid, domain, raw)

    def _message(self, pid: int, domain: int, header: int, stream: bool) -> Outgoing:
        name, namelen, iov, iovlen, control, controllen, _ = _MSGHDR.unpack(
            memory.read_exact(pid, header, _MSGHDR.size)
        )
        if namelen > SOCKADDR_MAX:
            raise OSError(errno.EINVAL, "bad address length")
        raw = memory.read_exact(pid, name, namelen) if name and namelen else b""
        message = self.destination(pid, domain, raw) if raw else Outgoing()
        try:
            if iovlen > UIO_MAXIOV:
                raise OSError(errno.EMSGSIZE, "too many iovecs")
            vectors = memory.read_exact(pid, iov, iovlen * _IOVEC.size) if iovlen else b""
            parts, total = [], 0
            for base, size in _IOVEC.iter_unpack(vectors):
                if total + size > MAX_PAYLOAD:
                    if not stream:
                        raise OSError(errno.EMSGSIZE, "message too long for the supervisor")
                    size = MAX_PAYLOAD - total  # a stream send may be partial
                if size:
                    parts.append(memory.read_exact(pid, base, size))
                total += size
            message.data = b"".join(parts)
            if control and controllen:
                if controllen > CONTROL_MAX:
                    raise OSError(errno.ENOBUFS, "control data too long")
                message.control = self._control(
                    pid, memory.read_exact(pid, control, controllen), message
                )
        except BaseException:
            message.close()
            raise
        return message

    def _control(self, pid: int, raw: bytes, message: Outgoing) -> bytes:
        """The control data with each passed descriptor replaced by our copy of it."""
        out, offset = bytearray(), 0
        while offset + _CMSG.size <= len(raw):
            length, level, kind = _CMSG.unpack_from(raw, offset)
            if length < _CMSG.size or offset + length > len(raw):
                raise OSError(errno.EINVAL, "bad control message")
            body = raw[offset + _CMSG.size : offset + length]
            if level == SOL_SOCKET and kind == SCM_RIGHTS:
                numbers = struct.unpack(f"={len(body) // 4}i", body[: len(body) // 4 * 4])
                ours = []
                for number in numbers:
                    try:
                        ours.append(take_fd(pid, number))
                    except OSError:
                        raise OSError(errno.EBADF, "bad descriptor in SCM_RIGHTS") from None
                    message.fds.append(ours[-1])
                body = struct.pack(f"={len(ours)}i", *ours)
            elif level == SOL_SOCKET and kind == SCM_CREDENTIALS:
                _check_credentials(pid, body)
            out += _CMSG.pack(length, level, kind) + body
            out += b"\0" * (-len(out) % 8)
            offset += (length + 7) & ~7
        return bytes(out)

    # --------------------------------------------------------------- deciding

    def destination(self, pid: int, domain: int, raw: bytes) -> Outgoing:
        """Judge the address ``raw`` for a socket of ``domain``; :class:`Refused` if denied."""
        family = struct.unpack_from("=H", raw)[0] if len(raw) >= 2 else AF_UNSPEC
        if domain != AF_UNIX or family != AF_UNIX:
            return Outgoing(address=raw, reason="not_unix" if domain != AF_UNIX else "no_address")
        name = raw[2:]
        if not name:
            return Outgoing(address=raw, reason="no_address")  # unnamed: the kernel answers
        if name[0] == 0:
            if self.grants.abstract_scoped:
                raise Refused(
                    "abstract_scoped",
                    errno.EACCES,
                    "@" + name[1:].decode("utf-8", "backslashreplace"),
                )
            return Outgoing(address=raw, reason="abstract")
        path = name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        target = _resolve_socket(pid, path)
        reason = "socket_granted"
        try:
            if self.grants.never_grantable(target.path):
                raise Refused("never_grantable", errno.EACCES, target.path)
            if not self.grants.socket_granted(target.path):
                if not self.bound.holds(target.fd):
                    raise Refused("socket_not_granted", errno.EACCES, target.path)
                reason = "sandbox_socket"
        except BaseException:
            target.close()
            raise
        via = f"/proc/self/fd/{target.fd}".encode()
        address = struct.pack("=H", AF_UNIX) + via + b"\0"
        return Outgoing(address=address, socket_inode=target, path=target.path, reason=reason)


class _Stale(Exception):
    """The notification went stale while the supervisor read the call."""


def _resolve_socket(pid: int, path: str) -> walk.Resolved:
    """The socket inode ``path`` names for ``pid`` (relative to its cwd), links followed safely."""
    start = os.open(f"/proc/{pid}/cwd", os.O_PATH | os.O_CLOEXEC)
    try:
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_CLOEXEC)
        try:
            target = walk.resolve(path, start, root)
        except OSError as exc:
            raise Refused("walk_error", exc.errno or errno.ENOENT, path) from None
        finally:
            os.close(root)
    finally:
        os.close(start)
    if not stat.S_ISSOCK(target.mode):
        target.close()
        raise Refused("walk_error", errno.ECONNREFUSED, path)
    return target


def _payload(pid: int, pointer: int, size: int, stream: bool) -> bytes:
    if size > MAX_PAYLOAD:
        if not stream:
            raise OSError(errno.EMSGSIZE, "message too long for the supervisor")
        size = MAX_PAYLOAD
    return memory.read_exact(pid, pointer, size) if size else b""


def _check_credentials(pid: int, body: bytes) -> None:
    """Refuse ``SCM_CREDENTIALS`` the process could not send itself (the supervisor may be root)."""
    if len(body) < _UCRED.size:
        raise OSError(errno.EINVAL, "short credentials")
    claimed_pid, uid, gid = _UCRED.unpack_from(body)
    fields: dict[str, list[int]] = {}
    with open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            key, _, rest = line.partition(b":")
            if key in (b"Tgid", b"Uid", b"Gid"):
                fields[key.decode()] = [int(v) for v in rest.split()]
    if (
        claimed_pid != fields["Tgid"][0]
        or uid not in fields["Uid"][:3]
        or gid not in fields["Gid"][:3]
    ):
        raise Refused("bad_arguments", errno.EPERM, None)
