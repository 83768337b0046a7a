"""A readable listing of a seccomp BPF program.

Each line shows the instruction, its jump targets as absolute line numbers, and a comment
saying what the constant means where that is knowable: the word A holds (tracked through
the program), the syscall a number names, the audit architecture, the action returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from nonoc.backends.seccomp import bpf, tables
from nonoc.backends.seccomp.rules import Action

_JUMPS = {bpf.JEQ: "jeq", bpf.JGT: "jgt", bpf.JGE: "jge", bpf.JSET: "jset"}
_ALU = {
    bpf.ADD: "add",
    bpf.SUB: "sub",
    bpf.MUL: "mul",
    bpf.DIV: "div",
    bpf.OR: "or",
    bpf.AND: "and",
    bpf.LSH: "lsh",
    bpf.RSH: "rsh",
    bpf.NEG: "neg",
    bpf.MOD: "mod",
    bpf.XOR: "xor",
}


def describe_word(offset: int) -> str:
    """What the 32-bit word at ``offset`` of ``seccomp_data`` is."""
    if offset == bpf.OFFSET_NR:
        return "nr"
    if offset == bpf.OFFSET_ARCH:
        return "arch"
    if offset in (bpf.OFFSET_IP, bpf.OFFSET_IP + 4):
        return "instruction_pointer " + ("low" if offset == bpf.OFFSET_IP else "high")
    index, within = divmod(offset - bpf.OFFSET_ARGS, 8)
    high = within == (0 if not bpf.LITTLE_ENDIAN else 4)
    return f"args[{index}] {'high' if high else 'low'}"


def describe_return(value: int) -> str:
    """``allow``, ``errno:EPERM``, … for a ``SECCOMP_RET_*`` value."""
    action = Action.from_ret(value)
    if action is not None:
        return action.describe()
    if value & bpf.RET_ACTION_FULL == bpf.RET_KILL_THREAD:
        return "kill_thread"
    if value & bpf.RET_ACTION_FULL == bpf.RET_TRACE:
        return f"trace:{value & bpf.RET_DATA}"
    return "unknown action"


def _contents(program: Sequence[bpf.Insn]) -> list[str | None]:
    """For each instruction, the word A holds on entry when every path agrees."""
    incoming: dict[int, list[str | None]] = {}
    result: list[str | None] = []
    state: str | None = None
    falls_through = False
    for pc, insn in enumerate(program):
        states = ([state] if falls_through else []) + incoming.get(pc, [])
        entry = states[0] if states and all(s == states[0] for s in states) else None
        result.append(entry)
        cls = insn.code & 0x07
        if insn.code == bpf.LD | bpf.W | bpf.ABS:
            state = describe_word(insn.k)
        elif cls == bpf.ALU and insn.code & 0xF0 == bpf.AND and entry is not None:
            state = f"{entry} & {insn.k:#x}"
        elif cls in (bpf.LD, bpf.ALU, bpf.MISC):
            state = None
        else:
            state = entry
        falls_through = cls not in (bpf.JMP, bpf.RET)
        if cls == bpf.JMP:
            if insn.code == bpf.JMP | bpf.JA:
                incoming.setdefault(pc + 1 + insn.k, []).append(state)
            else:
                for offset in (insn.jt, insn.jf):
                    incoming.setdefault(pc + 1 + offset, []).append(state)
    return result


def _explain_constant(
    holding: str | None, op: str, k: int, table: tables.SyscallTable | None
) -> str:
    if holding == "arch":
        return tables.AUDIT_ARCH_NAMES.get(k, "")
    if holding == "nr" and table is not None:
        relation = {"jeq": "==", "jgt": ">", "jge": ">="}.get(op)
        if relation is None:
            return ""
        if table.x32_bit is not None and k == table.x32_bit:
            return f"nr {relation} {k:#x}: x32 ABI"
        name = table.name_of(k)
        return f"nr {relation} {k}" + (f" {name}" if name else "")
    return ""


def disassemble(program: Sequence[bpf.Insn], arch: str | None = None) -> str:
    """The listing of ``program``; ``arch`` (``x86_64``…) lets syscall numbers show names."""
    table = tables.load(arch) if arch in tables.ARCHES else None
    holding = _contents(program)
    width = len(str(len(program) - 1))
    lines = [f"; seccomp filter, {len(program)} instructions" + (f", {arch}" if arch else "")]
    for pc, insn in enumerate(program):
        text, note = _render(pc, insn, holding[pc], table)
        line = f"{pc:>{width}}: {text}"
        if note:
            line = f"{line:<44} ; {note}"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def _render(
    pc: int, insn: bpf.Insn, holding: str | None, table: tables.SyscallTable | None
) -> tuple[str, str]:
    code, jt, jf, k = insn
    cls = code & 0x07
    if code == bpf.LD | bpf.W | bpf.ABS:
        return f"ld   [{k}]", f"A = {describe_word(k)}"
    if cls == bpf.RET:
        if code == bpf.RET | bpf.A:
            return "ret  A", ""
        return f"ret  #{k:#010x}", describe_return(k)
    if code == bpf.JMP | bpf.JA:
        return f"ja   {pc + 1 + k}", ""
    if cls == bpf.JMP:
        name = _JUMPS.get(code & 0xF0, "j?")
        operand = "x" if code & bpf.X else f"#{k:#x}"
        text = f"{name:<4} {operand:<12} jt {pc + 1 + jt:<5} jf {pc + 1 + jf}"
        return text, "" if code & bpf.X else _explain_constant(holding, name, k, table)
    if cls == bpf.ALU:
        name = _ALU.get(code & 0xF0, "alu?")
        return (f"{name}  {'x' if code & bpf.X else f'#{k:#x}'}").rstrip(), ""
    if cls == bpf.LD:
        return {bpf.IMM: f"ld   #{k:#x}", bpf.MEM: f"ld   M[{k}]", bpf.LEN: "ld   len"}.get(
            code & 0xE0, f"ld?  {code:#x}"
        ), ""
    if cls == bpf.LDX:
        return {bpf.IMM: f"ldx  #{k:#x}", bpf.MEM: f"ldx  M[{k}]", bpf.LEN: "ldx  len"}.get(
            code & 0xE0, f"ldx? {code:#x}"
        ), ""
    if cls == bpf.ST:
        return f"st   M[{k}]", ""
    if cls == bpf.STX:
        return f"stx  M[{k}]", ""
    return ("tax" if code & 0xF8 == bpf.TAX else "txa"), ""
