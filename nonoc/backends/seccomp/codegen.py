"""Code generation: a :class:`RuleSet` becomes a classic BPF program for seccomp.

Shape of every program::

    ld  arch ; jeq AUDIT_ARCH → go, else ret bad_arch      (foreign ABIs never reach the rules)
    go: ld nr
    binary search over the sorted ranges (one jge per node; shape chosen by search.py)
    leaf: ret ACTION, or the range's argument decision graph (argtree), one test per node

x86_64's x32 numbers (bit 30 set) are simply the last range, so rejecting them costs no
extra instruction on the common path.

Instructions are first emitted with symbolic labels. Two passes follow: a dataflow pass
drops a load when every path already holds that word in A, and assembly turns labels into
offsets, inserting a ``ja`` trampoline after any conditional jump whose target is more than
255 instructions ahead (cBPF's ``jt``/``jf`` are 8 bits; ``ja`` takes 32).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from nonoc.backends.seccomp import argtree, bpf, search, tables
from nonoc.backends.seccomp.rules import ArgTest, Decision, Op, Range, RuleSet


class ProgramTooLarge(Exception):
    """The program would exceed the kernel's limit of ``bpf.MAX_INSNS`` instructions."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} instructions (the kernel accepts at most {bpf.MAX_INSNS})")
        self.count = count


class Label:
    """A position in the program, known once the program is laid out."""

    __slots__ = ()


@dataclass(eq=False)
class _Sym:
    """An instruction whose jump targets are labels (``jt`` holds ``ja``'s target)."""

    code: int
    k: int = 0
    jt: Label | None = None
    jf: Label | None = None
    labels: list[Label] = field(default_factory=list)


class _Emitter:
    def __init__(self) -> None:
        self.code: list[_Sym] = []
        self._pending: list[Label] = []

    def place(self, label: Label) -> None:
        self._pending.append(label)

    def emit(self, code: int, k: int = 0, jt: Label | None = None, jf: Label | None = None) -> None:
        self.code.append(_Sym(code, k & 0xFFFFFFFF, jt, jf, self._pending))
        self._pending = []

    def load(self, offset: int) -> None:
        self.emit(bpf.LD | bpf.W | bpf.ABS, offset)

    def jump(self, op: int, k: int, jt: Label, jf: Label) -> None:
        self.emit(bpf.JMP | op | bpf.K, k, jt, jf)

    def ret(self, value: int) -> None:
        self.emit(bpf.RET | bpf.K, value)


def generate(rule_set: RuleSet) -> list[bpf.Insn]:
    """The BPF program for ``rule_set``; raises :class:`ProgramTooLarge` past the kernel limit."""
    em = _Emitter()
    native, foreign = Label(), Label()
    em.load(bpf.OFFSET_ARCH)
    em.jump(bpf.JEQ, rule_set.audit_arch, native, foreign)
    em.place(foreign)
    em.ret(rule_set.bad_arch.ret)
    em.place(native)
    em.load(bpf.OFFSET_NR)
    _emit_tree(em, rule_set.ranges, _plan(rule_set))
    program = _assemble(_drop_redundant_loads(em.code))
    if len(program) > bpf.MAX_INSNS:
        raise ProgramTooLarge(len(program))
    return program


def _emit_tree(em: _Emitter, ranges: Sequence[Range], shape: search.Shape) -> None:
    """Binary search on the syscall number (in A) along ``shape``; leaves are decisions."""
    if shape.split is None:
        _emit_decision(em, ranges[shape.low].decision)
        return
    assert shape.below is not None and shape.above is not None
    low_label, high_label = Label(), Label()
    em.jump(bpf.JGE, ranges[shape.split].low, high_label, low_label)
    # The half laid out second is reached by a jump over the first: make the first the
    # smaller one, so fewer jumps need a trampoline.
    halves = [(shape.below, low_label), (shape.above, high_label)]
    halves.sort(key=lambda half: _tree_size(ranges, half[0]))
    for part, label in halves:
        em.place(label)
        _emit_tree(em, ranges, part)


def _plan(rule_set: RuleSet) -> search.Shape:
    """The search tree: expensive leaves high, ranges holding many known calls high."""
    known = sorted(call.nr for call in tables.load(rule_set.arch).by_name.values())
    costs, weights = [], []
    for piece in rule_set.ranges:
        costs.append(_decision_cost(piece.decision))
        inside = bisect.bisect_right(known, piece.high) - bisect.bisect_left(known, piece.low)
        weights.append(inside + 0.25)  # a little weight keeps empty ranges from sinking far
    return search.plan(costs, weights)


