"""From the IR's syscall rules to a :class:`~nonoc.backends.seccomp.rules.RuleSet` for one arch.

Two steps. :func:`source_rules` turns each ``SyscallRule`` of the policy into a
:class:`SourceRule` (action and conditions checked, a stable id ``s0``, ``s1``… in policy
order). :func:`build_rule_set` then resolves names to numbers on the target architecture,
reduces every condition to the width the kernel reads for that argument of that call, and
hands the clauses to :mod:`rules` to order and merge into ranges.

Errors a user can cause (an unknown call, ``arg4`` of a three-argument call, a value wider
than its argument) raise ``NonoError`` at the rule's position; a call that exists only on
the other architecture is a warning, since the same profile compiles for both.
"""

from __future__ import annotations

import errno as errno_module
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nonoc.backends.seccomp import tables
from nonoc.backends.seccomp.rules import (
    ENOSYS,
    KILL_PROCESS,
    Action,
    ArgTest,
    Clause,
    Op,
    RuleSet,
    rule_set_from_clauses,
)
from nonoc.errors import Diagnostic, NonoError, Span, did_you_mean
from nonoc.ir import ArgCondition, ArgOp, Policy, Provenance, SyscallAction, SyscallActionKind

_IR_OPS = {
    ArgOp.EQ: Op.EQ,
    ArgOp.NE: Op.NE,
    ArgOp.LT: Op.LT,
    ArgOp.LE: Op.LE,
    ArgOp.GT: Op.GT,
    ArgOp.GE: Op.GE,
    ArgOp.MASKED_EQ: Op.MASKED_EQ,
}
_IR_ACTIONS = {
    SyscallActionKind.ALLOW: "allow",
    SyscallActionKind.ERRNO: "errno",
    SyscallActionKind.KILL_PROCESS: "kill_process",
    SyscallActionKind.TRAP: "trap",
    SyscallActionKind.LOG: "log",
    SyscallActionKind.NOTIFY: "notify",
}
#: The kernel caps an errno return at MAX_ERRNO.
MAX_ERRNO = 4095


@dataclass(frozen=True)
class Condition:
    """``args[arg] <op> value`` (``(args[arg] & mask) <op> value`` for the masked ops)."""

    arg: int
    op: Op
    value: int
    mask: int | None = None


@dataclass(frozen=True)
class SourceRule:
    """A syscall rule with its id and origin, before any architecture is chosen."""

    id: str
    names: tuple[str, ...]
    action: Action
    conditions: tuple[Condition, ...] = ()
    provenance: Provenance | None = None


def span_of(provenance: Provenance | None) -> Span | None:
    """The diagnostic position of a rule."""
    if provenance is None:
        return None
    return Span(provenance.file, provenance.line, provenance.column)


def lower_action(action: SyscallAction, provenance: Provenance | None) -> Action:
    """The backend's action for an IR action (``errno`` defaults to EPERM)."""
    kind = _IR_ACTIONS[action.kind]
    if kind != "errno":
        return Action(kind)
    value = errno_module.EPERM if action.errno is None else action.errno
    if not 1 <= value <= MAX_ERRNO:
        raise NonoError(f"errno {value} is out of range (1..{MAX_ERRNO})", span_of(provenance))
    return Action("errno", value)


def lower_condition(condition: ArgCondition) -> Condition:
    """The backend's condition for an IR condition."""
    return Condition(condition.index, _IR_OPS[condition.op], condition.value, condition.mask)


def source_rules(policy: Policy) -> list[SourceRule]:
    """The policy's syscall rules, with ids ``s0``, ``s1``… in policy order."""
    rules = []
    for index, rule in enumerate(policy.syscalls):
        for name in rule.names:
            if not tables.known_anywhere(name):
                hint = did_you_mean(name, sorted(tables.all_names()))
                raise NonoError(f"unknown system call '{name}'{hint}", span_of(rule.provenance))
        rules.append(
            SourceRule(
                id=f"s{index}",
                names=tuple(rule.names),
                action=lower_action(rule.action, rule.provenance),
                conditions=tuple(lower_condition(c) for c in rule.conditions),
                provenance=rule.provenance,
            )
        )
    return rules


