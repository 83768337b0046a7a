"""The policies a learned profile builds on: the built-in profiles, the stdlib groups.

``choose_base`` picks the built-in profile closest to what the command did. Closeness is
an F1 score: how much of what the command did the profile already grants (recall), against
how much of what the profile grants the command used (precision). A profile granting the
whole home directory covers everything and is close to nothing.

``group_policy`` resolves one stdlib group alone, so that the learner can ``use`` a group
the command evidently needs (``system``, ``python_runtime``...) instead of spelling out its
paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nonoc import ir
from nonoc.learn.coverage import Coverage
from nonoc.learn.events import Mode
from nonoc.resources import data_dir

#: Groups a learned profile may ``use``, in the order they are considered: the system a
#: process runs on first, then the user's tools, then language runtimes and their caches.
#: ``user_caches`` (all of ``$XDG_CACHE_HOME``) is left out: folding names the one cache
#: directory a command used.
CANDIDATE_GROUPS: tuple[str, ...] = (
    "system",
    "system_write",
    "terminal",
    "host_state_linux",
    "user_tools",
    "git_config",
    "python_runtime",
    "node_runtime",
    "rust_runtime",
    "go_runtime",
    "java_runtime",
    "nix_runtime",
    "homebrew",
    "python_caches",
    "node_caches",
    "rust_caches",
    "go_caches",
    "java_caches",
)

#: The file name probes are resolved under (shown in provenance, never written).
PROBE_FILE = "<nono learn>"
_GROUP_LINE = re.compile(r"^\s*(?:mandatory\s+)?group\s+([A-Za-z_][A-Za-z0-9_.\-]*)", re.MULTILINE)


@dataclass(frozen=True)
class BaseChoice:
    """The chosen base profile, its policy and its coverage, and why it was chosen."""

    name: str
    policy: ir.Policy
    coverage: Coverage
    score: float
    covered: int
    total: int


def builtin_profiles() -> list[str]:
    """The names of the shipped profiles (``profiles/*.nono``), sorted."""
    folder = data_dir("profiles")
    return sorted(p.stem for p in folder.glob("*.nono")) if folder.is_dir() else []


@cache
def stdlib_groups() -> frozenset[str]:
    """Every group name the standard library defines."""
    names: set[str] = set()
    folder = data_dir("stdlib")
    for file in folder.glob("*.nono") if folder.is_dir() else ():
        names.update(_GROUP_LINE.findall(file.read_text(encoding="utf-8")))
    return frozenset(names)


def looks_like_path(source: str) -> bool:
    """Whether ``source`` names a policy file rather than a profile (as the front end decides)."""
    return "/" in source or os.sep in source or source.endswith(".nono")


def resolve_linux(
    source: str | Path, *, profile: str | None = None, text: str | None = None
) -> ir.Policy:
    """Resolve a profile for Linux (imported here: the front end costs its import)."""
    from nonoc.resolve import resolve

    return resolve(source, "linux", profile=profile, text=text).policy


def probe_policy(statements: str) -> ir.Policy:
    """A throwaway profile holding ``statements``, resolved with the mandatory groups."""
    text = f"profile nono-learn-probe {{\n{statements}\n}}\n"
    return resolve_linux(PROBE_FILE, text=text)


@cache
def group_policy(name: str) -> ir.Policy:
    """Group ``name`` alone, as a profile that only ``use``s it (stdlib groups: cached)."""
    return probe_policy(f"use {name}")


@cache
def union_policy(names: tuple[str, ...]) -> ir.Policy:
    """Every group of ``names`` at once: what any of them could grant."""
    return probe_policy("use " + ", ".join(names))


def candidate_groups() -> list[str]:
    """The candidate groups this installation's stdlib defines."""
    present = stdlib_groups()
    return [name for name in CANDIDATE_GROUPS if name in present]


def choose_base(
    items: Sequence[tuple[str, Mode]],
    names: Sequence[str],
    values: Mapping[str, str],
) -> BaseChoice | None:
    """The profile among ``names`` closest to ``items`` (path, mode), or None if none is.

    Ties go to the profile with fewer grants, then to the name that sorts first.
    """
    best: tuple[tuple[float, int, str], BaseChoice] | None = None
    total = len(items)
    for name in names:
        policy = resolve_linux(name)
        coverage = Coverage.of_policy(policy, values)
        covered = sum(1 for path, mode in items if coverage.granting(path, mode) is not None)
        grants = {(rule.template, rule.tree) for rule in coverage.grants}
        used = {(rule.template, rule.tree) for rule in coverage.grants_used(items)}
        recall = covered / total if total else 0.0
        precision = len(used) / len(grants) if grants else 0.0
        score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        choice = BaseChoice(name, policy, coverage, score, covered, total)
        key = (-score, len(grants), name)
        if best is None or key < best[0]:
            best = (key, choice)
    return best[1] if best is not None else None
