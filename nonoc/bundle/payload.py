"""The bundle payload (``nono-bundle/1``): manifest, per-target artifacts, provenance.

The payload is what gets signed. It holds nothing that changes between two compiles of
the same inputs (no time, no user, no absolute path of the machine that compiled it) so
that the same inputs give the same bytes. The format is described in ``docs/bundles.md``.

Rule ids tie artifact entries to their provenance, so that ``nono why`` can go from a
kernel rule back to the line that asked for it: one letter per kind (``RULE_ID_PREFIXES``)
and a number (``rule_id``). The base table numbers rules by their position in the IR
(``g3`` is ``policy.grants[3]``); a backend that numbers them its own way (the Landlock
table sorts by content) ships its own ``provenance`` map, which wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nonoc import __version__
from nonoc.launch.verify import FORMAT
from nonoc.runtime.envhygiene import STRIP

if TYPE_CHECKING:
    from nonoc.errors import Diagnostic
    from nonoc.ir import PathDeny, PathGrant, Policy, Provenance, UnixSocketGrant

#: Which ``Policy`` field each rule-id letter indexes.
RULE_ID_PREFIXES: dict[str, str] = {
    "g": "grants",
    "d": "denies",
    "p": "network.ports",
    "h": "network.proxy_hosts",
    "c": "network.credential_routes",
    "s": "syscalls",
    "u": "unix_sockets",
    "a": "assertions",
}

COMPILER = f"nonoc {__version__}"


@dataclass
class TargetBuild:
    """What was compiled for one target: the policy, each backend's artifact, the warnings."""

    policy: Policy
    artifacts: dict[str, dict[str, Any]]
    landlock_abi: int
    warnings: list[Diagnostic] = field(default_factory=list)


def rule_id(prefix: str, index: int) -> str:
    """The id of the ``index``-th rule of the kind ``prefix`` (see ``RULE_ID_PREFIXES``)."""
    return f"{prefix}{index}"


def build_payload(builds: Mapping[str, TargetBuild]) -> dict[str, Any]:
    """Assemble the payload for every compiled target (``"linux"``, ``"macos"``)."""
    if not builds:
        raise ValueError("a bundle needs at least one target")
    targets = sorted(builds)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "manifest": _manifest(builds, targets),
        "provenance": {target: _target_provenance(builds[target]) for target in targets},
    }
    for target in targets:
        section = dict(builds[target].artifacts)
        section.setdefault("launch", launch_settings(builds[target].policy))
        payload[target] = section
    return payload


def _target_provenance(build: TargetBuild) -> dict[str, dict[str, Any]]:
    """The IR's provenance table, with each artifact's own map laid over it.

    A backend that numbers its rules its own way (the Landlock table sorts them by
    content) ships a ``provenance`` map for its ids; those entries win.
    """
    table = provenance_table(build.policy)
    for artifact in build.artifacts.values():
        own = artifact.get("provenance") if isinstance(artifact, Mapping) else None
        if isinstance(own, Mapping):
            table.update(own)
    return dict(sorted(table.items()))


def _manifest(builds: Mapping[str, TargetBuild], targets: list[str]) -> dict[str, Any]:
    policies = [builds[target].policy for target in targets]
    names = {policy.name for policy in policies}
    if len(names) != 1:
        raise ValueError(f"targets disagree on the profile name: {sorted(names)}")
    sources: dict[str, str] = {}
    for policy in policies:
        for name, digest in policy.sources:
            if sources.setdefault(name, digest) != digest:
                # The file changed between two targets' loads: the bundle would mix versions.
                raise ValueError(f"source {name} changed while compiling")
    manifest: dict[str, Any] = {
        "compiler": COMPILER,
        "profile": policies[0].name,
        "targets": targets,
        "arch": bundle_arch(builds),
        "sources": sources,
        "variables": sorted(set().union(*(policy_variables(p) for p in policies))),
    }
    linux = builds.get("linux")
    assumptions: dict[str, Any] = {"compat": policies[0].compat.value}
    if linux is not None:
        assumptions["landlock_abi"] = linux.landlock_abi
        assumptions["min_abi"] = linux.policy.min_abi or 1
        assumptions["compat"] = linux.policy.compat.value
    manifest["assumptions"] = assumptions
    return manifest


