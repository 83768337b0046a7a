"""What a seccomp filter costs per system call: instructions executed, ours against libseccomp.

Usage: python benchmarks/seccomp_cost.py [--arch x86_64|aarch64|all] [--markdown]

For every policy (the stdlib hardening under each network mode, and every profile shipped in
``profiles/`` and ``examples/``), both filters run in nono's BPF interpreter on every system
call of the architecture's table. "mean" and "max" are over the table with all-zero
arguments: the cost of getting each call to its answer. "worst" is the most any of a few
argument vectors needs (zeros, all ones, and each rule's compared values, with and without
junk in the high words): argument tests a rule asks for (an allow-list of five
``personality`` values is five comparisons) come on top of the dispatch.

libseccomp (2.5, through pyseccomp) gets the same rules with ``SCMP_FLTATR_CTL_OPTIMIZE``
= 2 (binary tree) and KILL_PROCESS for a foreign architecture. It accepts one comparison
per argument per rule, and has no "masked not-equal": for the few rules that need either
(the ``personality`` allow-list, the proxy-mode socket rules) it gets only the first
comparison of each argument, and a masked-equal in place of a masked-not-equal. Those rules
are weaker, so libseccomp's counts are, if anything, flattered. The script prints which.

Target: our mean no worse than libseccomp's; our max within log2(rules) + 8. The exit status
is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nonoc.backends.seccomp import bpf, codegen, policy_rules, tables
from nonoc.backends.seccomp.interp import SeccompData, check, run
from nonoc.backends.seccomp.ir_rules import SourceRule, build_rule_set
from nonoc.backends.seccomp.rules import ALLOW, Op
from nonoc.ir import Policy

REPO = Path(__file__).resolve().parent.parent

try:
    import pyseccomp
except (ImportError, OSError, RuntimeError) as exc:  # pragma: no cover - machine-dependent
    pyseccomp = None
    LIBSECCOMP_MISSING = str(exc)
else:
    LIBSECCOMP_MISSING = ""


@dataclass(frozen=True)
class Cost:
    """Instructions executed over the table: mean and max with zero arguments, worst case."""

    mean: float
    max: int
    worst: int
    size: int


def arg_vectors(rules: list[SourceRule], name: str) -> list[tuple[int, ...]]:
    """Argument vectors that walk the interesting paths of ``name``'s rules."""
    vectors = [(0,) * 6, (2**64 - 1,) * 6]
    for rule in rules:
        if name not in rule.names:
            continue
        args = [0] * 6
        for condition in rule.conditions:
            args[condition.arg] = condition.value
        vectors.append(tuple(args))
        vectors.append(tuple(a | 0xFFFF_FFFF_0000_0000 for a in args))
        vectors.append(tuple(a + 1 for a in args))
    return vectors


def cost(program: list[bpf.Insn], arch: str, rules: list[SourceRule]) -> Cost:
    """Mean (zero arguments) and max (any vector) instructions over every call of the table."""
    table = tables.load(arch)
    zero_steps, worst = [], 0
    for call in table.by_name.values():
        data = SeccompData(call.nr, table.audit_arch)
        zero_steps.append(run(program, data).steps)
        for args in arg_vectors(rules, call.name):
            worst = max(worst, run(program, SeccompData(call.nr, table.audit_arch, args)).steps)
    return Cost(statistics.fmean(zero_steps), max(zero_steps), worst, len(program))


def ours(rules: list[SourceRule], arch: str) -> list[bpf.Insn]:
    """Our program for ``rules`` (default allow, as ``lower`` builds it)."""
    rule_set, _ = build_rule_set(tables.load(arch), rules, default=ALLOW)
    program = codegen.generate(rule_set)
    check(program)
    return program


