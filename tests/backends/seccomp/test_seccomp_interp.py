"""The interpreter and the kernel's static checks, on hand-written programs."""

from __future__ import annotations

import pytest

from nonoc.backends.seccomp import bpf
from nonoc.backends.seccomp.bpf import Insn
from nonoc.backends.seccomp.interp import ProgramError, SeccompData, check, run

RET_ALLOW = bpf.ret(bpf.RET_ALLOW)


def test_encoding_round_trip() -> None:
    program = [bpf.ld_abs(4), bpf.jump(bpf.JEQ, 0xC000003E, 1, 0), bpf.ret(0), RET_ALLOW]
    raw = bpf.encode(program)
    assert len(raw) == 8 * len(program)
    assert raw[:8] == bytes([0x20, 0, 0, 0, 4, 0, 0, 0])
    assert bpf.decode(raw) == program
    with pytest.raises(ValueError):
        bpf.decode(raw[:-1])


def test_seccomp_data_layout() -> None:
    packed = SeccompData(nr=-1, arch=0xC000003E, args=(1 << 32 | 2, 0, 0, 0, 0, 7)).pack()
    assert len(packed) == 64
    assert packed[0:4] == b"\xff\xff\xff\xff"
    assert packed[16:20] == (2).to_bytes(4, "little")  # low word first
    assert packed[20:24] == (1).to_bytes(4, "little")
    assert packed[56:60] == (7).to_bytes(4, "little")
    assert bpf.arg_offset(0, high=False) == 16 and bpf.arg_offset(0, high=True) == 20


def test_alu_memory_and_return_a() -> None:
    program = [
        bpf.ld_abs(bpf.OFFSET_NR),  # A = nr (5)
        Insn(bpf.ALU | bpf.ADD | bpf.K, 0, 0, 3),  # 8
        Insn(bpf.ALU | bpf.LSH | bpf.K, 0, 0, 2),  # 32
        Insn(bpf.ST, 0, 0, 1),  # M[1] = 32
        Insn(bpf.LDX | bpf.IMM, 0, 0, 6),  # X = 6
        Insn(bpf.ALU | bpf.SUB | bpf.X),  # 26
        Insn(bpf.MISC | bpf.TAX),  # X = 26
        Insn(bpf.LD | bpf.MEM, 0, 0, 1),  # A = 32
        Insn(bpf.ALU | bpf.OR | bpf.X),  # 32 | 26 = 58
        Insn(bpf.ALU | bpf.NEG),  # -58
        Insn(bpf.ALU | bpf.NEG),  # 58
        Insn(bpf.JMP | bpf.JGT | bpf.X, 0, 1),  # 58 > 26 → next
        Insn(bpf.ALU | bpf.OR | bpf.K, 0, 0, bpf.RET_ERRNO),
        Insn(bpf.RET | bpf.A),
    ]
    check(program)
    outcome = run(program, SeccompData(nr=5, arch=0))
    assert outcome.ret == bpf.RET_ERRNO | 58
    assert outcome.steps == len(program)


def test_ja_and_jset() -> None:
    program = [
        bpf.ld_abs(bpf.arg_offset(0, high=False)),
        bpf.jump(bpf.JSET, 0x4, 0, 2),
        Insn(bpf.JMP | bpf.JA, 0, 0, 2),
        bpf.ret(1),
        bpf.ret(2),
        bpf.ret(3),
    ]
    check(program)
    assert run(program, SeccompData(0, 0, (4,))).ret == 3
    assert run(program, SeccompData(0, 0, (3,))).ret == 2


def test_division_by_zero_in_x_ends_with_zero() -> None:
    program = [Insn(bpf.LD | bpf.IMM, 0, 0, 9), Insn(bpf.ALU | bpf.DIV | bpf.X), RET_ALLOW]
    check(program)
    assert run(program, SeccompData(0, 0)).ret == 0


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ([], "1..4096"),
        ([RET_ALLOW] * 4097, "1..4096"),
        ([bpf.ld_abs(2), RET_ALLOW], "outside seccomp_data"),
        ([bpf.ld_abs(64), RET_ALLOW], "outside seccomp_data"),
        ([Insn(bpf.LD | bpf.W | bpf.IND), RET_ALLOW], "not allowed"),
        ([Insn(bpf.LD | bpf.B | bpf.ABS), RET_ALLOW], "not allowed"),
        ([Insn(bpf.ALU | bpf.MOD | bpf.K, 0, 0, 3), RET_ALLOW], "not allowed"),
        ([bpf.jump(bpf.JEQ, 0, 0, 1), RET_ALLOW], "beyond the end"),
        ([Insn(bpf.JMP | bpf.JA, 0, 0, 5), RET_ALLOW], "beyond the end"),
        ([bpf.ld_abs(0)], "last instruction"),
        ([Insn(bpf.ST, 0, 0, 16), RET_ALLOW], "scratch slot"),
        ([Insn(bpf.ALU | bpf.DIV | bpf.K, 0, 0, 0), RET_ALLOW], "division by zero"),
        ([Insn(bpf.ALU | bpf.LSH | bpf.K, 0, 0, 32), RET_ALLOW], "shift"),
    ],
)
def test_check_refuses_what_the_kernel_refuses(program: list[Insn], message: str) -> None:
    with pytest.raises(ProgramError, match=message):
        check(program)
