"""What a resolved policy already grants and denies on this host, path by path.

Learning asks two questions of a policy for every path the command touched: is this
access already granted (then no rule is needed), and is this path denied (then no rule may
be written, and the user is told)? Policies hold path *templates*; this module expands them
with this host's variables and resolves their symlinks, as the launcher will, and answers by
whole path components.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from nonoc import ir, paths
from nonoc.learn.events import Mode

_MODE_OF: dict[ir.Access, Mode] = {
    ir.Access.READ: "read",
    ir.Access.WRITE: "write",
    ir.Access.EXECUTE: "exec",
}


@dataclass(frozen=True)
class HostRule:
    """A grant or deny of a policy, expanded on this host.

    ``source`` names where it was written: the innermost group (or the profile) and its
    ``file:line``; ``top_group`` is the group the profile itself ``use``d to bring it in
    (None when the profile wrote it).
    """

    template: str
    host_path: str
    tree: bool
    modes: frozenset[Mode]
    source: str
    top_group: str | None


def describe_source(provenance: ir.Provenance) -> str:
    """``group deny_credentials (stdlib/credentials.nono:15)``, or ``profile p (p.nono:3)``."""
    chain = provenance.chain
    inner = chain[-1] if chain else None
    what = (
        f"{inner.kind if inner.kind in ('group', 'profile') else 'profile'} {inner.name}"
        if inner
        else "the profile"
    )
    return f"{what} ({provenance.file}:{provenance.line})"


def _top_group(provenance: ir.Provenance) -> str | None:
    for link in provenance.chain[1:]:
        if link.kind == "group":
            return link.name
    return None


def host_forms(template: str, values: Mapping[str, str]) -> list[str]:
    """The host paths a template names: as expanded, and with symlinks resolved (when they differ)."""
    try:
        expanded = paths.expand(template, values)
    except paths.UnsetVariable:
        return []
    real = os.path.realpath(expanded)
    return [expanded] if real == expanded else [expanded, real]


def ancestors(path: str) -> Iterator[str]:
    """``path`` itself, then each parent up to ``/``."""
    current = path
    while True:
        yield current
        if current == "/":
            return
        current = os.path.dirname(current) or "/"


class Coverage:
    """Grants and denies of one policy on this host, indexed by host path."""

    def __init__(self, grants: Iterable[HostRule] = (), denies: Iterable[HostRule] = ()) -> None:
        self.grants: list[HostRule] = list(grants)
        self.denies: list[HostRule] = list(denies)
        self._trees: dict[str, list[HostRule]] = {}
        self._files: dict[str, list[HostRule]] = {}
        for rule in self.grants:
            (self._trees if rule.tree else self._files).setdefault(rule.host_path, []).append(rule)
        self._deny_trees = {rule.host_path: rule for rule in self.denies if rule.tree}
        self._deny_files = {rule.host_path: rule for rule in self.denies if not rule.tree}

    @classmethod
    def of_policy(cls, policy: ir.Policy, values: Mapping[str, str]) -> Coverage:
        """Expand ``policy``'s grants and denies with the host's variable ``values``."""
        grants = [
            HostRule(
                grant.path,
                host,
                grant.kind is ir.PathKind.TREE,
                frozenset(_MODE_OF[a] for a in grant.access),
                describe_source(grant.provenance),
                _top_group(grant.provenance),
            )
            for grant in policy.grants
            for host in host_forms(grant.path, values)
        ]
        denies = [
            HostRule(
                deny.path,
                host,
                deny.kind is ir.PathKind.TREE,
                frozenset(),
                describe_source(deny.provenance),
                _top_group(deny.provenance),
            )
            for deny in policy.denies
            for host in host_forms(deny.path, values)
        ]
        return cls(grants, denies)

    def granting(self, path: str, mode: Mode) -> HostRule | None:
        """A grant that gives ``mode`` on ``path``, if any."""
        for rule in self._files.get(path, ()):
            if mode in rule.modes:
                return rule
        for ancestor in ancestors(path):
            for rule in self._trees.get(ancestor, ()):
                if mode in rule.modes:
                    return rule
        return None

    def covers(self, path: str, modes: Iterable[Mode]) -> bool:
        """Whether every one of ``modes`` on ``path`` is granted."""
        return all(self.granting(path, mode) is not None for mode in modes)

    def denying(self, path: str) -> HostRule | None:
        """The deny that covers ``path`` (its own file deny, or a denied tree above it)."""
        if path in self._deny_files:
            return self._deny_files[path]
        for ancestor in ancestors(path):
            if ancestor in self._deny_trees:
                return self._deny_trees[ancestor]
        return None

    def grants_used(self, items: Iterable[tuple[str, Mode]]) -> set[HostRule]:
        """The grants that give at least one of ``items`` (path, mode)."""
        used: set[HostRule] = set()
        for path, mode in items:
            rule = self.granting(path, mode)
            if rule is not None:
                used.add(rule)
        return used
