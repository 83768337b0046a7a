"""Live kernel tests: a child installs the compiled filter with ``nonoc.launch.seccomp.install``
and reports what the kernel answered. Every denial is paired with a control run without the
filter, so an EPERM cannot come from something else (this machine runs the tests as root).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from seccomp_helpers import compile_program, cond, policy, rule

from nonoc.backends.seccomp import bpf, codegen, tables
from nonoc.backends.seccomp.ir_rules import build_rule_set
from nonoc.backends.seccomp.rules import ALLOW
from nonoc.ir import Policy

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux-only"),
]

REPO = Path(__file__).resolve().parents[3]


def _seccomp_available() -> bool:
    status = Path("/proc/self/status").read_text()
    return "Seccomp_filters:" in status or "Seccomp:" in status


@pytest.fixture(autouse=True)
def _needs_seccomp() -> None:
    if not _seccomp_available():
        pytest.skip("this kernel has no seccomp filter support")
    if os.uname().machine not in tables.ARCHES:
        pytest.skip(f"no syscall table for {os.uname().machine}")


PRELUDE = textwrap.dedent(
    """
    import base64, ctypes, errno, json, os, socket, sys
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    results = {}
    def attempt(name, fn):
        try:
            value = fn()
            results[name] = "ok" if value is None or value >= 0 else "?"
        except OSError as exc:
            results[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    def raw(nr, *args):
        ctypes.set_errno(0)
        value = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
        if value < 0:
            raise OSError(ctypes.get_errno(), "raw syscall")
        return value
    program = os.environ.get("NONO_TEST_FILTER")
    if program:
        from nonoc.launch.seccomp import install
        install(base64.b64decode(program))
    """
)


def run_child(body: str, program: bytes | None, **extra_env: str) -> dict[str, object]:
    """Run ``body`` in a child (after installing ``program`` if given); return its results."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), **extra_env}
    if program is not None:
        env["NONO_TEST_FILTER"] = base64.b64encode(program).decode()
    code = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(results))\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def program_of(pol: Policy) -> bytes:
    machine = os.uname().machine
    program, _ = compile_program(pol, "aarch64" if machine == "aarch64" else "x86_64")
    return bpf.encode(program)


def native(name: str) -> int:
    arch = "aarch64" if os.uname().machine == "aarch64" else "x86_64"
    call = tables.load(arch).lookup(name)
    assert call is not None
    return call.nr


NETWORK_PROBES = """
port = int(os.environ["PORT"])
def tcp():
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", port))
def raw_icmp():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
def packet():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
def inet_high_bits():
    os.close(raw(SOCKET, socket.AF_INET | (1 << 32), socket.SOCK_STREAM, 0))
def udp_high_bits_in_type():
    os.close(raw(SOCKET, socket.AF_INET, socket.SOCK_DGRAM | (1 << 32), 0))
def unix_pair():
    a, b = socket.socketpair()
    a.sendall(b"ping")
    assert b.recv(4) == b"ping"
    a.close(); b.close()
def unix_socket():
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
def inet_pair():
    os.close(raw(SOCKETPAIR, socket.AF_INET, socket.SOCK_STREAM, 0, 0))
def io_uring():
    params = ctypes.create_string_buffer(120)
    os.close(raw(IO_URING_SETUP, 4, ctypes.addressof(params)))
for name, fn in [("tcp", tcp), ("udp", udp), ("raw", raw_icmp), ("packet", packet),
                 ("inet_high_bits", inet_high_bits), ("udp_high_bits", udp_high_bits_in_type),
                 ("unix_pair", unix_pair), ("unix_socket", unix_socket),
                 ("inet_pair", inet_pair), ("io_uring", io_uring)]:
    attempt(name, fn)
"""


@pytest.fixture
def listener() -> object:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server
    server.close()


def _network_env(listener: socket.socket) -> dict[str, str]:
    return {"PORT": str(listener.getsockname()[1])}


def _network_body() -> str:
    return (
        f"SOCKET, SOCKETPAIR, IO_URING_SETUP = {native('socket')}, {native('socketpair')}, "
        f"{native('io_uring_setup')}\n" + NETWORK_PROBES
    )


def test_network_block_holds_in_the_kernel(listener: socket.socket) -> None:
    env = _network_env(listener)
    control = run_child(_network_body(), None, **env)
    # Without the filter (as root) every probe succeeds, except what the kernel lacks.
    for probe in ("tcp", "udp", "raw", "inet_high_bits", "unix_pair", "unix_socket"):
        assert control[probe] == "ok", (probe, control)
    sandboxed = run_child(_network_body(), program_of(policy(network="blocked")), **env)
    for probe in ("tcp", "udp", "raw", "packet", "inet_high_bits", "udp_high_bits", "inet_pair"):
        assert sandboxed[probe] in ("EPERM", "EACCES"), (probe, sandboxed)
    if control["io_uring"] == "ok":
        assert sandboxed["io_uring"] == "EPERM"
    assert sandboxed["unix_pair"] == "ok"
    assert sandboxed["unix_socket"] == "ok"


def test_network_proxy_keeps_tcp_only(listener: socket.socket) -> None:
    env = _network_env(listener)
    sandboxed = run_child(_network_body(), program_of(policy(network="proxy")), **env)
    assert sandboxed["tcp"] == "ok"  # Landlock, not seccomp, decides which ports
    assert sandboxed["inet_high_bits"] == "ok"  # the kernel sees AF_INET, SOCK_STREAM
    for probe in ("udp", "raw", "packet", "udp_high_bits", "inet_pair", "io_uring"):
        assert sandboxed[probe] in ("EPERM", "EACCES"), (probe, sandboxed)
    assert sandboxed["unix_pair"] == "ok"


