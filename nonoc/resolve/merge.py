"""From a profile's merged layer to the ``Policy``: dedupe, judge conflicts, sort.

Determinism: every list is deduplicated (one entry per meaning, keeping the provenance
that sorts first) and sorted canonically (path, kind, access, then provenance), so that
two spellings of one policy give equal rules.

Conflicts between grants and denies, decided here by component comparison
(``nonoc.paths.is_within``):

* a grant of exactly a denied path (same kind) is an error naming both rules;
* a grant inside a denied tree can never take effect: it is dropped with a warning;
* a deny inside a granted tree is kept (``deny_inside_allow split``: the Landlock backend
  grants around it) or, under ``refuse``, is an error naming both rules. When the two
  paths start from different variables the answer depends on the host and is left to
  the launcher.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar, cast

from nonoc import ir
from nonoc.errors import Diagnostic, NonoError
from nonoc.paths import is_within
from nonoc.resolve.collect import scalar_value, span_of
from nonoc.resolve.layer import Layer
from nonoc.resolve.routes import merged_routes
from nonoc.resolve.sources import SourceSet

T = TypeVar("T")

# Codes of the diagnostics judged here: stable names that tools (``nonoc check``) key on,
# whatever the wording. Each carries the other rule's span in ``related``.
#: ``assert never …`` does not hold; related: the grant that breaks it.
ASSERTION_FAILED = "assertion-failed"
#: A grant of exactly a denied path; related: the deny.
GRANT_EQUALS_DENY = "grant-equals-deny"
#: A deny inside a granted tree under ``deny_inside_allow refuse``; related: the grant.
#: (The Landlock backend uses the same code for the same judgement.)
DENY_INSIDE_ALLOW = "deny-inside-allow"
#: A grant inside a denied tree, dropped with a warning; related: the deny.
DENY_COVERS_GRANT = "deny-covers-grant"


def provenance_key(prov: ir.Provenance) -> tuple[object, ...]:
    """Sort key of a provenance: position first, then the chain."""
    chain = tuple((link.kind, link.name, link.file, link.line) for link in prov.chain)
    return (prov.file, prov.line, prov.column, len(chain), chain)


def _dedupe(
    items: Iterable[T], key: Callable[[T], Hashable], prov: Callable[[T], ir.Provenance]
) -> list[T]:
    """One item per ``key``: the one whose provenance sorts first."""
    best: dict[Hashable, T] = {}
    for item in items:
        k = key(item)
        if k not in best or provenance_key(prov(item)) < provenance_key(prov(best[k])):
            best[k] = item
    return list(best.values())


def where(prov: ir.Provenance) -> str:
    """``file:line:col`` of a rule."""
    return prov.location()


class PolicyBuilder:
    """Turns a merged layer into a ``Policy`` plus warnings."""

    def __init__(self, sources: SourceSet, diagnostics: list[Diagnostic]) -> None:
        self.sources = sources
        self.diagnostics = diagnostics

    def build(
        self,
        name: str,
        description: str,
        target: ir.Target,
        layer: Layer,
        mandatory: list[str],
    ) -> ir.Policy:
        """The ``Policy`` for ``layer``."""
        strategy = scalar_value(layer, "deny_inside_allow", ir.DenyStrategy.SPLIT)
        denies = sorted(
            _dedupe(layer.denies, lambda d: (d.path, d.kind), lambda d: d.provenance),
            key=lambda d: (d.path, d.kind.value, provenance_key(d.provenance)),
        )
        grants = self._grants(layer.grants, denies, strategy)
        self._check_assertions(layer.assertions, grants, denies)
        network_scalar = layer.scalars.get("network")
        network = ir.Network(
            mode=scalar_value(layer, "network", ir.NetworkMode.OPEN),
            ports=tuple(
                sorted(
                    _dedupe(layer.ports, lambda p: (p.port, p.direction), lambda p: p.provenance),
                    key=lambda p: (p.port, p.direction),
                )
            ),
            proxy_hosts=tuple(
                sorted(
                    _dedupe(layer.hosts, lambda h: h.pattern, lambda h: h.provenance),
                    key=lambda h: h.pattern,
                )
            ),
            credential_routes=merged_routes(layer),
            provenance=network_scalar.provenance if network_scalar else None,
        )
        syscalls = sorted(
            _dedupe(
                layer.syscalls, lambda s: (s.names, s.action, s.conditions), lambda s: s.provenance
            ),
            key=lambda s: (
                s.names,
                s.action.kind.value,
                s.action.errno or 0,
                _conditions_key(s),
                provenance_key(s.provenance),
            ),
        )
        allowed = sorted({c for c, _ in layer.allowed_commands})
        blocked = sorted({c for c, _ in layer.blocked_commands} - set(allowed))
        env_set = tuple(
            sorted(
                (k.removeprefix("env."), str(s.value))
                for k, s in layer.scalars.items()
                if k.startswith("env.")
            )
        )
        return ir.Policy(
            name=name,
            target=target,
            description=description,
            min_abi=scalar_value(layer, "abi", cast(int | None, None)),
            compat=scalar_value(layer, "compat", ir.Compat.BEST_EFFORT),
            deny_strategy=strategy,
            grants=tuple(grants),
            denies=tuple(denies),
            network=network,
            syscalls=tuple(syscalls),
            scopes=ir.Scopes(
                abstract_unix_socket=bool(scalar_value(layer, "scope.abstract_unix_socket", True)),
                signal=bool(scalar_value(layer, "scope.signal", True)),
            ),
            env=ir.EnvPolicy(keep=tuple(sorted({n for n, _ in layer.env_keep})), set=env_set),
            blocked_commands=tuple(blocked),
            allowed_commands=tuple(allowed),
            unix_sockets=tuple(
                sorted(
                    _dedupe(layer.unix_sockets, lambda u: u.path, lambda u: u.provenance),
                    key=lambda u: u.path,
                )
            ),
            protect_metadata=bool(layer.protect_metadata),
            rollback=scalar_value(layer, "rollback", cast(bool | None, None)),
            assertions=tuple(
                sorted(
                    _dedupe(layer.assertions, lambda a: (a.access, a.path), lambda a: a.provenance),
                    key=lambda a: (a.path, a.access.value),
                )
            ),
            mandatory_groups=tuple(mandatory),
            sources=self.sources.sources(),
        )

    # --- grants against denies ---------------------------------------------------------------

    def _grants(
        self, raw: list[ir.PathGrant], denies: list[ir.PathDeny], strategy: ir.DenyStrategy
    ) -> list[ir.PathGrant]:
        grants = self._merge_grants(raw)
        kept: list[ir.PathGrant] = []
        for grant in grants:
            shadow = self._judge_against_denies(grant, denies)
            if shadow is None:
                kept.append(grant)
        if strategy is ir.DenyStrategy.REFUSE:
            for deny in denies:
                for grant in kept:
                    if grant.kind is ir.PathKind.TREE and is_within(deny.path, grant.path) is True:
                        raise NonoError(
                            f"deny of {deny.path} ({where(deny.provenance)}) lies inside the grant of "
                            f"{grant.path} ({where(grant.provenance)}), and 'deny_inside_allow refuse' is set",
                            span_of(deny.provenance, self.sources),
                            notes=(
                                "remove one of the two rules, or use 'deny_inside_allow split'",
                            ),
                            code=DENY_INSIDE_ALLOW,
                            related=(span_of(grant.provenance, self.sources),),
                        )
        return kept

    def _merge_grants(self, raw: list[ir.PathGrant]) -> list[ir.PathGrant]:
        """One grant per (path, kind, access); required if any statement requires it."""
        groups: dict[tuple[str, ir.PathKind, frozenset[ir.Access]], list[ir.PathGrant]] = {}
        for grant in raw:
            groups.setdefault((grant.path, grant.kind, grant.access), []).append(grant)
        merged = []
        for same in groups.values():
            required = [g for g in same if not g.optional]
            chosen = min(required or same, key=lambda g: provenance_key(g.provenance))
            merged.append(chosen)
        return sorted(
            merged,
            key=lambda g: (
                g.path,
                g.kind.value,
                sorted(a.value for a in g.access),
                provenance_key(g.provenance),
            ),
        )

    def _judge_against_denies(
        self, grant: ir.PathGrant, denies: list[ir.PathDeny]
    ) -> ir.PathDeny | None:
        """The deny that makes ``grant`` useless (it is then dropped), or None; equal is an error."""
        for deny in denies:
            if deny.path == grant.path and deny.kind is grant.kind:
                access = ", ".join(sorted(a.value for a in grant.access))
                raise NonoError(
                    f"{grant.path} is both granted ({access}, {where(grant.provenance)}) and denied "
                    f"({where(deny.provenance)})",
                    span_of(grant.provenance, self.sources),
                    notes=(
                        f"the deny is at {where(deny.provenance)}; remove one of the two rules",
                    ),
                    code=GRANT_EQUALS_DENY,
                    related=(span_of(deny.provenance, self.sources),),
                )
        for deny in denies:
            if deny.kind is ir.PathKind.TREE and is_within(grant.path, deny.path) is True:
                self.diagnostics.append(
                    Diagnostic(
                        "warning",
                        f"grant of {grant.path} has no effect: it lies inside the deny of {deny.path} "
                        f"({where(deny.provenance)}), and deny wins",
                        span_of(grant.provenance, self.sources),
                        code=DENY_COVERS_GRANT,
                        related=(span_of(deny.provenance, self.sources),),
                    )
                )
                return deny
        return None

    # --- assertions -------------------------------------------------------------------------

    def _check_assertions(
        self, assertions: list[ir.Assertion], grants: list[ir.PathGrant], denies: list[ir.PathDeny]
    ) -> None:
        for assertion in assertions:
            covered = any(
                is_within(assertion.path, d.path) is True
                and (d.kind is ir.PathKind.TREE or d.path == assertion.path)
                for d in denies
            )
            for grant in grants:
                if assertion.access not in grant.access:
                    continue
                inside_grant = (
                    grant.kind is ir.PathKind.TREE and is_within(assertion.path, grant.path) is True
                )
                grant_inside = is_within(grant.path, assertion.path) is True
                if grant_inside or (inside_grant and not covered):
                    raise NonoError(
                        f"assertion failed: never {assertion.access.value} {assertion.path}, but "
                        f"{where(grant.provenance)} grants {assertion.access.value} on {grant.path}",
                        span_of(assertion.provenance, self.sources),
                        notes=tuple(
                            f"via {link.kind} {link.name} ({link.file}:{link.line})"
                            for link in grant.provenance.chain
                        ),
                        code=ASSERTION_FAILED,
                        related=(span_of(grant.provenance, self.sources),),
                    )


def _conditions_key(rule: ir.SyscallRule) -> tuple[tuple[int, str, int, int], ...]:
    return tuple((c.index, c.op.value, c.value, c.mask or 0) for c in rule.conditions)
