"""Shared helpers for the seccomp backend tests: building IR rules, compiling, an independent spec."""

from __future__ import annotations

import base64
import errno
from collections.abc import Sequence

from nonoc.backends.host import HostFacts
from nonoc.backends.seccomp import bpf, lower, policy_rules, tables
from nonoc.backends.seccomp.interp import SeccompData, run
from nonoc.backends.seccomp.ir_rules import Condition, SourceRule
from nonoc.backends.seccomp.rules import Action, Op
from nonoc.ir import (
    ArgCondition,
    ArgOp,
    Network,
    NetworkMode,
    Policy,
    Provenance,
    SyscallAction,
    SyscallActionKind,
    SyscallRule,
)

AUDIT_X86_64 = 0xC000003E
AUDIT_AARCH64 = 0xC00000B7
AUDIT_I386 = 0x40000003
AUDIT_ARM = 0x40000028
AUDIT = {"x86_64": AUDIT_X86_64, "aarch64": AUDIT_AARCH64}

ALLOW = bpf.RET_ALLOW
KILL = bpf.RET_KILL_PROCESS
EPERM = bpf.RET_ERRNO | errno.EPERM
ENOSYS = bpf.RET_ERRNO | errno.ENOSYS


def errno_ret(value: int) -> int:
    """The ``SECCOMP_RET_ERRNO`` value for ``value``."""
    return bpf.RET_ERRNO | value


def cond(index: int, op: str, value: int, mask: int | None = None) -> ArgCondition:
    """An IR condition; ``op`` is an ``ArgOp`` value (``eq``, ``masked_eq``…)."""
    return ArgCondition(index=index, op=ArgOp(op), value=value, mask=mask)


def rule(
    names: Sequence[str] | str,
    action: str = "errno",
    errno_value: int | None = None,
    conditions: Sequence[ArgCondition] = (),
    line: int = 1,
) -> SyscallRule:
    """An IR syscall rule written at ``test.nono:line:1``."""
    if isinstance(names, str):
        names = [names]
    return SyscallRule(
        names=tuple(names),
        action=SyscallAction(kind=SyscallActionKind(action), errno=errno_value),
        conditions=tuple(conditions),
        provenance=Provenance(file="test.nono", line=line, column=1),
    )


def policy(*rules: SyscallRule, network: str = "open", name: str = "test") -> Policy:
    """A Linux policy holding ``rules`` and the network mode ``network``."""
    return Policy(
        name=name,
        target="linux",
        syscalls=tuple(rules),
        network=Network(mode=NetworkMode(network)),
    )


def compile_program(pol: Policy, arch: str = "x86_64") -> tuple[list[bpf.Insn], dict[str, object]]:
    """Lower ``pol`` for ``arch``; return the decoded program and the artifact."""
    artifact, _ = lower(pol, HostFacts(target="linux", arch=arch))
    program = bpf.decode(base64.b64decode(str(artifact["program"])))
    return program, artifact


def verdict(program: Sequence[bpf.Insn], arch: int, nr: int, args: Sequence[int] = ()) -> int:
    """The value ``program`` returns for one call."""
    padded = tuple(args) + (0,) * (6 - len(args))
    return run(program, SeccompData(nr=nr, arch=arch, args=padded)).ret


def nr(name: str, arch: str = "x86_64") -> int:
    """The number of ``name`` on ``arch``."""
    call = tables.load(arch).lookup(name)
    assert call is not None, name
    return call.nr


def spec_action(
    rules: Sequence[SourceRule],
    arch: str,
    default: Action,
    audit: int,
    number: int,
    args: Sequence[int],
) -> Action:
    """What the filter must do, computed straight from the rules (no ranges, no BPF).

    Foreign arch → kill; x86_64 x32 numbers → ENOSYS; otherwise the strictest action of the
    rules that name the call and whose conditions hold on the bits the kernel reads.
    """
    table = tables.load(arch)
    if audit != table.audit_arch:
        return Action("kill_process")
    number &= 0xFFFFFFFF
    if table.x32_bit is not None and number >= table.x32_bit:
        return Action("errno", errno.ENOSYS)
    name = table.name_of(number)
    call = table.lookup(name) if name else None
    matching = []
    for source in rules:
        if call is None or call.name not in source.names:
            continue
        if all(_holds(c, call.widths[c.arg], args[c.arg]) for c in source.conditions):
            matching.append(source.action)
    if not matching:
        return default
    return min(matching, key=lambda action: action.strictness())


def _holds(condition: Condition, width: int, raw: int) -> bool:
    full = (1 << width) - 1
    x = raw & full
    value = condition.value & full
    if condition.op in (Op.MASKED_EQ, Op.MASKED_NE):
        assert condition.mask is not None
        equal = x & condition.mask & full == value
        return equal if condition.op is Op.MASKED_EQ else not equal
    return {
        Op.EQ: x == value,
        Op.NE: x != value,
        Op.LT: x < value,
        Op.LE: x <= value,
        Op.GT: x > value,
        Op.GE: x >= value,
    }[condition.op]


__all__ = [
    "ALLOW",
    "AUDIT",
    "AUDIT_AARCH64",
    "AUDIT_ARM",
    "AUDIT_I386",
    "AUDIT_X86_64",
    "ENOSYS",
    "EPERM",
    "KILL",
    "compile_program",
    "cond",
    "errno_ret",
    "nr",
    "policy",
    "policy_rules",
    "rule",
    "spec_action",
    "verdict",
]
