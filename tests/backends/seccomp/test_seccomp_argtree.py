"""Argument decision graphs: same answers as first-match clause lists, fewer tests per path."""

from __future__ import annotations

import random

import pytest

from nonoc.backends.seccomp import argtree
from nonoc.backends.seccomp.rules import Action, ArgTest, Clause, Decision, Op, make_decision

ACTIONS = [Action("errno", 1), Action("errno", 13), Action("kill_process"), Action("log")]
ORDERED = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE]


def _test(rng: random.Random, arg: int, width: int, values: list[int]) -> ArgTest:
    full = (1 << width) - 1
    op = rng.choice([*ORDERED, Op.MASKED_EQ, Op.MASKED_NE, Op.EQ, Op.EQ])
    if op in (Op.MASKED_EQ, Op.MASKED_NE):
        mask = rng.choice([1, 2, 0xF, 0xF0, full])
        return ArgTest(arg, width, op, rng.choice(values) & mask, mask)
    return ArgTest(arg, width, op, rng.choice(values) & full, full)


@pytest.mark.parametrize("seed", range(300))
def test_graph_agrees_with_the_clause_list(seed: int) -> None:
    rng = random.Random(seed)
    widths = [rng.choice([16, 32, 64]) for _ in range(3)]
    values = [0, 1, 2, 3, 5, 8, 0x5412, 0x541C, 0x541D, 0x5423, 0xFFFF, 0xFFFFFFFF]
    clauses = []
    for _ in range(rng.randint(1, 8)):
        arg = rng.randrange(3)
        tests = tuple(
            _test(rng, rng.randrange(3) if rng.random() < 0.3 else arg, widths[a], values)
            for a in [arg] * rng.randint(1, 3)
        )
        clauses.append(Clause(tests, rng.choice(ACTIONS)))
    if rng.random() < 0.5:  # a run of equalities on one argument, one action
        action = rng.choice(ACTIONS)
        for value in rng.sample(values, rng.randint(3, 6)):
            clauses.append(
                Clause(
                    (
                        ArgTest(
                            1,
                            widths[1],
                            Op.EQ,
                            value & ((1 << widths[1]) - 1),
                            (1 << widths[1]) - 1,
                        ),
                    ),
                    action,
                )
            )
    decision = make_decision(clauses, Action("allow"))
    root = argtree.build(decision)
    probes = [v + d for v in values for d in (-1, 0, 1)]
    probes += [rng.getrandbits(64) for _ in range(20)]
    for _ in range(200):
        args = (*(rng.choice(probes) & (2**64 - 1) for _ in range(3)), 0, 0, 0)
        assert argtree.evaluate(root, args) == decision.evaluate(args), (clauses, args)


def test_equality_run_becomes_a_binary_search() -> None:
    commands = [0x5412, 0x541C, 0x541D, 0x5423]
    full = 0xFFFFFFFF
    decision = Decision(
        tuple(Clause((ArgTest(1, 32, Op.EQ, c, full),), Action("errno", 1)) for c in commands),
        Action("allow"),
    )
    root = argtree.build(decision)
    assert root.test is not None and root.test.op is Op.GE
    longest = 0
    for value in [*commands, 0, 0x5413, full]:
        node, steps = root, 0
        while node.test is not None:
            node = node.if_true if node.test.holds(value) else node.if_false  # type: ignore[assignment]
            steps += 1
        longest = max(longest, steps)
    assert longest == 3  # instead of 4 equality tests in a row


def test_shared_subgraphs() -> None:
    """After ``arg0 == AF_INET`` or ``== AF_INET6`` the type/protocol checks are one graph."""
    full = 0xFFFFFFFF
    deny = Action("errno", 1)
    clauses = [
        Clause(
            (
                ArgTest(0, 32, Op.NE, 1, full),
                ArgTest(0, 32, Op.NE, 2, full),
                ArgTest(0, 32, Op.NE, 10, full),
            ),
            deny,
        )
    ]
    for family in (2, 10):
        clauses.append(
            Clause(
                (ArgTest(0, 32, Op.EQ, family, full), ArgTest(1, 32, Op.MASKED_NE, 1, 0xF)), deny
            )
        )
        clauses.append(
            Clause(
                (
                    ArgTest(0, 32, Op.EQ, family, full),
                    ArgTest(2, 32, Op.NE, 0, full),
                    ArgTest(2, 32, Op.NE, 6, full),
                ),
                deny,
            )
        )
    root = argtree.build(make_decision(clauses, Action("allow")))
    tests = [node for node in argtree.topological(root) if node.test is not None]
    assert len(tests) == 6  # arg0 thrice, type once, protocol twice
