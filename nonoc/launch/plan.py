"""The plan: everything the launcher will hand to Landlock, decided before anything is applied.

``build`` runs the steps that depend on the host (in this order): fit the table to the
running kernel (``compat``), expand and resolve paths (``hostpaths``), keep the denies
(``denies``), then mask each rule's rights to what the kernel handles. The result is
inspectable (``nono exec --dry-run`` prints it) and is applied by ``nonoc.launch.apply``.
Standard library only.
"""

from __future__ import annotations

import os

from nonoc import paths
from nonoc.launch import compat, denies, hostpaths, landlock, rights

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Mapping
    from typing import Any


class PortGrant:
    """Allow TCP ``access`` (BIND_TCP / CONNECT_TCP) on ``port``."""

    __slots__ = ("access", "port", "rule_id")

    def __init__(self, rule_id: str, port: int, access: list[str]) -> None:
        self.rule_id, self.port, self.access = rule_id, port, access


class Plan:
    """The rules to enforce on this host, and the record of every decision on the way."""

    def __init__(
        self, report: compat.CompatReport, provenance: Mapping[str, Any], strategy: str
    ) -> None:
        self.report = report
        self.provenance = provenance
        self.strategy = strategy
        self.grants: list[hostpaths.Grant] = []
        self.ports: list[PortGrant] = []
        self.denies: list[hostpaths.Deny] = []
        self.skipped: list[hostpaths.Skip] = []
        self.dropped: list[denies.Dropped] = []
        self.splits: list[denies.Split] = []
        #: (rule id, path template, rights the kernel does not know), once per rule that lost some.
        self.masked: list[tuple[str, str, list[str]]] = []

    @property
    def handled_fs(self) -> int:
        """The ruleset's handled fs mask on this kernel."""
        return rights.mask("fs", self.report.handled_fs)

    @property
    def handled_net(self) -> int:
        """The ruleset's handled net mask on this kernel."""
        return rights.mask("net", self.report.handled_net)

    @property
    def scoped(self) -> int:
        """The ruleset's scope mask on this kernel."""
        return rights.mask("scope", self.report.scopes)

    def describe(self, rule_id: str) -> str:
        """``g3 (x.nono:4:3, via profile a > group b)``: a rule id with where it came from."""
        return describe(rule_id, self.provenance)

    def close(self) -> None:
        """Close every descriptor the plan holds (after applying, or after a dry run)."""
        hostpaths.close_all(self.grants)


def describe(rule_id: str, provenance: Mapping[str, Any]) -> str:
    """A rule id followed by its source position and chain, as the bundle's provenance records."""
    entry = provenance.get(rule_id)
    if not isinstance(entry, dict):
        return rule_id
    where = f"{entry.get('file', '?')}:{entry.get('line', 0)}:{entry.get('column', 0)}"
    chain = entry.get("chain") or []
    links = [f"{link.get('kind')} {link.get('name')}" for link in chain if isinstance(link, dict)]
    return f"{rule_id} ({where}" + (", via " + " > ".join(links) if links else "") + ")"


def build(
    table: Mapping[str, Any],
    provenance: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    kernel_abi: int | None = None,
) -> Plan:
    """Decide what to enforce for ``table`` (a bundle's ``linux.landlock``) on this host.

    ``kernel_abi`` overrides the running kernel's Landlock ABI (tests simulate older
    kernels with it; it can only lower what is enforced, never raise it). Raises
    ``SandboxError`` (126) when the bundle cannot be applied here and ``NonoError`` (1)
    when the table is malformed. The returned plan holds open descriptors: ``close()`` it.
    """
    running = landlock.abi_version()
    abi = running if kernel_abi is None else min(kernel_abi, running)
    try:
        report = compat.negotiate(table, abi)
        strategy = str(table.get("deny_strategy", "split"))
        if strategy not in ("split", "refuse"):
            raise ValueError(f"deny_strategy must be split or refuse, not {strategy!r}")
        rules = _rows(table, "rules")
        deny_rows = _rows(table, "denies")
        net_rows = _rows(table, "net")
        for row in rules:
            rights.mask("fs", row["access"])
        for row in net_rows:
            rights.mask("net", row["access"])
            if not 0 <= int(row["port"]) <= 65535:
                raise ValueError(f"port {row['port']} is out of range")
    except (ValueError, KeyError, TypeError) as exc:
        from nonoc.launch.failure import nono_error

        raise nono_error(f"malformed Landlock table in the bundle: {exc}") from None
    if report.refusal:
        from nonoc.launch.failure import sandbox_error

        raise sandbox_error(report.refusal, notes=report.notes)
    plan = Plan(report, provenance, strategy)
    values = paths.host_variables(os.environ if environ is None else environ)
    grants: list[hostpaths.Grant] = []
    try:
        grants, plan.skipped = hostpaths.resolve_grants(rules, values, plan.describe)
        plan.denies = hostpaths.resolve_denies(deny_rows, values, plan.describe)
        grants, plan.dropped, plan.splits = denies.apply(
            grants, plan.denies, strategy, plan.describe
        )
        for grant in grants:
            kept = report.keep("fs", grant.access)
            if len(kept) < len(grant.access) and grant.rule_id not in {m[0] for m in plan.masked}:
                plan.masked.append(
                    (grant.rule_id, grant.template, sorted(set(grant.access) - set(kept)))
                )
            grant.access = kept
            if kept:
                plan.grants.append(grant)
            else:
                plan.skipped.append(
                    hostpaths.Skip(
                        grant.rule_id, grant.path, "no right it holds is known to this kernel"
                    )
                )
                hostpaths.close_all([grant])
    except BaseException:
        hostpaths.close_all(grants)
        plan.close()
        raise
    for row in net_rows:
        access = report.keep("net", row["access"])
        port = int(row["port"])
        if access:
            plan.ports.append(PortGrant(str(row["id"]), port, access))
        else:
            plan.skipped.append(
                hostpaths.Skip(str(row["id"]), f"port {port}", "TCP rules need Landlock ABI 4")
            )
    return plan


def _rows(table: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    rows = table.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"landlock.{key} must be a list of objects")
    return rows
