"""Table-driven interpreter tests: (arch, call, args) → action, with the adversarial rows.

Each row names what the kernel would do with the call; the compiled filter runs in the
interpreter. Rows marked "kernel reads low word" are the classic bypasses: junk in the high
half of an ``int`` argument must neither hide a match nor create one.
"""

from __future__ import annotations

import errno

import pytest
from seccomp_helpers import (
    ALLOW,
    AUDIT,
    AUDIT_AARCH64,
    AUDIT_ARM,
    AUDIT_I386,
    AUDIT_X86_64,
    ENOSYS,
    EPERM,
    KILL,
    compile_program,
    cond,
    errno_ret,
    nr,
    policy,
    rule,
    verdict,
)

from nonoc.backends.seccomp import bpf

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_MPTCP = 6, 17, 132, 262
TIOCSTI, TIOCLINUX, TCGETS = 0x5412, 0x541C, 0x5401
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
HIGH = 1 << 32
TRAP = bpf.RET_TRAP
LOG = bpf.RET_LOG
NOTIFY = bpf.RET_USER_NOTIF


def reference_policy(network: str) -> object:
    """A policy exercising every action, every width and both equality and order tests."""
    return policy(
        rule(["kexec_load", "bpf", "ptrace"], line=1),
        rule("ioctl", conditions=[cond(1, "eq", TIOCSTI)], line=2),
        rule("ioctl", conditions=[cond(1, "eq", TIOCLINUX)], line=3),
        rule("clone", conditions=[cond(0, "masked_eq", CLONE_NEWUSER, CLONE_NEWUSER)], line=4),
        rule(
            "personality",
            "errno",
            errno.EINVAL,
            [cond(0, "gt", 0x20008), cond(0, "ne", 0xFFFFFFFF)],
            line=5,
        ),
        rule("mmap", "kill_process", conditions=[cond(0, "eq", HIGH)], line=6),
        rule("munmap", "kill_process", conditions=[cond(1, "ge", 5 * HIGH + 7)], line=7),
        rule("fchmod", "log", conditions=[cond(1, "masked_eq", 0o4000, 0o4000)], line=8),
        rule("uselib", "trap", line=9),
        rule("acct", "notify", line=10),
        rule("kill", "errno", errno.ESRCH, [cond(1, "eq", 9)], line=11),
        rule("kill", "kill_process", conditions=[cond(0, "eq", 1), cond(1, "eq", 9)], line=12),
        network=network,
    )


# (row id, call name, args, expected return) valid on both architectures.
COMMON_ROWS = [
    ("plain call allowed", "getpid", (), ALLOW),
    ("denied call", "kexec_load", (), EPERM),
    ("denied call 2", "bpf", (0, 0, 0), EPERM),
    ("denied call 3", "ptrace", (16, 1), EPERM),
    ("TIOCSTI", "ioctl", (0, TIOCSTI), EPERM),
    (
        "TIOCSTI, junk high word (kernel reads low word)",
        "ioctl",
        (0, TIOCSTI | 0xDEAD * HIGH),
        EPERM,
    ),
    ("TIOCLINUX", "ioctl", (0, TIOCLINUX), EPERM),
    ("other ioctl", "ioctl", (0, TCGETS), ALLOW),
    ("ioctl fd junk", "ioctl", (0xFFFFFFFF_FFFFFFFF, TCGETS), ALLOW),
    ("clone new user ns", "clone", (CLONE_NEWUSER | SIGCHLD,), EPERM),
    ("clone plain", "clone", (SIGCHLD,), ALLOW),
    (
        "clone flag shifted to high word (64-bit arg: not the flag)",
        "clone",
        (CLONE_NEWUSER * HIGH,),
        ALLOW,
    ),
    ("personality query", "personality", (0xFFFFFFFF,), ALLOW),
    ("personality linux", "personality", (0,), ALLOW),
    ("personality odd", "personality", (0x0400000,), errno_ret(errno.EINVAL)),
    ("personality query, junk high word", "personality", (0xFFFFFFFF | 7 * HIGH,), ALLOW),
    ("personality small, junk high word", "personality", (8 | HIGH,), ALLOW),
    ("mmap 64-bit equal", "mmap", (HIGH,), KILL),
    ("mmap 64-bit low word only", "mmap", (0,), ALLOW),
    ("mmap 64-bit other high word", "mmap", (2 * HIGH,), ALLOW),
    ("munmap 64-bit >= boundary", "munmap", (0, 5 * HIGH + 7), KILL),
    ("munmap 64-bit below", "munmap", (0, 5 * HIGH + 6), ALLOW),
    ("munmap 64-bit high word bigger, low smaller", "munmap", (0, 6 * HIGH), KILL),
    ("munmap 64-bit high word smaller, low bigger", "munmap", (0, 4 * HIGH + 0xFFFFFFFF), ALLOW),
    ("fchmod setuid bit (16-bit umode_t)", "fchmod", (3, 0o4755), LOG),
    ("fchmod setuid bit, junk above 16 bits", "fchmod", (3, 0o4755 | 0x10000 | 5 * HIGH), LOG),
    ("fchmod bit 16 is not umode_t", "fchmod", (3, 0o4000 << 16), ALLOW),
    ("fchmod plain", "fchmod", (3, 0o755), ALLOW),
    ("notify action", "acct", (), NOTIFY),
    ("kill 9: errno", "kill", (5, 9), errno_ret(errno.ESRCH)),
    ("kill init 9: strictest rule wins", "kill", (1, 9), KILL),
    ("kill init 9, junk high words", "kill", (1 | HIGH, 9 | HIGH), KILL),
    ("kill 15", "kill", (1, 15), ALLOW),
    ("socketpair unix", "socketpair", (AF_UNIX, SOCK_STREAM, 0), ALLOW),
    ("socket unix", "socket", (AF_UNIX, SOCK_DGRAM, 0), ALLOW),
]

