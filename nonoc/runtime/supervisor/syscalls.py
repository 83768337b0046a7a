"""The system calls the supervisor mediates, by family, and their numbers on this machine."""

from __future__ import annotations

#: Opens that may be widened by a question (``--supervised``).
OPEN_CALLS = ("open", "openat", "openat2", "creat")
#: Calls that can reach a pathname unix socket: connect, and sends carrying an address;
#: and ``bind``, which tells the sandbox's own sockets from the others (``bound``).
SOCKET_CALLS = ("connect", "sendto", "sendmsg", "sendmmsg", "bind")
#: Calls that change a file's metadata without opening it for writing.
METADATA_CALLS = (
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "setxattrat",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "removexattrat",
    "file_setattr",
)
#: ``ioctl`` commands that change inode flags (``chattr``): FS_IOC_SETFLAGS (long and int
#: sized) and FS_IOC_FSSETXATTR.
FS_IOC_SETFLAGS = 0x40086602
FS_IOC32_SETFLAGS = 0x40046602
FS_IOC_FSSETXATTR = 0x401C5820
METADATA_IOCTLS = (FS_IOC_SETFLAGS, FS_IOC32_SETFLAGS, FS_IOC_FSSETXATTR)


def mediated_names() -> tuple[str, ...]:
    """Every call any family mediates."""
    return (*OPEN_CALLS, *SOCKET_CALLS, *METADATA_CALLS, "ioctl")


def syscall_names(arch: str | None = None) -> dict[int, str]:
    """Number → name of every mediated call that exists on ``arch`` (default: this machine).

    From the precompiled table (:mod:`notify_filters`) when it has the architecture: the
    seccomp backend's tables come with the whole backend, ~100 ms to import.
    """
    from nonoc.launch.seccomp import native_arch
    from nonoc.runtime.supervisor.notify_filters import NAMES

    arch = arch or native_arch()
    if arch in NAMES:
        return dict(NAMES[arch])
    from nonoc.backends.seccomp import tables

    table = tables.load(arch)
    return {call.nr: name for name in mediated_names() if (call := table.lookup(name))}