def libseccomp(rules: list[SourceRule], arch: str) -> tuple[list[bpf.Insn], list[str]]:
    """libseccomp's optimised program for the same rules, and the rules it got weaker."""
    assert pyseccomp is not None
    target = {"x86_64": pyseccomp.Arch.X86_64, "aarch64": pyseccomp.Arch.AARCH64}[arch]
    ops = {
        Op.EQ: pyseccomp.EQ,
        Op.NE: pyseccomp.NE,
        Op.LT: pyseccomp.LT,
        Op.LE: pyseccomp.LE,
        Op.GT: pyseccomp.GT,
        Op.GE: pyseccomp.GE,
        Op.MASKED_EQ: pyseccomp.MASKED_EQ,
        Op.MASKED_NE: pyseccomp.MASKED_EQ,
    }
    flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    if not flt.exist_arch(target):
        flt.add_arch(target)
    if pyseccomp.system_arch() != target:
        flt.remove_arch(pyseccomp.system_arch())
    flt.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
    flt.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    table = tables.load(arch)
    relaxed: list[str] = []
    for rule in rules:
        seen: set[int] = set()
        args = []
        for condition in rule.conditions:
            if condition.arg in seen or condition.op is Op.MASKED_NE:
                relaxed.append(rule.id)
            if condition.arg in seen:
                continue
            seen.add(condition.arg)
            if condition.op in (Op.MASKED_EQ, Op.MASKED_NE):
                args.append(
                    pyseccomp.Arg(
                        condition.arg, ops[condition.op], condition.mask or 0, condition.value
                    )
                )
            else:
                args.append(pyseccomp.Arg(condition.arg, ops[condition.op], condition.value))
        for name in rule.names:
            call = table.lookup(name)
            if call is None or pyseccomp.resolve_syscall(target, name) != call.nr:
                continue  # not on this arch, or newer than this libseccomp
            flt.add_rule(rule.action.ret, name, *args)
    with tempfile.TemporaryFile() as handle:
        flt.export_bpf(handle)
        handle.seek(0)
        program = bpf.decode(handle.read())
    check(program)
    return program, sorted(set(relaxed), key=lambda i: (len(i), i))


def policies() -> list[tuple[str, Policy]]:
    """The stdlib hardening under each network mode, then every shipped profile."""
    from nonoc.resolve import load_policy, load_policy_text
    from nonoc.syntax.parser import parse

    os.chdir(REPO)
    found = []
    for mode in ("open", "block", "proxy"):
        text = f'profile hardening "stdlib" {{ network {mode} }}'
        found.append(
            (
                f"stdlib hardening, network {mode}",
                load_policy_text(text, "bench.nono", "linux", profile="hardening"),
            )
        )
    for folder in ("profiles", "examples"):
        for path in sorted((REPO / folder).glob("*.nono")):
            relative = path.relative_to(REPO).as_posix()
            for profile in parse(path.read_text(encoding="utf-8"), relative).profiles:
                name = profile.name.text
                found.append((f"{relative}: {name}", load_policy(relative, "linux", profile=name)))
    return found


def main(argv: list[str]) -> int:
    """Print one row per policy and architecture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="all", choices=("x86_64", "aarch64", "all"))
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    arches = tables.ARCHES if args.arch == "all" else (args.arch,)
    if LIBSECCOMP_MISSING:
        print(f"libseccomp unavailable ({LIBSECCOMP_MISSING}); showing nono's numbers only")
    header = (
        "| policy | arch | rules | mean: nono / libseccomp | max: nono / libseccomp "
        "| worst: nono / libseccomp | log2(rules)+8 | size: nono / libseccomp |"
    )
    print(header if args.markdown else header.replace("|", " ").strip())
    if args.markdown:
        print("|" + "---|" * 8)
    notes: dict[str, list[str]] = {}
    failures = 0
    for label, policy in policies():
        rules = policy_rules(policy)
        for arch in arches:
            mine = cost(ours(rules, arch), arch, rules)
            target = math.log2(max(len(rules), 1)) + 8
            if pyseccomp is not None:
                program, relaxed = libseccomp(rules, arch)
                theirs = cost(program, arch, rules)
                if relaxed:
                    notes[label] = relaxed
                lib = (f"{theirs.mean:.2f}", str(theirs.max), str(theirs.worst), str(theirs.size))
                failures += mine.mean > theirs.mean
            else:
                lib = ("-", "-", "-", "-")
            failures += mine.max > target
            cells = [
                label,
                arch,
                str(len(rules)),
                f"{mine.mean:.2f} / {lib[0]}",
                f"{mine.max} / {lib[1]}",
                f"{mine.worst} / {lib[2]}",
                f"{target:.1f}",
                f"{mine.size} / {lib[3]}",
            ]
            print("| " + " | ".join(cells) + " |" if args.markdown else "  ".join(cells))
    for label, ids in notes.items():
        print(f"note: libseccomp got weaker forms of {', '.join(ids)} in '{label}'")
    print("targets met" if not failures else f"{failures} target(s) missed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
