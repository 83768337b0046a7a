"""The intermediate form between the policy and the BPF program: number ranges and their decisions.

By the time a :class:`RuleSet` exists every decision has been made: each syscall number in
``[0, 2**32)`` falls in exactly one :class:`Range`, and each range says what happens, either
one :class:`Action` or an ordered list of :class:`Clause` (argument tests, first match wins)
ending in a fallback. Code generation only has to lay this out as a search tree.

Several rules may name the same call. The strictest action among the rules that match wins,
in the kernel's own order of precedence (kill > trap > errno > notify > log > allow), so the
result never depends on where a rule was written. Clauses are therefore sorted strictest
first and the first match is taken.
"""

from __future__ import annotations

import errno as errno_module
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from nonoc.backends.seccomp import bpf

if TYPE_CHECKING:
    from nonoc.backends.seccomp.tables import SyscallTable

#: Kernel precedence of actions, strictest first (kernel/seccomp.c: seccomp_run_filters).
_RANK = {"kill_process": 0, "trap": 1, "errno": 2, "notify": 3, "log": 4, "allow": 5}
_RET = {
    "kill_process": bpf.RET_KILL_PROCESS,
    "trap": bpf.RET_TRAP,
    "errno": bpf.RET_ERRNO,
    "notify": bpf.RET_USER_NOTIF,
    "log": bpf.RET_LOG,
    "allow": bpf.RET_ALLOW,
}
NR_LIMIT = 1 << 32


@dataclass(frozen=True)
class Action:
    """What the filter returns: ``kind`` with ``data`` (the errno value for ``errno``)."""

    kind: str
    data: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _RANK:
            raise ValueError(f"unknown seccomp action {self.kind!r}")
        if not 0 <= self.data <= bpf.RET_DATA:
            raise ValueError(f"action data {self.data} does not fit 16 bits")

    @property
    def ret(self) -> int:
        """The 32-bit ``SECCOMP_RET_*`` value."""
        return _RET[self.kind] | self.data

    def strictness(self) -> tuple[int, int]:
        """Sort key: smaller is stricter; equal kinds order by data (lower errno first)."""
        return (_RANK[self.kind], self.data)

    def describe(self) -> str:
        """``allow``, ``errno:EPERM``, ``kill_process``…"""
        if self.kind == "errno":
            return f"errno:{errno_module.errorcode.get(self.data, str(self.data))}"
        if self.kind == "trap" and self.data:
            return f"trap:{self.data}"
        return self.kind

    @staticmethod
    def from_ret(value: int) -> Action | None:
        """The action a ``SECCOMP_RET_*`` value stands for (``None`` for kill_thread, trace…)."""
        full = value & bpf.RET_ACTION_FULL
        for kind, ret in _RET.items():
            if full == ret & bpf.RET_ACTION_FULL:
                data = value & bpf.RET_DATA if kind in ("errno", "trap") else 0
                return Action(kind, data)
        return None


ALLOW = Action("allow")
KILL_PROCESS = Action("kill_process")
ENOSYS = Action("errno", errno_module.ENOSYS)


