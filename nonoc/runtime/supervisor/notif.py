"""The seccomp user-notification protocol: receive, validate, answer, inject a descriptor.

A filter installed with ``SECCOMP_FILTER_FLAG_NEW_LISTENER`` hands back a listener
descriptor. Each call the filter answers with ``SECCOMP_RET_USER_NOTIF`` parks the calling
thread and queues a ``struct seccomp_notif`` on the listener; the thread stays parked until
the supervisor answers with ``SECCOMP_IOCTL_NOTIF_SEND`` (a return value or an errno, or
"continue": run the call as if no filter had asked) or with ``SECCOMP_IOCTL_NOTIF_ADDFD``
and the ``SEND`` flag (install a descriptor in the thread's process and return its number).

The structures are laid out here by hand and checked against the running kernel with
``SECCOMP_GET_NOTIF_SIZES`` before the first use: a kernel whose structures grew is
refused rather than misread. Standard library only (``fcntl.ioctl`` releases the GIL).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import struct

from nonoc.launch.seccomp import native_arch

#: ``seccomp(2)`` operation that reports the sizes of the notification structures.
SECCOMP_GET_NOTIF_SIZES = 3
_SECCOMP_NR = {"x86_64": 317, "aarch64": 277}

#: Answer flags and ``ADDFD`` flags (linux/seccomp.h).
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1 << 0
SECCOMP_ADDFD_FLAG_SETFD = 1 << 0
SECCOMP_ADDFD_FLAG_SEND = 1 << 1
#: ``SECCOMP_IOCTL_NOTIF_SET_FLAGS``: wake the parked thread synchronously (6.6+).
SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1 << 0

#: ``AUDIT_ARCH_*`` of the architectures nono compiles filters for.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# struct seccomp_notif { u64 id; u32 pid; u32 flags; struct seccomp_data data; }
# struct seccomp_data  { s32 nr; u32 arch; u64 instruction_pointer; u64 args[6]; }
_NOTIF = struct.Struct("=QIIiIQ6Q")
# struct seccomp_notif_resp { u64 id; s64 val; s32 error; u32 flags; }
_RESP = struct.Struct("=QqiI")
# struct seccomp_notif_addfd { u64 id; u32 flags; u32 srcfd; u32 newfd; u32 newfd_flags; }
_ADDFD = struct.Struct("=QIIII")
_U64 = struct.Struct("=Q")
_DATA_SIZE = 64


def _ioc(direction: int, number: int, size: int) -> int:
    """``_IOC(dir, '!', nr, size)`` as asm-generic/ioctl.h builds it (x86_64 and aarch64)."""
    return (direction << 30) | (size << 16) | (ord("!") << 8) | number


_WRITE, _READ = 1, 2
IOCTL_RECV = _ioc(_READ | _WRITE, 0, _NOTIF.size)
IOCTL_SEND = _ioc(_READ | _WRITE, 1, _RESP.size)
IOCTL_ID_VALID = _ioc(_WRITE, 2, _U64.size)
IOCTL_ADDFD = _ioc(_WRITE, 3, _ADDFD.size)
IOCTL_SET_FLAGS = _ioc(_WRITE, 4, _U64.size)


class ProtocolError(RuntimeError):
    """The running kernel's notification structures are not the ones this module lays out."""


class Notification:
    """One parked system call: its notification id, the thread's pid, number and arguments.

    A plain class with slots: one is made per notification, and a frozen dataclass costs
    several times as much to build.
    """

    __slots__ = ("arch", "args", "id", "nr", "pid")

    def __init__(self, nid: int, pid: int, nr: int, arch: int, args: tuple[int, ...]) -> None:
        self.id, self.pid, self.nr, self.arch, self.args = nid, pid, nr, arch, args

    def __repr__(self) -> str:
        return f"Notification(id={self.id}, pid={self.pid}, nr={self.nr}, args={self.args})"

    def arg32(self, index: int) -> int:
        """Argument ``index`` as the kernel reads an ``int``: the low word, sign-extended."""
        value = self.args[index] & 0xFFFFFFFF
        return value - (1 << 32) if value & 0x80000000 else value


class _Sizes(ctypes.Structure):
    _fields_ = [
        ("seccomp_notif", ctypes.c_uint16),
        ("seccomp_notif_resp", ctypes.c_uint16),
        ("seccomp_data", ctypes.c_uint16),
    ]


_checked: list[bool] = []


