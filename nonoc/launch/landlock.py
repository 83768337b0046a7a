"""The Landlock system calls (``nonoc.launch.libc``): ABI query, ruleset, rules, restrict_self.

Nothing here decides policy: callers pass bit masks already fitted to the running kernel
(see ``nonoc.launch.compat``). Every failure is an ``OSError`` carrying the kernel's errno,
so the caller can say which rule or right the kernel refused.
"""

from __future__ import annotations

from nonoc.launch import libc

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
#: scoped (6). Older kernels refuse a larger size whose extra fields they do not know.
_ATTR_SIZE_FS, _ATTR_SIZE_NET, _ATTR_SIZE_SCOPED = 8, 16, 24


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is absent or disabled at boot."""
    try:
        return libc.syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    except OSError:
        # ENOSYS: not built in; EOPNOTSUPP: built in but not enabled (lsm= boot parameter).
        return 0


def create_ruleset(handled_fs: int, handled_net: int = 0, scoped: int = 0) -> int:
    """Create a ruleset handling these masks; return its file descriptor (close-on-exec)."""
    # struct landlock_ruleset_attr { __u64 handled_access_fs, handled_access_net, scoped; }
    attr = libc.u64(handled_fs) + libc.u64(handled_net) + libc.u64(scoped)
    size = _ATTR_SIZE_SCOPED if scoped else _ATTR_SIZE_NET if handled_net else _ATTR_SIZE_FS
    return libc.syscall(SYS_CREATE_RULESET, attr, size, 0)


def add_path_rule(ruleset_fd: int, path_fd: int, access: int) -> None:
    """Allow ``access`` beneath the file or directory open as ``path_fd`` (an O_PATH descriptor)."""
    # struct landlock_path_beneath_attr { __u64 allowed_access; __s32 parent_fd; } __packed:
    # 12 bytes, no trailing padding.
    attr = libc.u64(access) + libc.s32(path_fd)
    libc.syscall(SYS_ADD_RULE, ruleset_fd, RULE_PATH_BENEATH, attr, 0)


def add_port_rule(ruleset_fd: int, port: int, access: int) -> None:
    """Allow ``access`` (BIND_TCP / CONNECT_TCP bits) on TCP ``port``."""
    # struct landlock_net_port_attr { __u64 allowed_access; __u64 port; }
    attr = libc.u64(access) + libc.u64(port)
    libc.syscall(SYS_ADD_RULE, ruleset_fd, RULE_NET_PORT, attr, 0)


def set_no_new_privs() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS, 1)``: required before an unprivileged restrict_self, and
    what keeps a setuid binary from shedding the sandbox."""
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1)


def restrict_self(ruleset_fd: int) -> None:
    """Enforce the ruleset on this thread (and what it execs); irreversible."""
    libc.syscall(SYS_RESTRICT_SELF, ruleset_fd, 0)
