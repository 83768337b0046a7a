"""Hand the listener from the sandboxed child to the supervising parent.

The child installs the filter last (after Landlock, right before ``execve``), so only it
can create the listener. It then writes the listener's descriptor *number* on a channel
(``write``, which the filter never notifies), with a length-prefixed trailer of data for
the parent (``nono run``'s child sends what its ruleset grants), and waits for one byte
back. The parent
takes its own copy with ``pidfd_getfd`` (Linux 5.6; the parent may ptrace its child),
answers, and starts serving; the child closes its copy and execs. The agent never holds
the listener: answering its own notifications would be a way out.

Why not ``SCM_RIGHTS``: once the filter is installed, ``sendmsg`` may itself be notified
(unix-socket mediation), and nobody would be there yet to answer it.

:func:`install_and_hand_over` runs in the child after ``landlock_restrict_self``: it and
everything it calls must already be imported, and it uses only ``os`` and the launcher's
own ``seccomp``/``libc`` modules. ``nono run`` imports this module on every run: no
``ctypes``, no ``threading``.
"""

from __future__ import annotations

import _thread
import errno
import os
import select
import sys

from nonoc.launch import libc
from nonoc.launch import seccomp as filters

_NUMBER_SIZE = 4  # the descriptor number, a C int in native byte order
_PIDFD_GETFD = 438  # the generic syscall table: same number on x86_64 and aarch64
_READY = b"\x01"
PIDFD_THREAD = os.O_EXCL  # linux/pidfd.h: a pidfd for one thread (6.9)


def install_and_hand_over(
    program: bytes, channel: int, reply: int | None = None, *, data: bytes = b""
) -> None:
    """Child side: install ``program`` with a listener, pass it (and ``data``) to the parent.

    ``channel`` carries the number to the parent and its answer back (a socket); or give
    the answer its own descriptor, ``reply`` (a pair of pipes). Raises ``OSError`` when
    the filter cannot be installed (:func:`install_listener`) or the parent does not take
    the listener.
    """
    listener = install_listener(program)
    try:
        message = listener.to_bytes(_NUMBER_SIZE, sys.byteorder, signed=True)
        message += len(data).to_bytes(_NUMBER_SIZE, sys.byteorder) + data
        view = memoryview(message)
        while view:
            view = view[os.write(channel, view) :]
        if os.read(channel if reply is None else reply, 1) != _READY:
            raise OSError(errno.EPIPE, "the supervisor did not take the listener")
    finally:
        os.close(listener)


_SECCOMP_NR = {"x86_64": 317, "aarch64": 277}


def install_listener(program: bytes) -> int:
    """Install ``program`` as a seccomp filter with a new listener; return the listener.

    Asks the kernel to make a received notification wait killably only (5.19+; without
    it, a signal makes the parked call restart and the question is asked again), and
    retries without that flag on a kernel that refuses it. Not
    ``nonoc.launch.seccomp.install``: its refusals import ``nonoc.errors``, which the
    sandboxed child may no longer read; this raises ``OSError`` with the reason instead.
    EBUSY means a filter of this process already has a listener (``nono run`` inside
    ``nono run``): the kernel allows one per chain of filters.
    """
    if libc.prctl(filters.PR_GET_NO_NEW_PRIVS) != 1:
        libc.prctl(filters.PR_SET_NO_NEW_PRIVS, 1)
    nr = _SECCOMP_NR.get(filters.native_arch())
    if nr is None:
        raise OSError(errno.ENOSYS, f"seccomp is not supported by nono on {os.uname().machine}")
    buffer = libc.Pinned(program)  # struct sock_fprog, as nonoc.launch.seccomp lays it out
    count = len(program) // filters.INSTRUCTION_SIZE
    fprog = libc.u16(count) + bytes(libc.POINTER_SIZE - 2) + buffer.pointer()
    flags = filters.SECCOMP_FILTER_FLAG_NEW_LISTENER
    try:
        try:
            return libc.syscall(
                nr,
                filters.SECCOMP_SET_MODE_FILTER,
                flags | filters.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                fprog,
            )
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # A kernel before 5.19: nothing was installed, so trying again is safe.
            return libc.syscall(nr, filters.SECCOMP_SET_MODE_FILTER, flags, fprog)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise OSError(
                errno.EBUSY,
                "another supervisor already listens to this process's system calls "
                "(nono run inside nono run?); the kernel allows only one",
            ) from None
        raise OSError(
            exc.errno, f"cannot install the supervisor's seccomp filter: {exc.strerror}"
        ) from None


def receive_listener(
    pid: int, channel: int, reply: int | None = None, *, timeout: float = 30.0
) -> int:
    """Parent side: take the listener ``pid`` announces on ``channel``; return our descriptor.

    The answer goes back on ``channel``, or on ``reply`` when the child reads it there.
    Raises ``OSError``: EPIPE when the child ended before handing it over (it never
    reaches ``execve`` then), ETIMEDOUT, or what ``pidfd_getfd`` refused.
    """
    return receive_hand_over(pid, channel, reply, timeout=timeout)[0]


def receive_hand_over(
    pid: int, channel: int, reply: int | None = None, *, timeout: float = 30.0
) -> tuple[int, bytes]:
    """:func:`receive_listener`, and the data the child sent with the listener."""
    poller = select.poll()
    poller.register(channel, select.POLLIN)
    if not poller.poll(int(timeout * 1000)):
        raise OSError(errno.ETIMEDOUT, "the sandboxed child never announced its listener")
    header = _read_exactly(channel, 2 * _NUMBER_SIZE)
    number = int.from_bytes(header[:_NUMBER_SIZE], sys.byteorder, signed=True)
    data = _read_exactly(channel, int.from_bytes(header[_NUMBER_SIZE:], sys.byteorder))
    pidfd = os.pidfd_open(pid)
    try:
        listener = pidfd_getfd(pidfd, number)
    finally:
        os.close(pidfd)
    try:
        os.write(channel if reply is None else reply, _READY)
    except OSError:
        os.close(listener)
        raise OSError(
            errno.EPIPE, "the sandboxed child exited while handing over its listener"
        ) from None
    return listener, data


def _read_exactly(channel: int, size: int) -> bytes:
    """``size`` bytes from ``channel``; ``OSError(EPIPE)`` if it ends first (the child died)."""
    parts, left = [], size
    while left:
        part = os.read(channel, min(left, 1 << 16))
        if not part:
            raise OSError(
                errno.EPIPE, "the sandboxed child exited before handing over its listener"
            )
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def pidfd_getfd(pidfd: int, number: int) -> int:
    """A copy of descriptor ``number`` of the process behind ``pidfd`` (close-on-exec).

    The copy shares the open file description: same offset, flags and socket state.
    """
    try:
        return libc.syscall(_PIDFD_GETFD, pidfd, number, 0)
    except OSError as exc:
        raise OSError(exc.errno, f"pidfd_getfd: {exc.strerror}") from None


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
_pidfds_lock = _thread.allocate_lock()  # not ``threading``: nono run imports this module every run
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