def check_sizes() -> None:
    """Compare the kernel's structure sizes with this module's; ``ProtocolError`` if they differ.

    A larger ``seccomp_notif`` would make ``RECV`` write past our buffer's end as the
    kernel sees it, and a smaller one means a kernel older than user notification.
    """
    if _checked:
        return
    nr = _SECCOMP_NR.get(native_arch())
    if nr is None:
        raise ProtocolError(f"seccomp user notification is not supported on {native_arch()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    sizes = _Sizes()
    if (
        libc.syscall(
            ctypes.c_long(nr),
            ctypes.c_ulong(SECCOMP_GET_NOTIF_SIZES),
            ctypes.c_ulong(0),
            ctypes.byref(sizes),
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise ProtocolError(
            f"the kernel does not report seccomp notification sizes: {os.strerror(err)}"
        )
    found = (sizes.seccomp_notif, sizes.seccomp_notif_resp, sizes.seccomp_data)
    expected = (_NOTIF.size, _RESP.size, _DATA_SIZE)
    if found != expected:
        raise ProtocolError(
            f"seccomp notification structures are {found} bytes on this kernel; "
            f"nono lays out {expected}"
        )
    _checked.append(True)


class Listener:
    """A seccomp listener descriptor (owned: :meth:`close` closes it)."""

    def __init__(self, fd: int) -> None:
        check_sizes()
        self.fd = fd
        self._addfd_send = True
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def fileno(self) -> int:
        """The listener descriptor."""
        return self.fd

    def close(self) -> None:
        """Close the listener: parked and future notified calls then fail with ENOSYS."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def sync_wake_up(self) -> bool:
        """Ask the kernel to wake parked threads synchronously (lower latency); False if too old."""
        try:
            fcntl.ioctl(
                self.fd, IOCTL_SET_FLAGS, bytearray(_U64.pack(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))
            )
        except OSError:
            return False
        return True

    def wait(self, timeout_ms: int) -> str:
        """Wait for a notification: ``"ready"``, ``"idle"`` (timed out) or ``"gone"``.

        ``"gone"`` means no task uses the filter any more: every sandboxed process exited.
        """
        try:
            events = self._poll.poll(timeout_ms)
        except InterruptedError:
            return "idle"
        for _, mask in events:
            if mask & select.POLLIN:
                return "ready"
            if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                return "gone"
        return "idle"

    def receive(self) -> Notification | None:
        """Take the next notification; ``None`` when it vanished (its thread was interrupted)."""
        buffer = bytearray(_NOTIF.size)  # RECV refuses a buffer that is not zeroed
        while True:
            try:
                fcntl.ioctl(self.fd, IOCTL_RECV, buffer)
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return None
                raise
            break
        fields = _NOTIF.unpack(buffer)
        return Notification(fields[0], fields[1], fields[3], fields[4], fields[6:])

    def is_valid(self, notification_id: int) -> bool:
        """Whether the thread is still parked in this notification (so its pid is still its own)."""
        try:
            fcntl.ioctl(self.fd, IOCTL_ID_VALID, bytearray(_U64.pack(notification_id)))
        except OSError:
            return False
        return True

    def _send(self, notification_id: int, value: int, error: int, flags: int) -> bool:
        try:
            fcntl.ioctl(
                self.fd, IOCTL_SEND, bytearray(_RESP.pack(notification_id, value, error, flags))
            )
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EINPROGRESS):
                return False  # the thread left (killed or interrupted) or was already answered
            raise
        return True

    def allow_continue(self, notification_id: int) -> bool:
        """Let the kernel run the call as if the filter had allowed it; False if it was stale.

        Only safe when something else (Landlock) enforces the same decision: the kernel
        reads the call's arguments again, and the process may have changed them since.
        """
        return self._send(notification_id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)

    def fail(self, notification_id: int, error: int) -> bool:
        """Make the call return ``-error``; False if the notification was stale."""
        return self._send(notification_id, -1, -abs(error), 0)

    def succeed(self, notification_id: int, value: int = 0) -> bool:
        """Make the call return ``value`` (the supervisor did the work); False if stale."""
        return self._send(notification_id, value, 0, 0)

    def inject(self, notification_id: int, fd: int, *, cloexec: bool) -> int | None:
        """Install ``fd`` in the caller's process and return its number there as the call's result.

        ``ADDFD`` with ``SEND`` (Linux 5.14) does both atomically; on an older kernel the
        descriptor is added, then the number sent (a thread killed in between leaves the
        number unused in a dying process). Returns the new descriptor number, or ``None``
        when the thread is gone (the descriptor was then not installed, or not used).
        """
        flags = os.O_CLOEXEC if cloexec else 0
        send = SECCOMP_ADDFD_FLAG_SEND if self._addfd_send else 0
        request = bytearray(_ADDFD.pack(notification_id, send, fd, 0, flags))
        try:
            number = int(fcntl.ioctl(self.fd, IOCTL_ADDFD, request))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EINPROGRESS):
                return None
            if exc.errno == errno.EINVAL and send:
                self._addfd_send = False  # a kernel before 5.14: no SEND flag
                return self.inject(notification_id, fd, cloexec=cloexec)
            raise
        if not send and not self.succeed(notification_id, number):
            return None
        return number