class Op(str, Enum):
    """Comparison of one argument, unsigned, on the bits the kernel reads."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    MASKED_EQ = "&=="
    MASKED_NE = "&!="


_NEGATION = {
    Op.EQ: Op.NE,
    Op.NE: Op.EQ,
    Op.LT: Op.GE,
    Op.GE: Op.LT,
    Op.LE: Op.GT,
    Op.GT: Op.LE,
    Op.MASKED_EQ: Op.MASKED_NE,
    Op.MASKED_NE: Op.MASKED_EQ,
}


@dataclass(frozen=True)
class ArgTest:
    """``(arg & mask) <op> value`` on the low ``width`` bits of argument ``arg``.

    ``value`` and ``mask`` are already reduced to ``width`` bits; ``mask`` is all ones
    for the plain comparisons.
    """

    arg: int
    width: int
    op: Op
    value: int
    mask: int

    @property
    def width_mask(self) -> int:
        """Ones over the bits the kernel reads."""
        return (1 << self.width) - 1

    def holds(self, raw: int) -> bool:
        """Whether the test passes for the 64-bit register value ``raw`` (reference semantics)."""
        x = raw & self.width_mask & self.mask
        return {
            Op.EQ: x == self.value,
            Op.NE: x != self.value,
            Op.LT: x < self.value,
            Op.LE: x <= self.value,
            Op.GT: x > self.value,
            Op.GE: x >= self.value,
            Op.MASKED_EQ: x == self.value,
            Op.MASKED_NE: x != self.value,
        }[self.op]

    def negated(self) -> ArgTest:
        """The test that passes exactly when this one fails."""
        return ArgTest(self.arg, self.width, _NEGATION[self.op], self.value, self.mask)

    def constant(self) -> bool | None:
        """``True``/``False`` when the outcome does not depend on the argument, else ``None``."""
        top = self.width_mask & self.mask
        if self.op in (Op.MASKED_EQ, Op.MASKED_NE) and self.value & ~self.mask:
            return self.op is Op.MASKED_NE
        if self.op in (Op.MASKED_EQ, Op.MASKED_NE) and self.mask == 0:
            return (self.value == 0) == (self.op is Op.MASKED_EQ)
        trivial = {
            Op.LT: False if self.value == 0 else None,
            Op.GE: True if self.value == 0 else None,
            Op.LE: True if self.value >= top else None,
            Op.GT: False if self.value >= top else None,
        }
        return trivial.get(self.op)

    def describe(self) -> str:
        """``arg0 != 0x1``, ``arg1 & 0xf == 0x1``."""
        if self.op in (Op.MASKED_EQ, Op.MASKED_NE):
            cmp = "==" if self.op is Op.MASKED_EQ else "!="
            return f"arg{self.arg} & {self.mask:#x} {cmp} {self.value:#x}"
        return f"arg{self.arg} {self.op.value} {self.value:#x}"


@dataclass(frozen=True)
class Clause:
    """If every test passes, return ``action``. ``rule_ids`` trace it to its source rules."""

    tests: tuple[ArgTest, ...]
    action: Action
    rule_ids: tuple[str, ...] = field(default=(), compare=False)

    def matches(self, args: Sequence[int]) -> bool:
        """Whether all tests pass for the six argument registers ``args``."""
        return all(test.holds(args[test.arg]) for test in self.tests)


@dataclass(frozen=True)
class Decision:
    """What happens to one syscall number: the first clause that matches, else ``fallback``.

    Every clause has at least one test: an unconditional rule becomes the fallback.
    """

    clauses: tuple[Clause, ...]
    fallback: Action

    @property
    def plain(self) -> bool:
        """True when no argument is looked at."""
        return not self.clauses

    def evaluate(self, args: Sequence[int]) -> Action:
        """The action for these argument registers (reference semantics)."""
        for clause in self.clauses:
            if clause.matches(args):
                return clause.action
        return self.fallback


@dataclass(frozen=True)
class Range:
    """Syscall numbers ``low..high`` (inclusive) share one decision."""

    low: int
    high: int
    decision: Decision
    #: Names of the known calls in the range that rules mention (for listings).
    names: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RuleSet:
    """Everything code generation needs for one architecture."""

    arch: str
    audit_arch: int
    bad_arch: Action
    default: Action
    #: Sorted, disjoint, covering ``[0, 2**32)``.
    ranges: tuple[Range, ...]

    def decide(self, arch: int, nr: int, args: Sequence[int]) -> Action:
        """The action the filter must return (reference semantics for tests)."""
        if arch != self.audit_arch:
            return self.bad_arch
        nr &= NR_LIMIT - 1
        low, high = 0, len(self.ranges) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if nr >= self.ranges[mid].low:
                low = mid
            else:
                high = mid - 1
        return self.ranges[low].decision.evaluate(args)


def make_decision(clauses: Iterable[Clause], fallback: Action) -> Decision:
    """Order and prune ``clauses`` so that first-match gives the strictest matching action."""
    live: list[Clause] = []
    for clause in clauses:
        outcomes = [test.constant() for test in clause.tests]
        if False in outcomes:
            continue  # can never match
        tests = tuple(t for t, known in zip(clause.tests, outcomes, strict=True) if known is None)
        live.append(Clause(_dedupe(tests), clause.action, clause.rule_ids))
    live.sort(key=lambda clause: clause.action.strictness())
    ordered: list[Clause] = []
    for clause in live:
        ordered.append(clause)
        if not clause.tests:
            break  # everything after an unconditional clause is unreachable
    if ordered and not ordered[-1].tests:
        fallback = ordered.pop().action  # an unconditional last clause is the fallback
    while ordered and ordered[-1].action == fallback:
        ordered.pop()  # falling through gives the same answer
    return Decision(tuple(_merge_bit_tests(ordered)), fallback)


def _single_bit(test: ArgTest) -> bool:
    """``(arg & bit) == bit`` or ``(arg & bits) != 0``: "any of these bits is set"."""
    if test.op is Op.MASKED_EQ:
        return test.mask != 0 and test.value == test.mask and test.mask & (test.mask - 1) == 0
    return test.op is Op.MASKED_NE and test.value == 0 and test.mask != 0


def _merge_bit_tests(clauses: list[Clause]) -> list[Clause]:
    """Fold neighbouring one-test clauses "bit b of argN is set" with one action into one test.

    ``(x & b1) == b1 or (x & b2) == b2`` is ``(x & (b1 | b2)) != 0`` for single bits, which
    BPF answers with one ``jset``: the namespace flags of clone and unshare become one test.
    """
    merged: list[Clause] = []
    for clause in clauses:
        if merged and len(clause.tests) == 1 and len(merged[-1].tests) == 1:
            last, test = merged[-1].tests[0], clause.tests[0]
            same_word = (last.arg, last.width) == (test.arg, test.width)
            if (
                same_word
                and merged[-1].action == clause.action
                and _single_bit(last)
                and _single_bit(test)
            ):
                union = ArgTest(test.arg, test.width, Op.MASKED_NE, 0, last.mask | test.mask)
                ids = merged[-1].rule_ids + clause.rule_ids
                merged[-1] = Clause((union,), clause.action, ids)
                continue
        merged.append(clause)
    return merged


def _dedupe(tests: tuple[ArgTest, ...]) -> tuple[ArgTest, ...]:
    seen: list[ArgTest] = []
    for test in tests:
        if test not in seen:
            seen.append(test)
    return tuple(seen)


def build_ranges(
    decisions: dict[int, tuple[Decision, str]],
    default: Action,
    *,
    reserved: tuple[int, Action] | None = None,
) -> tuple[Range, ...]:
    """Cover ``[0, 2**32)`` with ranges: ``decisions`` per number, ``default`` elsewhere.

    ``reserved`` (start, action) claims every number from ``start`` up, as x86_64's x32 range.
    Neighbouring numbers with equal decisions merge into one range.
    """
    limit = reserved[0] if reserved else NR_LIMIT
    plain_default = Decision((), default)
    pieces: list[Range] = []
    cursor = 0
    for nr in sorted(n for n in decisions if n < limit):
        decision, name = decisions[nr]
        if nr > cursor:
            pieces.append(Range(cursor, nr - 1, plain_default))
        pieces.append(Range(nr, nr, decision, (name,)))
        cursor = nr + 1
    if cursor < limit:
        pieces.append(Range(cursor, limit - 1, plain_default))
    if reserved:
        pieces.append(Range(reserved[0], NR_LIMIT - 1, Decision((), reserved[1])))
    merged: list[Range] = []
    for piece in pieces:
        if merged and merged[-1].decision == piece.decision:
            last = merged.pop()
            piece = Range(last.low, piece.high, last.decision, last.names + piece.names)
        merged.append(piece)
    return tuple(merged)


def rule_set_from_clauses(
    table: SyscallTable,
    clauses: dict[int, list[Clause]],
    names: dict[int, str],
    *,
    default: Action,
    bad_arch: Action,
    x32: Action,
) -> RuleSet:
    """The :class:`RuleSet` for ``table``'s architecture from each call's ``clauses``.

    ``names`` maps each number in ``clauses`` to its call's name; numbers without clauses
    get ``default``, and on architectures with an x32 range every number there gets ``x32``.
    """
    decisions = {nr: (make_decision(found, default), names[nr]) for nr, found in clauses.items()}
    reserved = (table.x32_bit, x32) if table.x32_bit is not None else None
    return RuleSet(
        arch=table.arch,
        audit_arch=table.audit_arch,
        bad_arch=bad_arch,
        default=default,
        ranges=build_ranges(decisions, default, reserved=reserved),
    )
