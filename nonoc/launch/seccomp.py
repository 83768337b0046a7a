"""Install a compiled seccomp filter on the calling thread. Standard library + ctypes only.

The launcher calls :func:`install` after Landlock and right before ``execve``: the filter is
the last thing applied, so the launcher's own set-up syscalls never meet it. The program
comes from the bundle as the raw bytes of a ``struct sock_filter[]`` (8 bytes per
instruction, native byte order); this module does not interpret it, it only checks that it
is well formed and hands it to the kernel.
"""

from __future__ import annotations

import binascii
import errno
import os

from nonoc.launch import libc

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and nonoc.errors cost the launcher milliseconds at import time
    from collections.abc import Mapping
    from typing import NoReturn

#: ``seccomp(2)`` operation and filter flags (linux/seccomp.h).
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1 << 0
SECCOMP_FILTER_FLAG_LOG = 1 << 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

#: ``prctl`` options (linux/prctl.h) and the legacy mode constant.
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

#: The kernel's limit on one filter (BPF_MAXINSNS).
MAX_INSTRUCTIONS = 4096
INSTRUCTION_SIZE = 8

#: Number of the ``seccomp`` syscall per architecture (uname machine names).
_SECCOMP_NR = {"x86_64": 317, "aarch64": 277, "arm64": 277}


def _fail(message: str) -> NoReturn:
    """Raise ``SandboxError`` (exit 126); imported only on this path, to keep start-up fast."""
    from nonoc.errors import SandboxError

    raise SandboxError(message)


def native_arch() -> str:
    """This machine's architecture in nono's names (``x86_64``, ``aarch64``)."""
    machine = os.uname().machine.lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def ensure_no_new_privs() -> None:
    """Set ``no_new_privs`` unless set: the kernel refuses an unprivileged filter without it."""
    try:
        if libc.prctl(PR_GET_NO_NEW_PRIVS) == 1:
            return
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as exc:
        _fail(f"cannot set no_new_privs: {exc.strerror}")


def install(program: bytes, *, flags: int = 0) -> int | None:
    """Install ``program`` (raw ``struct sock_filter[]`` bytes) as a seccomp filter.

    Sets ``no_new_privs`` first when the caller has not. Returns the user-notification
    listener fd when ``flags`` asks for ``SECCOMP_FILTER_FLAG_NEW_LISTENER`` (the caller
    owns it), else ``None``. Raises ``SandboxError`` (exit 126) when the kernel refuses.
    """
    if not program or len(program) % INSTRUCTION_SIZE:
        _fail(
            f"seccomp program is malformed: {len(program)} bytes is not a whole number of "
            f"{INSTRUCTION_SIZE}-byte instructions"
        )
    count = len(program) // INSTRUCTION_SIZE
    if count > MAX_INSTRUCTIONS:
        _fail(
            f"seccomp program has {count} instructions; the kernel accepts at most {MAX_INSTRUCTIONS}"
        )
    ensure_no_new_privs()
    nr = _SECCOMP_NR.get(native_arch())
    if nr is None:
        _fail(f"seccomp is not supported by nono on {os.uname().machine}")
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }: the pointer is
    # aligned to its own size. The kernel copies the program during the call.
    buffer = libc.Pinned(program)
    fprog = libc.u16(count) + bytes(libc.POINTER_SIZE - 2) + buffer.pointer()
    try:
        result = libc.syscall(nr, SECCOMP_SET_MODE_FILTER, flags, fprog)
    except OSError as exc:
        err = exc.errno or 0  # launch.libc always sets it; `or 0` is for the type
        if err == errno.ENOSYS and flags == 0:
            # Kernels before 3.17 have no seccomp(2); prctl installs the same filter.
            try:
                libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog)
                return None
            except OSError as again:
                err = again.errno or 0
        _fail(f"cannot install the seccomp filter: {os.strerror(err)} (errno {err})")
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER:
        return int(result)
    return None


def decode(artifact: Mapping[str, object]) -> bytes:
    """The program bytes of a bundle's ``seccomp`` artifact, after checking it fits this machine."""
    arch = artifact.get("arch")
    if arch != native_arch():
        _fail(f"the bundle's seccomp filter is for {arch}, this machine is {native_arch()}")
    encoded = artifact.get("program")
    if not isinstance(encoded, str):
        _fail("the bundle's seccomp artifact has no program")
    try:
        program = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        _fail(f"the bundle's seccomp program is not valid base64: {exc}")
    count = artifact.get("count")
    held = len(program) // INSTRUCTION_SIZE
    if count != held:
        _fail(f"the bundle's seccomp program holds {held} instructions, its artifact says {count}")
    return program


def install_artifact(artifact: Mapping[str, object], *, flags: int = 0) -> int | None:
    """Decode and install a bundle's ``seccomp`` artifact (see :func:`decode` and :func:`install`)."""
    return install(decode(artifact), flags=flags)
