"""``apply``: sandbox the calling process in place, as ``nono exec`` does before its exec.

The launcher's own steps, in its order: plan the Landlock rules for this host, create the
ruleset, ``no_new_privs``, ``landlock_restrict_self``, then the seccomp filter. Everything
used after the first restriction is imported before it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nonoc.api.bundles import Bundle
from nonoc.api.capabilities import CAPABILITIES_FILE, CapabilitySet, compile_profile
from nonoc.errors import NonoError, SandboxError


@dataclass(frozen=True)
class Applied:
    """What ``apply`` enforced on this process."""

    #: ``fully enforced`` or ``partially enforced`` (an older kernel, best effort).
    state: str
    kernel_abi: int
    grants: int
    denies: int
    ports: int
    seccomp: bool
    warnings: tuple[str, ...] = field(default=())


def apply(sandbox: CapabilitySet | Bundle, *, kernel_abi: int | None = None) -> Applied:
    """Sandbox the calling process, irreversibly: Landlock, ``no_new_privs``, then seccomp.

    Every thread the process starts afterwards, and every program it runs, inherits the
    sandbox; nothing can lift it. The process must have a single thread (Landlock restricts
    the calling thread only, and the others would stay free): call it early. Import what
    you need first, since the process may no longer read its own library afterwards.
    ``kernel_abi`` lowers the Landlock ABI used (tests). Raises ``SandboxError`` when the
    kernel cannot enforce what was asked, before anything is applied.
    """
    if isinstance(sandbox, Bundle):
        return sandbox.apply(kernel_abi=kernel_abi)
    if not isinstance(sandbox, CapabilitySet):
        raise TypeError(f"apply() takes a CapabilitySet or a Bundle, not {type(sandbox).__name__}")
    compilation = compile_profile(sandbox, "linux", unsigned=True)
    from nonoc.launch import verify

    payload_bytes, _ = verify.parse_envelope(CAPABILITIES_FILE, compilation.data)
    return apply_payload(
        verify.check_payload(CAPABILITIES_FILE, payload_bytes),
        CAPABILITIES_FILE,
        kernel_abi=kernel_abi,
    )


def thread_count() -> int:
    """How many threads this process has (from ``/proc/self/task``)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def apply_payload(payload: Mapping[str, Any], name: str, *, kernel_abi: int | None) -> Applied:
    """Plan, then enforce a verified payload on this process, without exec."""
    from nonoc.launch import apply as launcher
    from nonoc.launch import compat
    from nonoc.launch import plan as planning
    from nonoc.launch import seccomp as filters

    if not sys.platform.startswith("linux"):
        # The macOS launcher could confine this process too (sandbox_init_with_parameters),
        # but nothing here can test that without a Mac: not offered rather than unverified.
        raise SandboxError(f"apply() sandboxes a Linux process; on {sys.platform} use `nono exec`")
    linux = payload.get("linux")
    if not isinstance(linux, dict) or not isinstance(linux.get("landlock"), dict):
        raise NonoError(f"{name}: the bundle has no Linux Landlock table")
    threads = thread_count()
    if threads > 1:
        raise SandboxError(
            f"cannot sandbox a process with {threads} threads: Landlock restricts only the calling "
            "thread, so the others would stay unrestricted",
            notes=("call apply() before starting threads (or in a child process)",),
        )
    plan = planning.build(
        linux["landlock"], launcher.linux_provenance(payload), kernel_abi=kernel_abi
    )
    warnings: list[str] = []
    if plan.report.state != compat.FULLY:
        from nonoc.launch import report

        warnings.extend(report.warnings(plan))
    seccomp = linux.get("seccomp")
    program = None
    if seccomp:
        program = filters.decode(seccomp)
        if seccomp.get("needs_listener"):
            warnings.append(
                "the seccomp filter asks a supervisor about some calls; there is none here, so they "
                "fail with ENOSYS"
            )
    applied = Applied(
        state=plan.report.state,
        kernel_abi=plan.report.kernel_abi,
        grants=len(plan.grants),
        denies=len(plan.denies),
        ports=len(plan.ports),
        seccomp=program is not None,
        warnings=tuple(warnings),
    )
    launcher.enforce(plan)
    if program is not None:
        filters.install(program)
    return applied
