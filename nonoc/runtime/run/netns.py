"""``--net-private``: the child gets a network namespace of its own, where only the proxy answers.

Landlock's TCP rule names a port, not an address: the rule that lets the child reach the
proxy lets it connect to that port number on *any* address (docs/network.md, "Residual
exposure"). In a private network namespace there is nothing to reach: the namespace has
only a loopback interface, and on it the only listener is the proxy's, which the parent
serves through a listening socket the child made inside and handed over.

The steps, split between the two processes (``nonoc.runtime.run.proxy_hook`` calls them)::

    parent, before the fork   channel = Channel()          a unix socket pair
    child, after the fork     enter(port, channel)         unshare, lo up, listen on
                                                           127.0.0.1:port, hand it over
                              ... Landlock, no_new_privs, seccomp, execve (the launcher)
    parent, after the fork    receive(channel) -> socket   then proxy.adopt_listener(it)

``enter`` runs before the sandbox is applied, for two reasons: the seccomp filter's
hardening refuses namespace creation (the launcher installs it last), and writing
``/proc/self/uid_map`` needs a file Landlock may not grant.

Unprivileged (the usual case) the child creates a user namespace too and maps its own uid
and gid onto themselves (no fake root), which the kernel allows without any capability.
As root it creates only the network namespace: a user namespace would leave it root of a
namespace in which files of other users are unmapped, and so change what it may open.

Everything here is imported by the parent before the fork; the child only calls it (a
forked child of a process with threads must not import).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct

from nonoc.launch import libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
#: ``unshare`` by architecture (``os.uname().machine``).
SYS_UNSHARE = {"x86_64": 272, "aarch64": 97}
SIOCSIFFLAGS = 0x8914
IFF_UP, IFF_RUNNING = 0x1, 0x40
#: How long the parent waits for the child's listener before giving up on it.
HANDOVER_TIMEOUT = 10.0


class Channel:
    """The unix socket pair the child hands its listener over on (both ends close-on-exec)."""

    __slots__ = ("child", "parent")

    def __init__(self) -> None:
        self.parent, self.child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def close(self) -> None:
        """Close both ends (idempotent)."""
        self.parent.close()
        self.child.close()


def enter(port: int, channel: Channel) -> None:
    """In the forked child: a private network namespace, listening on 127.0.0.1:``port``.

    The listening socket goes to the parent over ``channel``. Raises ``OSError`` (the
    child reports it as "cannot apply the sandbox", exit 126): strictness that was asked
    for is never skipped.
    """
    channel.parent.close()
    try:
        _unshare()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
            # `ip link set lo up`: a new namespace's loopback starts down.
            request = struct.pack("16sH22x", b"lo", IFF_UP | IFF_RUNNING)
            fcntl.ioctl(control.fileno(), SIOCSIFFLAGS, request)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen(128)
            socket.send_fds(channel.child, [b"L"], [listener.fileno()])
    finally:
        channel.child.close()


def _unshare() -> None:
    number = SYS_UNSHARE.get(os.uname().machine)
    if number is None:
        raise OSError(errno.ENOSYS, f"--net-private: unknown architecture {os.uname().machine}")
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNET if uid == 0 else CLONE_NEWUSER | CLONE_NEWNET
    try:
        libc.syscall(number, flags)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"--net-private: cannot create a private network namespace ({exc.strerror}); "
            "unprivileged user namespaces may be disabled on this host "
            "(see docs/network.md); run without --net-private",
        ) from None
    if uid != 0:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def receive(
    channel: Channel, alive: Callable[[], bool], timeout: float = HANDOVER_TIMEOUT
) -> socket.socket | None:
    """In the parent: the child's listening socket, or None if it never came.

    None when the child closed the channel without one (it failed and reports why itself)
    or when ``timeout`` passed; ``alive`` tells a slow child from a dead one.
    """
    channel.child.close()
    channel.parent.settimeout(0.2)
    waited = 0.0
    try:
        while waited < timeout:
            try:
                _message, fds, _flags, _address = socket.recv_fds(channel.parent, 1, 1)
            except TimeoutError:
                waited += 0.2
                if not alive():
                    return None
                continue
            if not fds:
                return None
            return socket.socket(fileno=fds[0])
        return None
    finally:
        channel.parent.close()
