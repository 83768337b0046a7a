"""Classic BPF as seccomp sees it: opcodes, return values, and the ``struct sock_filter`` encoding.

Everything here is a fact of the kernel's ABI (linux/filter.h, linux/bpf_common.h,
linux/seccomp.h). The rest of the backend builds, runs and prints lists of :class:`Insn`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

# Instruction classes and fields (linux/bpf_common.h).
LD, LDX, ST, STX, ALU, JMP, RET, MISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (
    0x00,
    0x10,
    0x20,
    0x30,
    0x40,
    0x50,
    0x60,
    0x70,
    0x80,
    0x90,
    0xA0,
)
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
A = 0x10  # RET source: the accumulator
TAX, TXA = 0x00, 0x80

#: The kernel's limit on one program (BPF_MAXINSNS).
MAX_INSNS = 4096
#: Scratch memory slots (BPF_MEMWORDS).
MEMWORDS = 16

# seccomp return values (linux/seccomp.h): the action in the high 16 bits, data in the low.
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_ACTION_FULL = 0xFFFF0000
RET_DATA = 0x0000FFFF

#: ``struct seccomp_data``: nr (int), arch (u32), instruction_pointer (u64), args (u64[6]).
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_IP = 8
OFFSET_ARGS = 16
SECCOMP_DATA_SIZE = 64

#: Both architectures nono targets are little-endian: an argument's low word comes first.
LITTLE_ENDIAN = True

_FORMAT = "<HBBI"
INSN_SIZE = struct.calcsize(_FORMAT)


class Insn(NamedTuple):
    """One ``struct sock_filter``: opcode, jump-if-true/false offsets, constant."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0


def arg_offset(index: int, high: bool) -> int:
    """Offset in ``seccomp_data`` of argument ``index``'s low (or high) 32-bit word."""
    low_first = 0 if LITTLE_ENDIAN else 4
    return OFFSET_ARGS + 8 * index + ((4 - low_first) if high else low_first)


def ld_abs(offset: int) -> Insn:
    """``A = seccomp_data[offset]`` (a 32-bit word)."""
    return Insn(LD | W | ABS, 0, 0, offset)


def jump(op: int, k: int, jt: int, jf: int) -> Insn:
    """Conditional jump comparing A with the constant ``k``."""
    return Insn(JMP | op | K, jt, jf, k & 0xFFFFFFFF)


def ret(value: int) -> Insn:
    """Return the constant ``value`` (a seccomp action)."""
    return Insn(RET | K, 0, 0, value & 0xFFFFFFFF)


def encode(program: Iterable[Insn]) -> bytes:
    """The bytes of a ``struct sock_filter[]`` for a little-endian kernel."""
    return b"".join(struct.pack(_FORMAT, *insn) for insn in program)


def decode(data: bytes) -> list[Insn]:
    """The instructions in a ``struct sock_filter[]`` (raises ``ValueError`` on a partial one)."""
    if len(data) % INSN_SIZE:
        raise ValueError(
            f"{len(data)} bytes is not a whole number of {INSN_SIZE}-byte instructions"
        )
    return [Insn(*fields) for fields in struct.iter_unpack(_FORMAT, data)]


def count(program: Sequence[Insn] | bytes) -> int:
    """Number of instructions in ``program``."""
    return len(program) // INSN_SIZE if isinstance(program, bytes) else len(program)
