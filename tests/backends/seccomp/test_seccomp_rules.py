"""From IR rules to ranges: validation, diagnostics, precedence, widths."""

from __future__ import annotations

import errno

import pytest
from seccomp_helpers import compile_program, cond, policy, rule

from nonoc.backends.host import HostFacts
from nonoc.backends.seccomp import lower, tables
from nonoc.backends.seccomp.ir_rules import Condition, SourceRule, build_rule_set, make_test
from nonoc.backends.seccomp.rules import ALLOW, Action, ArgTest, Clause, Op, make_decision
from nonoc.errors import NonoError

X86 = HostFacts(target="linux", arch="x86_64")


def _error(pol: object) -> str:
    with pytest.raises(NonoError) as caught:
        lower(pol, X86)  # type: ignore[arg-type]
    return caught.value.render()


def test_unknown_syscall_is_an_error_at_the_rule() -> None:
    text = _error(policy(rule("bpf"), rule(["kexec_loda"], line=7)))
    assert text.startswith("test.nono:7:1: error: unknown system call 'kexec_loda'")
    assert "did you mean 'kexec_load'" in text


def test_argument_beyond_the_prototype() -> None:
    text = _error(policy(rule("socket", conditions=[cond(3, "eq", 1)], line=4)))
    assert "test.nono:4:1" in text and "socket takes 3 arguments; arg3 does not exist" in text


def test_value_wider_than_the_argument() -> None:
    text = _error(policy(rule("socket", conditions=[cond(0, "eq", 1 << 32 | 1)], line=2)))
    assert "does not fit in 32 bits" in text and "arg0 of socket" in text


def test_value_wider_than_umode_t() -> None:
    text = _error(policy(rule("fchmod", conditions=[cond(1, "eq", 0x10000)])))
    assert "does not fit in 16 bits" in text


def test_masked_value_outside_the_mask_never_matches() -> None:
    text = _error(policy(rule("clone", conditions=[cond(0, "masked_eq", 3, 1)])))
    assert "never matches" in text


def test_errno_out_of_range() -> None:
    text = _error(policy(rule("bpf", "errno", 5000)))
    assert "errno 5000 is out of range" in text


def test_call_missing_on_one_arch_is_a_warning() -> None:
    pol = policy(rule(["open", "openat"], "errno", errno.EACCES, line=3))
    _, warnings = lower(pol, HostFacts(target="linux", arch="aarch64"))
    assert [w.headline() for w in warnings] == [
        (
            "test.nono:3:1: warning: system call 'open' does not exist on aarch64; "
            "the rule does not apply there"
        )
    ]
    _, none = lower(pol, X86)
    assert none == []


def test_negative_values_are_twos_complement_of_the_width() -> None:
    call = tables.load("x86_64").lookup("kill")
    assert call is not None
    test = make_test(call, Condition(0, Op.EQ, -1), None)
    assert test.value == 0xFFFFFFFF and test.width == 32
    wide = tables.load("x86_64").lookup("mmap")
    assert wide is not None
    assert make_test(wide, Condition(0, Op.EQ, -1), None).value == 2**64 - 1


def test_strictest_matching_rule_wins_whatever_the_order() -> None:
    eperm, eacces, kill = Action("errno", 1), Action("errno", 13), Action("kill_process")
    is_one = ArgTest(0, 32, Op.EQ, 1, 0xFFFFFFFF)
    clauses = [Clause((), eacces), Clause((is_one,), kill), Clause((is_one,), eperm)]
    decision = make_decision(clauses, ALLOW)
    assert decision.evaluate([1, 0, 0, 0, 0, 0]) == kill
    assert decision.evaluate([2, 0, 0, 0, 0, 0]) == eacces
    assert make_decision(list(reversed(clauses)), ALLOW) == decision


def test_rules_equal_to_the_default_drop_away() -> None:
    is_one = ArgTest(0, 32, Op.EQ, 1, 0xFFFFFFFF)
    decision = make_decision([Clause((is_one,), ALLOW)], ALLOW)
    assert decision.plain and decision.fallback == ALLOW


def test_allow_rule_matters_when_weaker_rules_follow() -> None:
    """An allow rule under an errno default still beats a matching log rule."""
    default = Action("errno", 1)
    is_one = ArgTest(0, 32, Op.EQ, 1, 0xFFFFFFFF)
    below_5 = ArgTest(0, 32, Op.LT, 5, 0xFFFFFFFF)
    decision = make_decision([Clause((is_one,), ALLOW), Clause((below_5,), Action("log"))], default)
    assert decision.evaluate([1] + [0] * 5) == Action("log")  # log is stricter than allow
    assert decision.evaluate([7] + [0] * 5) == default


def test_impossible_tests_remove_their_clause() -> None:
    never = ArgTest(0, 32, Op.LT, 0, 0xFFFFFFFF)
    always = ArgTest(1, 32, Op.GE, 0, 0xFFFFFFFF)
    decision = make_decision(
        [Clause((never,), Action("kill_process")), Clause((always,), Action("log"))], ALLOW
    )
    assert decision.plain and decision.fallback == Action("log")


def test_neighbouring_calls_with_equal_decisions_share_a_range() -> None:
    table = tables.load("x86_64")
    io_uring = ("io_uring_setup", "io_uring_enter", "io_uring_register")
    rules = [SourceRule("s0", io_uring, Action("errno", 1))]
    rule_set, _ = build_rule_set(table, rules, default=ALLOW)
    denied = [r for r in rule_set.ranges if not r.decision.plain or r.decision.fallback != ALLOW]
    assert [(r.low, r.high, r.names) for r in denied if r.low < 0x40000000] == [
        (425, 427, io_uring)
    ]


def test_artifact_shape() -> None:
    pol = policy(rule(["bpf"], line=2), rule("acct", "notify", line=3), network="blocked")
    _, artifact = compile_program(pol)
    assert artifact["arch"] == "x86_64"
    assert artifact["audit_arch"] == 0xC000003E
    assert artifact["default"] == "allow" and artifact["bad_arch"] == "kill_process"
    assert artifact["x32"] == "errno:ENOSYS"
    assert artifact["needs_listener"] is True
    assert artifact["network"] == "blocked"
    rules = artifact["rules"]
    assert isinstance(rules, list)
    assert rules[0] == {
        "id": "s0",
        "syscalls": ["bpf"],
        "action": "errno:EPERM",
        "conditions": [],
        "source": "test.nono:2:1",
    }
    assert [r["id"] for r in rules] == ["s0", "s1", "sn0", "sn1", "sn2"]
    assert rules[2]["conditions"] == ["arg0 != 0x1"]
    _, aarch64 = compile_program(pol, "aarch64")
    assert "x32" not in aarch64