def _tree_size(ranges: Sequence[Range], shape: search.Shape) -> int:
    span = ranges[shape.low : shape.high + 1]
    return len(span) - 1 + sum(_decision_size(r.decision) for r in span)


def _decision_size(decision: Decision) -> int:
    scratch = _Emitter()
    _emit_decision(scratch, decision)
    return len(scratch.code)


def _decision_cost(decision: Decision) -> int:
    """Instructions on the longest path through a leaf's code."""
    scratch = _Emitter()
    _emit_decision(scratch, decision)
    code = _drop_redundant_loads(scratch.code)
    reach: dict[Label, int] = {}
    longest = 0
    here = 0
    falls_through = False
    for sym in code:
        entry = max([here if falls_through else 0] + [reach.get(label, 0) for label in sym.labels])
        cls = sym.code & 0x07
        if cls == bpf.RET:
            longest = max(longest, entry + 1)
        for target in (sym.jt, sym.jf):
            if target is not None:
                reach[target] = max(reach.get(target, 0), entry + 1)
        here, falls_through = entry + 1, cls not in (bpf.JMP, bpf.RET)
    return longest


def _emit_decision(em: _Emitter, decision: Decision) -> None:
    """``ret`` for a plain decision; otherwise its argument decision graph, nodes in order."""
    if decision.plain:
        em.ret(decision.fallback.ret)
        return
    order = argtree.topological(argtree.build(decision))
    labels = {id(node): Label() for node in order}
    for node in order:
        em.place(labels[id(node)])
        if node.test is None:
            assert node.action is not None
            em.ret(node.action.ret)
        else:
            assert node.if_true is not None and node.if_false is not None
            _emit_test(em, node.test, labels[id(node.if_true)], labels[id(node.if_false)])


def _emit_test(em: _Emitter, test: ArgTest, true: Label, false: Label) -> None:
    """Jump to ``true`` if ``test`` holds, else to ``false``. Clobbers A."""
    if test.width <= 32:
        _emit_word_test(em, test, true, false)
    elif test.op in (Op.EQ, Op.NE, Op.MASKED_EQ, Op.MASKED_NE):
        _emit_wide_equality(em, test, true, false)
    else:
        _emit_wide_order(em, test, true, false)


def _emit_word_test(em: _Emitter, test: ArgTest, true: Label, false: Label) -> None:
    """An argument of 32 bits or fewer: only its low word exists for the kernel."""
    em.load(bpf.arg_offset(test.arg, high=False))
    width_mask = test.width_mask
    if test.op in (Op.MASKED_EQ, Op.MASKED_NE):
        equal, unequal = (true, false) if test.op is Op.MASKED_EQ else (false, true)
        _emit_masked_word(em, test.mask & width_mask, test.value, equal, unequal)
        return
    if width_mask != 0xFFFFFFFF:
        em.emit(bpf.ALU | bpf.AND | bpf.K, width_mask)
    op, swap = {
        Op.EQ: (bpf.JEQ, False),
        Op.NE: (bpf.JEQ, True),
        Op.GT: (bpf.JGT, False),
        Op.GE: (bpf.JGE, False),
        Op.LT: (bpf.JGE, True),
        Op.LE: (bpf.JGT, True),
    }[test.op]
    em.jump(op, test.value, *((false, true) if swap else (true, false)))


def _emit_masked_word(em: _Emitter, mask: int, value: int, equal: Label, unequal: Label) -> None:
    """``(A & mask) == value`` for one 32-bit word already in A."""
    if value == 0:
        em.jump(bpf.JSET, mask, unequal, equal)  # any masked bit set means "not zero"
    elif value == mask and mask & (mask - 1) == 0:
        em.jump(bpf.JSET, mask, equal, unequal)  # a single bit: set or not
    else:
        if mask != 0xFFFFFFFF:
            em.emit(bpf.ALU | bpf.AND | bpf.K, mask)
        em.jump(bpf.JEQ, value, equal, unequal)


def _emit_wide_equality(em: _Emitter, test: ArgTest, true: Label, false: Label) -> None:
    """(Masked) equality of a 64-bit argument: both words must match."""
    masked = test.op in (Op.MASKED_EQ, Op.MASKED_NE)
    equal, unequal = (true, false) if test.op in (Op.EQ, Op.MASKED_EQ) else (false, true)
    words = [
        (bpf.arg_offset(test.arg, high=True), test.mask >> 32, test.value >> 32),
        (bpf.arg_offset(test.arg, high=False), test.mask & 0xFFFFFFFF, test.value & 0xFFFFFFFF),
    ]
    if masked:
        words = [word for word in words if word[1]]  # a word the mask ignores needs no test
    for position, (offset, mask, value) in enumerate(words):
        last = position == len(words) - 1
        on_equal = equal if last else Label()
        em.load(offset)
        _emit_masked_word(em, mask, value, on_equal, unequal)
        if not last:
            em.place(on_equal)


