"""A classic BPF interpreter over ``struct seccomp_data``, and the kernel's static checks.

Tests and benchmarks run every program (ours and libseccomp's) through :func:`run`, which
also counts the instructions executed. :func:`check` applies the rules the kernel applies
when a filter is installed (``bpf_check_classic`` plus ``seccomp_check_filter``), so a
program that passes here is one the kernel accepts.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from nonoc.backends.seccomp import bpf


class ProgramError(ValueError):
    """The program would be refused by the kernel (or fell off its end)."""


@dataclass(frozen=True)
class SeccompData:
    """The input of a seccomp filter: syscall number, audit arch, instruction pointer, args."""

    nr: int
    arch: int
    args: tuple[int, ...] = (0, 0, 0, 0, 0, 0)
    instruction_pointer: int = 0

    def pack(self) -> bytes:
        """The 64 bytes the kernel hands the filter (little-endian layout)."""
        args = tuple(a & 0xFFFFFFFFFFFFFFFF for a in self.args) + (0,) * (6 - len(self.args))
        return struct.pack(
            "<IIQ6Q",
            self.nr & 0xFFFFFFFF,
            self.arch & 0xFFFFFFFF,
            self.instruction_pointer & 0xFFFFFFFFFFFFFFFF,
            *args,
        )


@dataclass(frozen=True)
class Outcome:
    """What a run returned and how many instructions it executed."""

    ret: int
    steps: int


# Instructions seccomp accepts (kernel/seccomp.c: seccomp_check_filter), plus LD|W|ABS.
_ALLOWED = {
    bpf.LD | bpf.W | bpf.ABS,
    bpf.LD | bpf.W | bpf.LEN,
    bpf.LDX | bpf.W | bpf.LEN,
    bpf.LD | bpf.IMM,
    bpf.LDX | bpf.IMM,
    bpf.LD | bpf.MEM,
    bpf.LDX | bpf.MEM,
    bpf.ST,
    bpf.STX,
    bpf.MISC | bpf.TAX,
    bpf.MISC | bpf.TXA,
    bpf.RET | bpf.K,
    bpf.RET | bpf.A,
    bpf.JMP | bpf.JA,
    *(
        bpf.ALU | op | src
        for op in (bpf.ADD, bpf.SUB, bpf.MUL, bpf.DIV, bpf.AND, bpf.OR, bpf.XOR, bpf.LSH, bpf.RSH)
        for src in (bpf.K, bpf.X)
    ),
    bpf.ALU | bpf.NEG,
    *(bpf.JMP | op | src for op in (bpf.JEQ, bpf.JGT, bpf.JGE, bpf.JSET) for src in (bpf.K, bpf.X)),
}


def check(program: Sequence[bpf.Insn]) -> None:
    """Raise :class:`ProgramError` unless the kernel would accept ``program`` as a filter."""
    if not 0 < len(program) <= bpf.MAX_INSNS:
        raise ProgramError(f"a filter has 1..{bpf.MAX_INSNS} instructions, not {len(program)}")
    for pc, insn in enumerate(program):
        if insn.code not in _ALLOWED:
            raise ProgramError(
                f"instruction {pc}: opcode {insn.code:#06x} is not allowed in seccomp"
            )
        if insn.code == bpf.LD | bpf.W | bpf.ABS and (
            insn.k % 4 or insn.k >= bpf.SECCOMP_DATA_SIZE
        ):
            raise ProgramError(f"instruction {pc}: load of offset {insn.k} outside seccomp_data")
        if insn.code in (bpf.LD | bpf.MEM, bpf.LDX | bpf.MEM, bpf.ST, bpf.STX) and (
            insn.k >= bpf.MEMWORDS
        ):
            raise ProgramError(f"instruction {pc}: scratch slot {insn.k} does not exist")
        if insn.code == bpf.ALU | bpf.DIV | bpf.K and insn.k == 0:
            raise ProgramError(f"instruction {pc}: division by zero")
        if insn.code in (bpf.ALU | bpf.LSH | bpf.K, bpf.ALU | bpf.RSH | bpf.K) and insn.k >= 32:
            raise ProgramError(f"instruction {pc}: shift by {insn.k}")
        if insn.code & 0x07 == bpf.JMP:
            targets = (
                [pc + 1 + insn.k]
                if insn.code == bpf.JMP | bpf.JA
                else [pc + 1 + insn.jt, pc + 1 + insn.jf]
            )
            if any(target >= len(program) for target in targets):
                raise ProgramError(f"instruction {pc}: jump beyond the end of the program")
    if program[-1].code & 0x07 != bpf.RET:
        raise ProgramError("the last instruction must be a return")


def run(program: Sequence[bpf.Insn], data: SeccompData) -> Outcome:
    """Execute ``program`` on ``data`` the way the kernel would; count instructions executed."""
    packed = data.pack()
    a = x = 0
    mem = [0] * bpf.MEMWORDS
    pc = steps = 0
    mask = 0xFFFFFFFF
    while True:
        if pc >= len(program):
            raise ProgramError("execution ran past the end of the program")
        code, jt, jf, k = program[pc]
        steps += 1
        pc += 1
        cls = code & 0x07
        if cls == bpf.RET:
            return Outcome(k if code == bpf.RET | bpf.K else a, steps)
        if code == bpf.LD | bpf.W | bpf.ABS:
            if k % 4 or k + 4 > bpf.SECCOMP_DATA_SIZE:
                raise ProgramError(f"load of offset {k} outside seccomp_data")
            a = int.from_bytes(packed[k : k + 4], "little")
        elif code in (bpf.LD | bpf.W | bpf.LEN, bpf.LDX | bpf.W | bpf.LEN):
            if code & 0x07 == bpf.LD:
                a = bpf.SECCOMP_DATA_SIZE
            else:
                x = bpf.SECCOMP_DATA_SIZE
        elif code == bpf.LD | bpf.IMM:
            a = k
        elif code == bpf.LDX | bpf.IMM:
            x = k
        elif code == bpf.LD | bpf.MEM:
            a = mem[k]
        elif code == bpf.LDX | bpf.MEM:
            x = mem[k]
        elif code == bpf.ST:
            mem[k] = a
        elif code == bpf.STX:
            mem[k] = x
        elif code == bpf.MISC | bpf.TAX:
            x = a
        elif code == bpf.MISC | bpf.TXA:
            a = x
        elif cls == bpf.ALU:
            operand = x if code & bpf.X else k
            if code & 0xF0 == bpf.DIV and operand == 0:
                return Outcome(0, steps)  # the kernel ends the filter returning 0
            a = _alu(code, a, operand) & mask
        elif cls == bpf.JMP:
            if code == bpf.JMP | bpf.JA:
                pc += k
                continue
            operand = x if code & bpf.X else k
            op = code & 0xF0
            taken = {
                bpf.JEQ: a == operand,
                bpf.JGT: a > operand,
                bpf.JGE: a >= operand,
                bpf.JSET: bool(a & operand),
            }[op]
            pc += jt if taken else jf
        else:
            raise ProgramError(f"opcode {code:#06x} is not allowed in seccomp")


def _alu(code: int, a: int, operand: int) -> int:
    op = code & 0xF0
    if op == bpf.NEG:
        return -a
    if op == bpf.DIV:
        return a // operand
    shift = operand & 31
    return {
        bpf.ADD: a + operand,
        bpf.SUB: a - operand,
        bpf.MUL: a * operand,
        bpf.AND: a & operand,
        bpf.OR: a | operand,
        bpf.XOR: a ^ operand,
        bpf.LSH: a << shift,
        bpf.RSH: a >> shift,
    }[op]