def reduce_value(value: int, width: int, what: str, span: Span | None) -> int:
    """``value`` as the unsigned ``width``-bit number the kernel would see, or an error."""
    if -(1 << (width - 1)) <= value < 0:
        return value + (1 << width)
    if 0 <= value < (1 << width):
        return value
    raise NonoError(f"{what} {value:#x} does not fit in {width} bits", span)


def make_test(call: tables.Syscall, condition: Condition, span: Span | None) -> ArgTest:
    """Reduce ``condition`` to the bits the kernel reads for this argument of ``call``."""
    if condition.arg >= len(call.widths):
        count = len(call.widths)
        plural = "argument" if count == 1 else "arguments"
        raise NonoError(
            f"{call.name} takes {count} {plural}; arg{condition.arg} does not exist", span
        )
    width = call.widths[condition.arg]
    where = f"arg{condition.arg} of {call.name} ({width}-bit)"
    value = reduce_value(condition.value, width, f"value for {where}:", span)
    full = (1 << width) - 1
    if condition.op in (Op.MASKED_EQ, Op.MASKED_NE):
        if condition.mask is None:
            raise NonoError(f"a masked comparison of {where} needs a mask", span)
        mask = reduce_value(condition.mask, width, f"mask for {where}:", span)
        if value & ~mask:
            raise NonoError(
                f"{where}: value {value:#x} has bits outside mask {mask:#x}, so it never matches",
                span,
            )
        return ArgTest(condition.arg, width, condition.op, value, mask)
    return ArgTest(condition.arg, width, condition.op, value, full)


def build_rule_set(
    table: tables.SyscallTable,
    rules: Iterable[SourceRule],
    *,
    default: Action,
    bad_arch: Action = KILL_PROCESS,
    x32: Action = ENOSYS,
) -> tuple[RuleSet, list[Diagnostic]]:
    """Resolve ``rules`` on ``table``'s architecture into ranges of decisions."""
    diagnostics: list[Diagnostic] = []
    clauses: dict[int, list[Clause]] = {}
    names: dict[int, str] = {}
    for rule in rules:
        span = span_of(rule.provenance)
        for name in rule.names:
            call = table.lookup(name)
            if call is None:
                if not tables.known_anywhere(name):
                    hint = did_you_mean(name, sorted(tables.all_names()))
                    raise NonoError(f"unknown system call '{name}'{hint}", span)
                if _shipped(rule.provenance):
                    continue  # shipped groups list calls of both arches on purpose
                diagnostics.append(
                    Diagnostic(
                        "warning",
                        f"system call '{name}' does not exist on {table.arch}; "
                        "the rule does not apply there",
                        span,
                        code="seccomp-missing-syscall",
                    )
                )
                continue
            tests = tuple(make_test(call, condition, span) for condition in rule.conditions)
            clauses.setdefault(call.nr, []).append(Clause(tests, rule.action, (rule.id,)))
            names[call.nr] = call.name
    rule_set = rule_set_from_clauses(
        table, clauses, names, default=default, bad_arch=bad_arch, x32=x32
    )
    return rule_set, diagnostics


def _shipped(provenance: Provenance | None) -> bool:
    return provenance is not None and provenance.file.startswith(("stdlib/", "profiles/"))


def describe_rules(
    table: tables.SyscallTable, rules: Sequence[SourceRule]
) -> list[dict[str, object]]:
    """The artifact's rule index: id, calls present on this arch, action, conditions, source."""
    index: list[dict[str, object]] = []
    for rule in rules:
        entry: dict[str, object] = {
            "id": rule.id,
            "syscalls": [name for name in rule.names if table.lookup(name) is not None],
            "action": rule.action.describe(),
            "conditions": [_describe_condition(c) for c in rule.conditions],
        }
        if rule.provenance is not None:
            entry["source"] = rule.provenance.location()
        index.append(entry)
    return index


def _describe_condition(condition: Condition) -> str:
    if condition.op in (Op.MASKED_EQ, Op.MASKED_NE):
        cmp = "==" if condition.op is Op.MASKED_EQ else "!="
        return f"arg{condition.arg} & {condition.mask:#x} {cmp} {condition.value:#x}"
    return f"arg{condition.arg} {condition.op.value} {condition.value:#x}"