TTY_PROBES = """
import fcntl, termios
master, slave = os.openpty()
def tiocsti():
    fcntl.ioctl(slave, termios.TIOCSTI, b"x")
def tiocsti_high_bits():
    char = ctypes.c_char(b"y")
    raw(IOCTL, slave, termios.TIOCSTI | (1 << 32), ctypes.addressof(char))
def tcgets():
    termios.tcgetattr(slave)
attempt("tiocsti", tiocsti)
attempt("tiocsti_high_bits", tiocsti_high_bits)
attempt("tcgets", tcgets)
"""


def test_tiocsti_on_a_tty_fails() -> None:
    body = f"IOCTL = {native('ioctl')}\n" + TTY_PROBES
    pol = policy(rule("ioctl", conditions=[cond(1, "eq", 0x5412)]))
    control = run_child(body, None)
    if control["tiocsti"] != "ok":
        pytest.skip(f"TIOCSTI is refused here even without a filter ({control['tiocsti']})")
    # Without a filter the kernel truncates the command: the high bits do not stop it.
    assert control["tiocsti_high_bits"] == "ok"
    sandboxed = run_child(body, program_of(pol))
    assert sandboxed["tiocsti"] == "EPERM"
    assert sandboxed["tiocsti_high_bits"] == "EPERM"
    assert sandboxed["tcgets"] == "ok"


def test_stdlib_hardening_in_the_kernel() -> None:
    """The mandatory group through the real front end: denied calls fail, programs still run."""
    from nonoc.resolve import load_policy_text

    pol = load_policy_text('profile p "live" { }', "live.nono", "linux", profile="p")
    body = f"""
import subprocess, threading
IOCTL, UNSHARE, CLONE3, PERSONALITY = {native("ioctl")}, {native("unshare")}, {native("clone3")}, {native("personality")}
CLONE_NEWUSER, CLONE_NEWNS, CLONE_FILES = 0x10000000, 0x20000, 0x400
{TTY_PROBES}
attempt("unshare_user", lambda: raw(UNSHARE, CLONE_NEWUSER))
attempt("unshare_mount_high_bits", lambda: raw(UNSHARE, CLONE_NEWNS | (1 << 40)))
attempt("unshare_files", lambda: raw(UNSHARE, CLONE_FILES))
attempt("clone3", lambda: raw(CLONE3, 0, 0))
attempt("personality_noaslr", lambda: raw(PERSONALITY, 0x0040000))
attempt("personality_query", lambda: raw(PERSONALITY, 0xFFFFFFFF))
attempt("subprocess", lambda: subprocess.run(["/bin/true"], check=True) and None)
def thread():
    t = threading.Thread(target=lambda: None); t.start(); t.join()
attempt("thread", thread)
"""
    sandboxed = run_child(body, program_of(pol))
    assert sandboxed["tiocsti"] == "EPERM"
    assert sandboxed["tiocsti_high_bits"] == "EPERM"
    assert sandboxed["unshare_user"] == "EPERM"
    assert sandboxed["unshare_mount_high_bits"] == "EPERM"
    assert sandboxed["unshare_files"] == "ok"
    assert sandboxed["clone3"] == "ENOSYS"  # glibc falls back to clone, which is checked
    assert sandboxed["personality_noaslr"] == "EPERM"
    assert sandboxed["personality_query"] == "ok"
    assert sandboxed["subprocess"] == "ok"
    assert sandboxed["thread"] == "ok"


def test_kill_action_kills_the_process() -> None:
    program = program_of(policy(rule("getppid", "kill_process")))
    code = PRELUDE + "os.getppid()\nprint('survived')\n"
    env = {"PYTHONPATH": str(REPO), "NONO_TEST_FILTER": base64.b64encode(program).decode()}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGSYS
    assert b"survived" not in done.stdout


def test_listener_fd_and_no_new_privs() -> None:
    program = program_of(policy(rule("acct", "notify")))
    body = f"""
from nonoc.launch import seccomp as launcher
fd = launcher.install(base64.b64decode({base64.b64encode(program).decode()!r}),
                      flags=launcher.SECCOMP_FILTER_FLAG_NEW_LISTENER)
results["fd"] = fd
results["nnp"] = libc.prctl(39, 0, 0, 0, 0)
os.fstat(fd)
"""
    out = run_child(body, None)
    assert isinstance(out["fd"], int) and out["fd"] >= 3
    assert out["nnp"] == 1


def test_kernel_accepts_a_program_with_trampolines() -> None:
    arch = "aarch64" if os.uname().machine == "aarch64" else "x86_64"
    table = tables.load(arch)
    from nonoc.backends.seccomp.ir_rules import Condition, SourceRule
    from nonoc.backends.seccomp.rules import Action, Op

    calls = sorted(table.by_name.values(), key=lambda call: call.nr)
    rules = [
        SourceRule(
            f"s{i}",
            (call.name,),
            Action("errno", 1 + i % 100),
            (Condition(0, Op.EQ, 0xDEAD0000 + i),),
        )
        for i, call in enumerate(calls[::2])
        if call.widths
    ]
    rule_set, _ = build_rule_set(table, rules, default=ALLOW)
    program = codegen.generate(rule_set)
    assert any(insn.code == bpf.JMP | bpf.JA for insn in program)
    out = run_child("attempt('getpid', os.getpid)\n", bpf.encode(program))
    assert out["getpid"] == "ok"


def test_install_refuses_malformed_programs() -> None:
    from nonoc.errors import SandboxError
    from nonoc.launch.seccomp import install

    with pytest.raises(SandboxError, match="whole number"):
        install(b"\x06\x00\x00\x00\x00\x00")
    with pytest.raises(SandboxError, match="at most 4096"):
        install(bpf.encode([bpf.ret(bpf.RET_ALLOW)] * 4097))
