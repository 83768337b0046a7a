"""Argument decision diagrams: a range's clauses become a shared graph of single tests.

A clause list is evaluated first-match: written out naively, a failed clause re-tests what
the previous one already learned (``arg0 == AF_INET`` after ``arg0 == AF_UNIX`` failed…).
Here each test is asked once per path: its outcome is a *fact*, every later test the facts
decide is folded away, and sub-graphs that remain the same are shared. The result is a
directed acyclic graph whose nodes are one argument test or one return; code generation
lays it out in topological order so that every jump goes forward.

Facts are kept per argument: a known value (after ``== v`` held), values it is known not
to be (after ``== v`` failed), an interval (after an order test), and the outcome of each
exact test already made. A run of equality tests on one argument is searched by halves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from nonoc.backends.seccomp.rules import Action, ArgTest, Clause, Decision, Op


@dataclass(frozen=True, eq=False)
class Node:
    """One step of the graph: a return (``test`` is None) or a test with two successors."""

    action: Action | None = None
    test: ArgTest | None = None
    if_true: Node | None = None
    if_false: Node | None = None


@dataclass(frozen=True)
class _Facts:
    #: Facts are about a *word*: (argument, width), as a test reads it.
    known: tuple[tuple[int, int, int], ...] = ()
    excluded: tuple[tuple[int, int, int], ...] = ()
    #: (arg, width, lowest, highest) an argument is known to lie within.
    bounds: tuple[tuple[int, int, int, int], ...] = ()
    outcomes: tuple[tuple[ArgTest, bool], ...] = ()

    def value_of(self, test: ArgTest) -> int | None:
        word = (test.arg, test.width)
        return next((value for a, w, value in self.known if (a, w) == word), None)

    def bounds_of(self, test: ArgTest) -> tuple[int, int]:
        word = (test.arg, test.width)
        found = ((lo, hi) for a, w, lo, hi in self.bounds if (a, w) == word)
        return next(found, (0, test.width_mask))

    def decide(self, test: ArgTest) -> bool | None:
        """The test's outcome if the facts settle it, else ``None``."""
        for seen, outcome in self.outcomes:
            if seen == test:
                return outcome
            if seen == test.negated():
                return not outcome
        value = self.value_of(test)
        if value is not None:
            return test.holds(value)
        if test.op in (Op.EQ, Op.NE) and (test.arg, test.width, test.value) in self.excluded:
            return test.op is Op.NE
        if test.op not in (Op.MASKED_EQ, Op.MASKED_NE):
            lo, hi = self.bounds_of(test)
            low_holds, high_holds = test.holds(lo), test.holds(hi)
            ordered = test.op not in (Op.EQ, Op.NE)
            inside = lo <= test.value <= hi
            if low_holds == high_holds and (ordered or not inside):
                return low_holds  # monotone over the interval, or the value lies outside it
        return test.constant()

    def learn(self, test: ArgTest, outcome: bool) -> _Facts:
        """These facts plus the outcome of ``test``."""
        known, excluded, bounds = self.known, self.excluded, self.bounds
        equal = (test.op is Op.EQ and outcome) or (test.op is Op.NE and not outcome)
        unequal = (test.op is Op.EQ and not outcome) or (test.op is Op.NE and outcome)
        if equal and test.width_mask == test.mask:
            known = tuple(sorted({*known, (test.arg, test.width, test.value)}))
        elif unequal:
            excluded = tuple(sorted({*excluded, (test.arg, test.width, test.value)}))
        elif test.op in (Op.LT, Op.LE, Op.GT, Op.GE):
            lo, hi = self.bounds_of(test)
            at_least = {Op.GE: test.value, Op.GT: test.value + 1}
            at_most = {Op.LT: test.value - 1, Op.LE: test.value}
            positive = test if outcome else test.negated()
            if positive.op in at_least:
                lo = max(lo, at_least[positive.op])
            else:
                hi = min(hi, at_most[positive.op])
            others = tuple(b for b in bounds if b[:2] != (test.arg, test.width))
            bounds = tuple(sorted({*others, (test.arg, test.width, lo, hi)}))
        outcomes = tuple(sorted({*self.outcomes, (test, outcome)}, key=repr))
        return _Facts(known, excluded, bounds, outcomes)

    def about(self, args: frozenset[int]) -> _Facts:
        """Only the facts on ``args``: what a shared sub-graph may depend on."""
        return _Facts(
            tuple(k for k in self.known if k[0] in args),
            tuple(e for e in self.excluded if e[0] in args),
            tuple(b for b in self.bounds if b[0] in args),
            tuple(o for o in self.outcomes if o[0].arg in args),
        )


