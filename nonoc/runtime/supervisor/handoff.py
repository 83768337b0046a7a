"""Hand the listener from the sandboxed child to the supervising parent.

The child installs the filter last (after Landlock, right before ``execve``), so only it
can create the listener. It then writes the listener's descriptor *number* on a channel
(``write``, which the filter never notifies), and waits for one byte back. The parent
takes its own copy with ``pidfd_getfd`` (Linux 5.6; the parent may ptrace its child),
answers, and starts serving; the child closes its copy and execs. The agent never holds
the listener: answering its own notifications would be a way out.

Why not ``SCM_RIGHTS``: once the filter is installed, ``sendmsg`` may itself be notified
(unix-socket mediation), and nobody would be there yet to answer it.

:func:`install_and_hand_over` runs in the child after ``landlock_restrict_self``: it and
everything it calls must already be imported, and it uses only ``os`` and ctypes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
import threading

from nonoc.launch import seccomp as filters

TYPE_CHECKING = False
if TYPE_CHECKING:  # ``nono run`` imports this module every run: collections.abc costs it
    from collections.abc import Callable

    #: ``nonoc.launch.seccomp.install``'s shape.
    Installer = Callable[..., int | None]

_NUMBER = struct.Struct("=i")
_PIDFD_GETFD = 438  # the generic syscall table: same number on x86_64 and aarch64
_READY = b"\x01"
PIDFD_THREAD = os.O_EXCL  # linux/pidfd.h: a pidfd for one thread (6.9)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def install_and_hand_over(
    program: bytes, channel: int, *, install: Installer | None = None
) -> None:
    """Child side: install ``program`` with a listener, pass it to the parent, close it.

    Asks the kernel to make a received notification wait killably only (5.19+; without
    it, a signal makes the parked call restart and the question is asked again). Raises
    ``SandboxError`` when the filter cannot be installed, ``OSError`` when the parent does
    not take the listener. ``install`` replaces ``nonoc.launch.seccomp.install``.
    """
    install = install or filters.install
    flags = filters.SECCOMP_FILTER_FLAG_NEW_LISTENER
    try:
        listener = install(program, flags=flags | filters.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    except Exception:
        # EINVAL from an older kernel: nothing was installed, so trying again is safe.
        listener = install(program, flags=flags)
    if listener is None:
        raise OSError(errno.EINVAL, "the kernel returned no listener")
    try:
        os.write(channel, _NUMBER.pack(listener))
        if os.read(channel, 1) != _READY:
            raise OSError(errno.EPIPE, "the supervisor did not take the listener")
    finally:
        os.close(listener)


def receive_listener(pid: int, channel: int, *, timeout: float = 30.0) -> int:
    """Parent side: take the listener ``pid`` announces on ``channel``; return our descriptor.

    Raises ``OSError`` (ETIMEDOUT, EPIPE, or what ``pidfd_getfd`` refused).
    """
    poller = select.poll()
    poller.register(channel, select.POLLIN)
    if not poller.poll(int(timeout * 1000)):
        raise OSError(errno.ETIMEDOUT, "the sandboxed child never announced its listener")
    raw = os.read(channel, _NUMBER.size)
    if len(raw) != _NUMBER.size:
        raise OSError(errno.EPIPE, "the sandboxed child exited before handing over its listener")
    (number,) = _NUMBER.unpack(raw)
    pidfd = os.pidfd_open(pid)
    try:
        listener = pidfd_getfd(pidfd, number)
    finally:
        os.close(pidfd)
    os.write(channel, _READY)
    return listener


def pidfd_getfd(pidfd: int, number: int) -> int:
    """A copy of descriptor ``number`` of the process behind ``pidfd`` (close-on-exec).

    The copy shares the open file description: same offset, flags and socket state.
    """
    result = int(
        _libc.syscall(
            ctypes.c_long(_PIDFD_GETFD), ctypes.c_int(pidfd), ctypes.c_int(number), ctypes.c_uint(0)
        )
    )
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pidfd_getfd: {os.strerror(err)}")
    return result


def take_fd(pid: int, number: int) -> int:
    """A copy of descriptor ``number`` of task ``pid``; ``OSError(EBADF)`` if it has none.

    ``pid`` is what a notification names: the *thread*. ``pidfd_open`` takes only a
    process's leader before Linux 6.9 (``PIDFD_THREAD``), so a thread other than the leader
    is named through its thread group, whose descriptor table threads share.

    Pidfds are kept (a few hundred at most): a pidfd names one task for good, so one kept
    past its task's end answers ESRCH, never another task's descriptors, and is replaced.
    """
    with _pidfds_lock:  # held across the call: a kept pidfd is never closed while in use
        pidfd = _pidfds.get(pid)
        if pidfd is not None:
            try:
                return pidfd_getfd(pidfd, number)
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise
                del _pidfds[pid]
                os.close(pidfd)
    pidfd = _open_pidfd(pid)
    try:
        fd = pidfd_getfd(pidfd, number)
    except BaseException:
        os.close(pidfd)
        raise
    with _pidfds_lock:
        if pid in _pidfds:
            os.close(pidfd)  # another thread kept one meanwhile
        else:
            if len(_pidfds) >= _PIDFDS_KEPT:
                os.close(_pidfds.pop(next(iter(_pidfds))))
            _pidfds[pid] = pidfd
    return fd


_pidfds: dict[int, int] = {}
_pidfds_lock = threading.Lock()
_PIDFDS_KEPT = 256


def forget_pidfds() -> None:
    """Close every kept pidfd (a supervisor stopping: its processes are gone)."""
    with _pidfds_lock:
        for pidfd in _pidfds.values():
            os.close(pidfd)
        _pidfds.clear()


def _open_pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise OSError(errno.ESRCH, "no such process") from None
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):  # what kernels say for a non-leader
            raise
    try:
        return os.pidfd_open(pid, PIDFD_THREAD)
    except OSError:
        return os.pidfd_open(thread_group(pid))


def thread_group(tid: int) -> int:
    """The thread group (process) id of thread ``tid``, from ``/proc/TID/status``."""
    try:
        with open(f"/proc/{tid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    raise OSError(errno.ESRCH, "no such thread")
