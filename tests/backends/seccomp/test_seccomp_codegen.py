"""Code generation: tree shape, long jumps, the size limit, determinism, no wasted loads."""

from __future__ import annotations

import math
import random

import pytest
from seccomp_helpers import (
    ALLOW,
    AUDIT,
    compile_program,
    cond,
    policy,
    rule,
    verdict,
)

from nonoc.backends.seccomp import bpf, codegen, disasm, tables
from nonoc.backends.seccomp.interp import SeccompData, check, run
from nonoc.backends.seccomp.ir_rules import Condition, SourceRule, build_rule_set
from nonoc.backends.seccomp.rules import ALLOW as ALLOW_ACTION
from nonoc.backends.seccomp.rules import Action, Op
from nonoc.errors import NonoError


def _every_other_call(arch: str, conditional: bool) -> list[SourceRule]:
    calls = sorted(tables.load(arch).by_name.values(), key=lambda call: call.nr)
    rules = []
    for index, call in enumerate(calls[::2]):
        conditions: tuple[Condition, ...] = ()
        if conditional and call.widths:
            conditions = (Condition(0, Op.EQ, index),)
        rules.append(
            SourceRule(f"s{index}", (call.name,), Action("errno", 1 + index % 100), conditions)
        )
    return rules


@pytest.mark.parametrize("arch", tables.ARCHES)
def test_long_jumps_use_trampolines(arch: str) -> None:
    rules = _every_other_call(arch, conditional=True)
    rule_set, _ = build_rule_set(tables.load(arch), rules, default=ALLOW_ACTION)
    program = codegen.generate(rule_set)
    check(program)
    assert len(program) > 600
    assert any(insn.code == bpf.JMP | bpf.JA for insn in program), "expected ja trampolines"
    rng = random.Random(arch)
    for call in tables.load(arch).by_name.values():
        for args in ((0,) * 6, tuple(rng.getrandbits(64) for _ in range(6)), (call.nr // 2,) * 6):
            data = SeccompData(call.nr, rule_set.audit_arch, args)
            assert run(program, data).ret == rule_set.decide(data.arch, data.nr, args).ret


@pytest.mark.parametrize("arch", tables.ARCHES)
def test_search_is_balanced(arch: str) -> None:
    """Plain calls cost arch check + load + one compare per tree level + ret, at most."""
    rules = _every_other_call(arch, conditional=False)
    rule_set, _ = build_rule_set(tables.load(arch), rules, default=ALLOW_ACTION)
    program = codegen.generate(rule_set)
    depth = math.ceil(math.log2(len(rule_set.ranges)))
    trampolines = sum(insn.code == bpf.JMP | bpf.JA for insn in program)
    worst = 0
    for call in tables.load(arch).by_name.values():
        worst = max(worst, run(program, SeccompData(call.nr, rule_set.audit_arch)).steps)
    assert worst <= 3 + depth + 1 + min(trampolines, depth)


def test_size_limit_names_the_profile() -> None:
    calls = sorted(tables.load("x86_64").by_name.values(), key=lambda call: call.nr)
    rules = []
    for index, call in enumerate(c for c in calls if len(c.widths) >= 3):
        for value in range(4):
            conditions = [cond(0, "eq", value), cond(1, "ne", value), cond(2, "gt", value)]
            rules.append(rule(call.name, conditions=conditions, line=index + 1))
    with pytest.raises(NonoError) as caught:
        compile_program(policy(*rules, name="enormous"))
    message = str(caught.value)
    assert "enormous" in message and "4096" in message and "x86_64" in message


def test_output_is_deterministic() -> None:
    pol = policy(
        rule(["bpf", "ptrace"]), rule("ioctl", conditions=[cond(1, "eq", 0x5412)]), network="proxy"
    )
    first = compile_program(pol)[1]
    second = compile_program(pol)[1]
    assert first == second


def test_empty_policy_still_checks_the_architecture() -> None:
    program, artifact = compile_program(policy())
    assert artifact["default"] == "allow"
    assert program[0] == bpf.ld_abs(bpf.OFFSET_ARCH)
    assert program[1].code == bpf.JMP | bpf.JEQ | bpf.K and program[1].k == AUDIT["x86_64"]
    assert verdict(program, AUDIT["x86_64"], 0) == ALLOW
    assert verdict(program, 0x40000003, 0) == bpf.RET_KILL_PROCESS


@pytest.mark.parametrize("network", ["blocked", "proxy"])
def test_no_load_of_a_word_already_in_a(network: str) -> None:
    rules = [
        rule(
            "personality", conditions=[cond(0, "ne", 0), cond(0, "ne", 8), cond(0, "ne", 0x20000)]
        ),
        rule("clone", conditions=[cond(0, "masked_eq", 0x10000000, 0x10000000)]),
        rule("clone", conditions=[cond(0, "masked_eq", 0x20000000, 0x20000000)]),
    ]
    program, _ = compile_program(policy(*rules, network=network))
    holding = disasm._contents(program)
    for pc, insn in enumerate(program):
        if insn.code == bpf.LD | bpf.W | bpf.ABS:
            assert holding[pc] != disasm.describe_word(insn.k), f"redundant load at {pc}"


def test_tree_places_the_arch_check_first() -> None:
    program, _ = compile_program(policy(rule("bpf")), "aarch64")
    listing = disasm.disassemble(program, "aarch64")
    assert listing.splitlines()[1].startswith("0: ld   [4]")
    assert "AUDIT_ARCH_AARCH64" in listing.splitlines()[2]
