"""The seccomp backend: a policy's syscall rules and network mode become a verified BPF filter.

Pipeline (one module per phase)::

    IR SyscallRule + network mode ─ ir_rules / network ─▶ SourceRule (ids s0…, sn0…)
      ─ ir_rules.build_rule_set (tables: numbers, argument widths) ─▶ rules.RuleSet (ranges)
      ─ codegen (search: tree shape; argtree: argument tests) ─▶ [bpf.Insn]
      ─ interp.check ─▶ artifact (disasm prints it back)

The filter is a deny-list: calls no rule mentions are allowed, foreign architectures are
killed, and on x86_64 every x32 number fails with ENOSYS (see ``docs/seccomp.md``).
"""

from __future__ import annotations

import base64
import hashlib

from nonoc.backends.host import HostFacts
from nonoc.backends.seccomp import bpf, codegen, interp, tables
from nonoc.backends.seccomp.ir_rules import (
    SourceRule,
    build_rule_set,
    describe_rules,
    source_rules,
)
from nonoc.backends.seccomp.network import network_rules
from nonoc.backends.seccomp.rules import ALLOW, ENOSYS, KILL_PROCESS, Action, RuleSet
from nonoc.bundle.payload import provenance_entry
from nonoc.errors import Diagnostic, NonoError
from nonoc.ir import Policy

NAME = "seccomp"
TARGETS = frozenset({"linux"})


def policy_rules(policy: Policy) -> list[SourceRule]:
    """Every rule the filter enforces: the policy's own, then its network mode's."""
    return source_rules(policy) + network_rules(policy.network)


def compile_rules(policy_name: str, rule_set: RuleSet) -> list[bpf.Insn]:
    """Generate and check the program; a program over the kernel's limit names the policy."""
    try:
        program = codegen.generate(rule_set)
    except codegen.ProgramTooLarge as exc:
        raise NonoError(
            f"the seccomp filter for profile '{policy_name}' on {rule_set.arch} needs "
            f"{exc.count} instructions; the kernel accepts at most {bpf.MAX_INSNS}",
            notes=("merge rules on the same system call, or drop argument conditions",),
        ) from None
    interp.check(program)  # a failure here is a compiler bug, not a user error
    return program


def lower(policy: Policy, host: HostFacts) -> tuple[dict[str, object], list[Diagnostic]]:
    """Lower ``policy``'s syscall rules and network mode to a seccomp artifact for ``host.arch``."""
    if host.arch not in tables.ARCHES:
        supported = ", ".join(tables.ARCHES)
        raise NonoError(f"seccomp: architecture '{host.arch}' is not supported ({supported})")
    table = tables.load(host.arch)
    rules = policy_rules(policy)
    default: Action = ALLOW
    rule_set, diagnostics = build_rule_set(
        table, rules, default=default, bad_arch=KILL_PROCESS, x32=ENOSYS
    )
    program = compile_rules(policy.name, rule_set)
    raw = bpf.encode(program)
    kinds = {r.action.kind for r in rules} | {default.kind}
    artifact: dict[str, object] = {
        "arch": table.arch,
        "audit_arch": table.audit_arch,
        "bad_arch": rule_set.bad_arch.describe(),
        "count": len(program),
        "default": default.describe(),
        "needs_listener": "notify" in kinds,
        "network": policy.network.mode.value,
        "program": base64.b64encode(raw).decode("ascii"),
        "ranges": len(rule_set.ranges),
        "rules": describe_rules(table, rules),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    if table.x32_bit is not None:
        artifact["x32"] = ENOSYS.describe()
    derived = {r.id: r.provenance for r in rules if r.id.startswith("sn") and r.provenance}
    if derived:
        # Ids of rules the network mode implies; the bundle lays this map over its own.
        artifact["provenance"] = {key: provenance_entry(p) for key, p in derived.items()}
    return artifact, diagnostics
