"""The shape of the binary search over syscall-number ranges.

Every internal node is one ``jge``; every leaf is one range's decision, which costs its own
instructions (1 for a plain ``ret``, more for argument tests). Two aims pull apart: the
worst call should stay cheap (a leaf with long argument tests wants to sit high), and the
average call should be cheap (a range holding many system calls wants to sit high).

:func:`plan` first computes, for every interval of ranges, the least worst-case cost any
tree can achieve (a small dynamic programme, cubic in the number of ranges), then builds
the tree top-down: at each node it takes, among the splits that keep the worst case within
that least value plus ``slack``, the one that best balances the weight of calls on both
sides. Beyond ``exact_limit`` ranges the programme is too slow for a compiler and the split
is simply the middle one (still a balanced tree, depth ⌈log2 n⌉).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """A subtree over ranges ``low..high``; ``split`` is the first range of the upper half."""

    low: int
    high: int
    split: int | None = None
    below: Shape | None = None
    above: Shape | None = None

    def depth_of(self, index: int) -> int:
        """Number of ``jge`` nodes on the way to range ``index``."""
        node, depth = self, 0
        while node.split is not None:
            assert node.below is not None and node.above is not None
            node = node.above if index >= node.split else node.below
            depth += 1
        return depth


def plan(
    costs: Sequence[int], weights: Sequence[float], *, slack: int = 1, exact_limit: int = 100
) -> Shape:
    """A search tree over ``len(costs)`` ranges (see the module docstring)."""
    count = len(costs)
    if count > exact_limit:
        return _balanced(0, count - 1)
    best = _least_worst(costs)
    prefix = [0.0]
    for weight in weights:
        prefix.append(prefix[-1] + weight)
    return _build(0, count - 1, best[0][count - 1] + slack, best, prefix)


def _balanced(low: int, high: int) -> Shape:
    if low == high:
        return Shape(low, high)
    split = (low + high + 1) // 2
    return Shape(low, high, split, _balanced(low, split - 1), _balanced(split, high))


def _least_worst(costs: Sequence[int]) -> list[list[int]]:
    """``best[i][j]``: the least worst-case cost of a tree over ranges ``i..j``."""
    count = len(costs)
    best = [[0] * count for _ in range(count)]
    for index, cost in enumerate(costs):
        best[index][index] = cost
    for length in range(2, count + 1):
        for low in range(count - length + 1):
            high = low + length - 1
            row = best[low]
            best[low][high] = 1 + min(
                max(row[split - 1], best[split][high]) for split in range(low + 1, high + 1)
            )
    return best


def _build(low: int, high: int, budget: int, best: list[list[int]], prefix: list[float]) -> Shape:
    if low == high:
        return Shape(low, high)
    middle = (prefix[low] + prefix[high + 1]) / 2
    choice: tuple[float, int, int] | None = None
    for split in range(low + 1, high + 1):
        if 1 + max(best[low][split - 1], best[split][high]) > budget:
            continue
        imbalance = abs(prefix[split] - middle)
        key = (imbalance, abs(2 * split - low - high - 1), split)
        if choice is None or key < choice:
            choice = key
    assert choice is not None, "the budget always admits the least-worst split"
    split = choice[2]
    return Shape(
        low,
        high,
        split,
        _build(low, split - 1, budget - 1, best, prefix),
        _build(split, high, budget - 1, best, prefix),
    )