def _emit_wide_order(em: _Emitter, test: ArgTest, true: Label, false: Label) -> None:
    """Unsigned order of a 64-bit argument: the high words decide unless they are equal."""
    strict = test.op in (Op.GT, Op.LE)  # GT and its negation LE compare the low word with >
    above, not_above = (true, false) if test.op in (Op.GT, Op.GE) else (false, true)
    high, low = test.value >> 32, test.value & 0xFFFFFFFF
    high_equal, compare_low = Label(), Label()
    em.load(bpf.arg_offset(test.arg, high=True))
    em.jump(bpf.JGT, high, above, high_equal)
    em.place(high_equal)
    em.jump(bpf.JEQ, high, compare_low, not_above)
    em.place(compare_low)
    em.load(bpf.arg_offset(test.arg, high=False))
    em.jump(bpf.JGT if strict else bpf.JGE, low, above, not_above)


def _drop_redundant_loads(code: list[_Sym]) -> list[_Sym]:
    """Remove ``ld [k]`` where every path into it already left word ``k`` in A.

    Jumps only go forward, so one pass in program order sees every predecessor of an
    instruction before the instruction itself.
    """
    incoming: dict[Label, list[int | None]] = {}
    kept: list[_Sym] = []
    carried: list[Label] = []
    state: int | None = None  # offset whose word A holds, if known
    falls_through = False
    for sym in code:
        states = [state] if falls_through else []
        for label in sym.labels:
            states.extend(incoming.get(label, []))
        entry = states[0] if states and all(s == states[0] for s in states) else None
        cls = sym.code & 0x07
        if sym.code == bpf.LD | bpf.W | bpf.ABS and entry == sym.k:
            carried.extend(sym.labels)  # the next instruction inherits this one's labels
            state, falls_through = entry, True
            continue
        if carried:
            sym.labels = carried + sym.labels
            carried = []
        kept.append(sym)
        if sym.code == bpf.LD | bpf.W | bpf.ABS:
            state = sym.k
        elif cls in (bpf.LD, bpf.ALU, bpf.MISC):
            state = None
        else:
            state = entry
        falls_through = cls not in (bpf.JMP, bpf.RET)
        if cls == bpf.JMP:
            for target in (sym.jt, sym.jf):
                if target is not None:
                    incoming.setdefault(target, []).append(state)
    return kept


def _assemble(code: list[_Sym]) -> list[bpf.Insn]:
    """Resolve labels to offsets, adding ``ja`` trampolines for targets beyond 255."""
    while True:
        position = {label: index for index, sym in enumerate(code) for label in sym.labels}
        far: list[tuple[int, bool, bool]] = []
        for index, sym in enumerate(code):
            if sym.code & 0x07 != bpf.JMP or sym.code == bpf.JMP | bpf.JA:
                continue
            assert sym.jt is not None and sym.jf is not None
            jt_far = position[sym.jt] - index - 1 > 255
            jf_far = position[sym.jf] - index - 1 > 255
            if jt_far or jf_far:
                far.append((index, jt_far, jf_far))
        if not far:
            break
        for index, jt_far, jf_far in reversed(far):
            sym = code[index]
            trampolines: list[_Sym] = []
            for is_far, attribute in ((jt_far, "jt"), (jf_far, "jf")):
                if is_far:
                    hop = Label()
                    trampolines.append(
                        _Sym(bpf.JMP | bpf.JA, 0, getattr(sym, attribute), None, [hop])
                    )
                    setattr(sym, attribute, hop)
            code[index + 1 : index + 1] = trampolines
    program: list[bpf.Insn] = []
    for index, sym in enumerate(code):
        if sym.code == bpf.JMP | bpf.JA:
            assert sym.jt is not None
            program.append(bpf.Insn(sym.code, 0, 0, position[sym.jt] - index - 1))
        elif sym.code & 0x07 == bpf.JMP:
            assert sym.jt is not None and sym.jf is not None
            jt, jf = position[sym.jt] - index - 1, position[sym.jf] - index - 1
            assert 0 <= jt <= 255 and 0 <= jf <= 255, "jumps must go forward"
            program.append(bpf.Insn(sym.code, jt, jf, sym.k))
        else:
            program.append(bpf.Insn(sym.code, 0, 0, sym.k))
    return program