BLOCK_ROWS = [
    ("tcp", "socket", (AF_INET, SOCK_STREAM, 0), EPERM),
    ("tcp6", "socket", (AF_INET6, SOCK_STREAM, 0), EPERM),
    ("udp", "socket", (AF_INET, SOCK_DGRAM, IPPROTO_UDP), EPERM),
    ("raw", "socket", (AF_INET, SOCK_RAW, 1), EPERM),
    ("packet", "socket", (AF_PACKET, SOCK_RAW, 0x0300), EPERM),
    ("netlink", "socket", (AF_NETLINK, SOCK_RAW, 0), EPERM),
    (
        "inet with junk high word (kernel reads low word)",
        "socket",
        (AF_INET | HIGH, SOCK_STREAM, 0),
        EPERM,
    ),
    (
        "unix with junk high word is a unix socket",
        "socket",
        (AF_UNIX | HIGH, SOCK_STREAM, 0),
        ALLOW,
    ),
    ("socketpair inet", "socketpair", (AF_INET, SOCK_STREAM, 0), EPERM),
    ("socketpair inet, junk high word", "socketpair", (AF_INET | 3 * HIGH, SOCK_STREAM, 0), EPERM),
    ("io_uring_setup", "io_uring_setup", (8, 0), EPERM),
    ("io_uring_enter", "io_uring_enter", (3, 1), EPERM),
    ("io_uring_register", "io_uring_register", (3, 0), EPERM),
]