def bundle_arch(builds: Mapping[str, TargetBuild]) -> str:
    """The manifest's ``arch``: the one architecture artifacts name, or ``any`` if none does.

    An artifact that depends on the CPU (a seccomp program) says so with an ``arch`` key;
    a Landlock table or an SBPL profile does not, and runs on any architecture.
    """
    arches = {
        str(artifact["arch"])
        for build in builds.values()
        for artifact in build.artifacts.values()
        if isinstance(artifact, Mapping) and "arch" in artifact
    }
    if len(arches) > 1:
        raise ValueError(f"artifacts disagree on the architecture: {sorted(arches)}")
    return arches.pop() if arches else "any"


def policy_variables(policy: Policy) -> set[str]:
    """The path variables (``HOME``, ``CWD``…) the launcher must resolve for ``policy``."""
    from nonoc.paths import variables

    rules: tuple[PathGrant | PathDeny | UnixSocketGrant, ...] = (
        *policy.grants,
        *policy.denies,
        *policy.unix_sockets,
    )
    paths = [rule.path for rule in rules]
    found: set[str] = set()
    for path in paths:
        found |= variables(path)
    return found


def provenance_table(policy: Policy) -> dict[str, dict[str, Any]]:
    """Rule id -> where the rule was written and the chain of profiles and groups behind it."""
    network = policy.network
    kinds: dict[str, tuple[Any, ...]] = {
        "g": policy.grants,
        "d": policy.denies,
        "p": network.ports,
        "h": network.proxy_hosts,
        "c": network.credential_routes,
        "s": policy.syscalls,
        "u": policy.unix_sockets,
        "a": policy.assertions,
    }
    table: dict[str, dict[str, Any]] = {}
    for prefix, rules in kinds.items():
        for index, rule in enumerate(rules):
            table[rule_id(prefix, index)] = provenance_entry(rule.provenance)
    if network.provenance is not None:
        table["network"] = provenance_entry(network.provenance)
    return table


def provenance_entry(provenance: Provenance) -> dict[str, Any]:
    """One provenance record as plain JSON."""
    return {
        "file": provenance.file,
        "line": provenance.line,
        "column": provenance.column,
        "chain": [
            {"kind": link.kind, "name": link.name, "file": link.file, "line": link.line}
            for link in provenance.chain
        ],
    }


def launch_settings(policy: Policy) -> dict[str, Any]:
    """What the launcher does besides the kernel artifacts: environment, commands, network mode.

    A backend named ``launch`` may provide this section instead; until then it is built here
    from the IR. ``env_strip`` is the environment hygiene list (``nonoc.runtime.envhygiene``:
    loader and interpreter variables that make a program run code it never asked for), so
    that ``nono exec`` of a compiled bundle removes them as ``nono run`` does; the launcher
    applies it, sparing the profile's ``env keep`` names. ``credential_routes`` appears only
    when the policy defines some.
    """
    network = policy.network
    settings: dict[str, Any] = {
        "env_strip": sorted(STRIP),
        "env_keep": sorted(policy.env.keep),
        "env_set": {name: value for name, value in sorted(policy.env.set)},
        "blocked_commands": sorted(policy.blocked_commands),
        "allowed_commands": sorted(policy.allowed_commands),
        "network": network.mode.value,
        "proxy_hosts": sorted(host.pattern for host in network.proxy_hosts),
        "unix_sockets": sorted(socket.path for socket in policy.unix_sockets),
        "protect_metadata": policy.protect_metadata,
        "rollback": policy.rollback,
    }
    if network.credential_routes:
        # Only when there are some, so bundles without routes keep their shape (and digest).
        # A route names its secret (``secret_ref``); the secret is read by ``nono run``.
        settings["credential_routes"] = [
            {
                "id": rule_id("c", index),
                "name": route.name,
                "upstream": route.upstream,
                "header": route.header,
                "value_format": route.value_format,
                "secret_ref": route.secret_ref,
            }
            for index, route in enumerate(network.credential_routes)
        ]
    return settings
