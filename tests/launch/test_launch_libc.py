"""``nonoc.launch.libc``: system calls through ``_ctypes``, checked against the real kernel."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from nonoc.launch import libc

PR_GET_NO_NEW_PRIVS = 39
SYS_GETPID = {"x86_64": 39, "aarch64": 172}


def test_syscall_returns_the_kernel_s_answer() -> None:
    number = SYS_GETPID.get(os.uname().machine)
    if number is None:
        pytest.skip(f"no getpid number known for {os.uname().machine}")
    assert libc.syscall(number) == os.getpid()


def test_failure_is_an_oserror_with_the_errno() -> None:
    with pytest.raises(OSError) as raised:
        libc.syscall(-1)
    assert raised.value.errno == errno.ENOSYS
    with pytest.raises(OSError) as raised:
        libc.prctl(-1)
    assert raised.value.errno == errno.EINVAL


def test_prctl_reads_an_int_result() -> None:
    # A child: setting no_new_privs here would stay set for the whole test session.
    code = (
        "from nonoc.launch import libc\n"
        "before = libc.prctl(39)\n"
        "libc.prctl(38, 1)\n"
        "print(before, libc.prctl(39))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.split() == ["0", "1"]
    assert libc.prctl(PR_GET_NO_NEW_PRIVS) in (0, 1)


def test_fields_are_native_byte_order() -> None:
    assert libc.u64(1) == (1).to_bytes(8, sys.byteorder)
    assert libc.u16(0x102) == (0x102).to_bytes(2, sys.byteorder)
    assert libc.s32(-1) == b"\xff\xff\xff\xff"
    assert len(libc.u64(2**64 - 1)) == 8


def test_pinned_bytes_are_at_their_address() -> None:
    data = os.urandom(64)
    pinned = libc.Pinned(data)
    assert len(pinned.pointer()) == libc.POINTER_SIZE
    assert int.from_bytes(pinned.pointer(), sys.byteorder) == pinned.address
    with open("/proc/self/mem", "rb", buffering=0) as memory:
        memory.seek(pinned.address)
        assert memory.read(len(data)) == data