@dataclass
class _Builder:
    memo: dict[object, Node] = field(default_factory=dict)
    returns: dict[Action, Node] = field(default_factory=dict)

    def ret(self, action: Action) -> Node:
        return self.returns.setdefault(action, Node(action=action))

    def build(self, clauses: tuple[Clause, ...], fallback: Action, facts: _Facts) -> Node:
        live = _simplify(clauses, facts)
        if not live:
            return self.ret(fallback)
        if not live[0].tests:
            return self.ret(live[0].action)
        args = frozenset(t.arg for clause in live for t in clause.tests)
        key = (live, fallback, facts.about(args))
        if key in self.memo:
            return self.memo[key]
        test = _pivot(live) or live[0].tests[0]
        yes = self.build(live, fallback, facts.learn(test, True))
        no = self.build(live, fallback, facts.learn(test, False))
        node = yes if yes is no else Node(test=test, if_true=yes, if_false=no)
        self.memo[key] = node
        return node


def _pivot(clauses: tuple[Clause, ...]) -> ArgTest | None:
    """``arg >= middle value`` when the list opens with three or more ``arg == v`` clauses
    of one action: a binary search then replaces a chain of equality tests (four ioctl
    commands cost two comparisons instead of four)."""
    run: list[ArgTest] = []
    for clause in clauses:
        if len(clause.tests) != 1 or clause.action != clauses[0].action:
            break
        test = clause.tests[0]
        if test.op is not Op.EQ:
            break
        if run and (test.arg, test.width) != (run[0].arg, run[0].width):
            break
        run.append(test)
    values = sorted({test.value for test in run})
    if len(values) < 3:
        return None
    first = run[0]
    return ArgTest(first.arg, first.width, Op.GE, values[len(values) // 2], first.width_mask)


def _simplify(clauses: tuple[Clause, ...], facts: _Facts) -> tuple[Clause, ...]:
    """Drop clauses the facts rule out and tests the facts already passed."""
    live = []
    for clause in clauses:
        outcomes = [facts.decide(test) for test in clause.tests]
        if False in outcomes:
            continue
        tests = tuple(t for t, known in zip(clause.tests, outcomes, strict=True) if known is None)
        live.append(Clause(tests, clause.action, clause.rule_ids))
        if not tests:
            break  # it always matches: later clauses are unreachable
    return tuple(live)


def build(decision: Decision) -> Node:
    """The graph for ``decision``: first-match semantics, each test asked once per path."""
    return _Builder().build(decision.clauses, decision.fallback, _Facts())


def topological(root: Node) -> list[Node]:
    """Every node reachable from ``root``, each before its successors (jumps go forward)."""
    order: list[Node] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in (node.if_false, node.if_true):
            if child is not None:
                visit(child)
        order.append(node)

    visit(root)
    order.reverse()
    returns = [node for node in order if node.test is None]
    return [node for node in order if node.test is not None] + returns


def evaluate(root: Node, args: tuple[int, ...]) -> Action:
    """Walk the graph for these argument registers (reference semantics, for tests)."""
    node = root
    while node.test is not None:
        assert node.if_true is not None and node.if_false is not None
        node = node.if_true if node.test.holds(args[node.test.arg]) else node.if_false
    assert node.action is not None
    return node.action


def nodes(root: Node) -> Iterator[Node]:
    """The reachable nodes, in topological order."""
    yield from topological(root)