PROXY_ROWS = [
    ("tcp", "socket", (AF_INET, SOCK_STREAM, 0), ALLOW),
    ("tcp explicit protocol", "socket", (AF_INET, SOCK_STREAM, IPPROTO_TCP), ALLOW),
    (
        "tcp nonblock cloexec",
        "socket",
        (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
        ALLOW,
    ),
    ("tcp6", "socket", (AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), ALLOW),
    ("udp", "socket", (AF_INET, SOCK_DGRAM, 0), EPERM),
    ("udp nonblock", "socket", (AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0), EPERM),
    ("udp hidden in high word of type", "socket", (AF_INET, SOCK_DGRAM | HIGH, 0), EPERM),
    ("raw", "socket", (AF_INET, SOCK_RAW, 255), EPERM),
    ("sctp stream", "socket", (AF_INET, SOCK_STREAM, IPPROTO_SCTP), EPERM),
    ("mptcp stream", "socket", (AF_INET6, SOCK_STREAM, IPPROTO_MPTCP), EPERM),
    ("packet", "socket", (AF_PACKET, SOCK_RAW, 0), EPERM),
    ("netlink", "socket", (AF_NETLINK, SOCK_DGRAM, 0), EPERM),
    ("unix dgram", "socket", (AF_UNIX, SOCK_DGRAM, 0), ALLOW),
    ("socketpair inet", "socketpair", (AF_INET, SOCK_STREAM, 0), EPERM),
    ("io_uring_setup", "io_uring_setup", (8, 0), EPERM),
]


def _rows(rows: list[tuple[str, str, tuple[int, ...], int]]) -> list[object]:
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize(("name", "args", "expected"), _rows(COMMON_ROWS + BLOCK_ROWS))
def test_network_block(arch: str, name: str, args: tuple[int, ...], expected: int) -> None:
    program, _ = compile_program(reference_policy("blocked"), arch)
    assert verdict(program, AUDIT[arch], nr(name, arch), args) == expected


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize(("name", "args", "expected"), _rows(COMMON_ROWS + PROXY_ROWS))
def test_network_proxy(arch: str, name: str, args: tuple[int, ...], expected: int) -> None:
    program, _ = compile_program(reference_policy("proxy"), arch)
    assert verdict(program, AUDIT[arch], nr(name, arch), args) == expected


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_network_open_lets_sockets_through(arch: str) -> None:
    program, _ = compile_program(reference_policy("open"), arch)
    for args in ((AF_INET, SOCK_DGRAM, 0), (AF_PACKET, SOCK_RAW, 0), (AF_INET6, SOCK_STREAM, 0)):
        assert verdict(program, AUDIT[arch], nr("socket", arch), args) == ALLOW
    assert verdict(program, AUDIT[arch], nr("io_uring_setup", arch), (8, 0)) == ALLOW


# Rows about numbers and architectures rather than calls: (id, arch, audit, nr, expected).
EDGE_ROWS = [
    ("i386 ABI on x86_64", "x86_64", AUDIT_I386, 11, KILL),
    ("aarch64 arch on x86_64 filter", "x86_64", AUDIT_AARCH64, 39, KILL),
    ("unknown arch", "x86_64", 0x12345678, 0, KILL),
    ("arch 0", "x86_64", 0, 0, KILL),
    ("x86_64 arch on aarch64 filter", "aarch64", AUDIT_X86_64, 172, KILL),
    ("arm (32-bit) on aarch64", "aarch64", AUDIT_ARM, 20, KILL),
    ("x32 socket", "x86_64", AUDIT_X86_64, 0x40000000 | 41, ENOSYS),
    ("x32 ptrace", "x86_64", AUDIT_X86_64, 0x40000000 | 101, ENOSYS),
    ("x32-only numbers (512+)", "x86_64", AUDIT_X86_64, 0x40000000 | 514, ENOSYS),
    ("x32 getpid", "x86_64", AUDIT_X86_64, 0x40000000 | 39, ENOSYS),
    ("nr = -1 on x86_64", "x86_64", AUDIT_X86_64, -1, ENOSYS),
    ("highest non-x32 number", "x86_64", AUDIT_X86_64, 0x3FFFFFFF, ALLOW),
    ("unassigned number", "x86_64", AUDIT_X86_64, 400, ALLOW),
    ("nr = -1 on aarch64 (kernel answers ENOSYS itself)", "aarch64", AUDIT_AARCH64, -1, ALLOW),
    ("bit 30 means nothing on aarch64", "aarch64", AUDIT_AARCH64, 0x40000000 | 198, ALLOW),
    ("huge number on aarch64", "aarch64", AUDIT_AARCH64, 0x7FFFFFFF, ALLOW),
]


@pytest.mark.parametrize(
    ("arch", "audit", "number", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in EDGE_ROWS],
)
def test_numbers_and_architectures(arch: str, audit: int, number: int, expected: int) -> None:
    program, _ = compile_program(reference_policy("blocked"), arch)
    assert verdict(program, audit, number, (AF_INET, SOCK_STREAM, 0)) == expected


def test_x32_socket_cannot_dodge_the_socket_rule() -> None:
    """The x32 number for socket() must not reach the allow branch of the native one."""
    program, _ = compile_program(reference_policy("blocked"), "x86_64")
    x32_socket = 0x40000000 | 41
    assert verdict(program, AUDIT_X86_64, x32_socket, (AF_UNIX, SOCK_STREAM, 0)) == ENOSYS


def test_uselib_traps_where_it_exists() -> None:
    program, _ = compile_program(reference_policy("open"), "x86_64")
    assert verdict(program, AUDIT_X86_64, nr("uselib"), ()) == TRAP
