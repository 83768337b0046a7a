"""The Landlock system calls, through ctypes: ABI query, ruleset, rules, restrict_self.

Nothing here decides policy: callers pass bit masks already fitted to the running kernel
(see ``nonoc.launch.compat``). Every failure is an ``OSError`` carrying the kernel's errno,
so the caller can say which rule or right the kernel refused.
"""

from __future__ import annotations

import ctypes
import os

# The generic syscall table numbers Landlock 444-446 on every architecture nono targets
# (x86_64 and aarch64 share them); only alpha differs, and nono does not run there.
SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2
PR_SET_NO_NEW_PRIVS = 38

#: Size of ``struct landlock_ruleset_attr`` by its newest field used: fs (ABI 1), net (4),
#: scoped (6).
_ATTR_SIZE_FS, _ATTR_SIZE_NET, _ATTR_SIZE_SCOPED = 8, 16, 24


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    # The kernel declares this struct packed: 12 bytes, no trailing padding.
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


_libc: ctypes.CDLL | None = None


def _syscall(number: int, *args: object) -> int:
    """Call ``syscall(number, *args)``; raise ``OSError`` with the kernel's errno on failure."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    result = int(_libc.syscall(ctypes.c_long(number), *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is absent or disabled at boot."""
    try:
        return _syscall(
            SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION)
        )
    except OSError:
        # ENOSYS: not built in; EOPNOTSUPP: built in but not enabled (lsm= boot parameter).
        return 0


def create_ruleset(handled_fs: int, handled_net: int = 0, scoped: int = 0) -> int:
    """Create a ruleset handling these masks; return its file descriptor (close-on-exec)."""
    attr = _RulesetAttr(handled_fs, handled_net, scoped)
    size = _ATTR_SIZE_SCOPED if scoped else _ATTR_SIZE_NET if handled_net else _ATTR_SIZE_FS
    return _syscall(
        SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )


def add_path_rule(ruleset_fd: int, path_fd: int, access: int) -> None:
    """Allow ``access`` beneath the file or directory open as ``path_fd`` (an O_PATH descriptor)."""
    attr = _PathBeneathAttr(access, path_fd)
    _syscall(
        SYS_ADD_RULE,
        ctypes.c_int(ruleset_fd),
        ctypes.c_int(RULE_PATH_BENEATH),
        ctypes.byref(attr),
        ctypes.c_uint32(0),
    )


def add_port_rule(ruleset_fd: int, port: int, access: int) -> None:
    """Allow ``access`` (BIND_TCP / CONNECT_TCP bits) on TCP ``port``."""
    attr = _NetPortAttr(access, port)
    _syscall(
        SYS_ADD_RULE,
        ctypes.c_int(ruleset_fd),
        ctypes.c_int(RULE_NET_PORT),
        ctypes.byref(attr),
        ctypes.c_uint32(0),
    )


def set_no_new_privs() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS, 1)``: required before an unprivileged restrict_self, and
    what keeps a setuid binary from shedding the sandbox."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    if (
        _libc.prctl(
            ctypes.c_int(PR_SET_NO_NEW_PRIVS),
            ctypes.c_ulong(1),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def restrict_self(ruleset_fd: int) -> None:
    """Enforce the ruleset on this thread (and what it execs); irreversible."""
    _syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))
