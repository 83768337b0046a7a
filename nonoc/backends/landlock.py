"""Lower a policy to a Landlock rule table: paths × rights, TCP ports, scopes, compat settings.

The table keeps path *templates* (``$HOME/.ssh``): the launcher expands them, resolves
symlinks and handles denies on the host that runs the bundle, because only there is it
known where ``$HOME`` is and what lies inside a granted tree. What can be decided here is:

* which rights each policy access means, for the target ABI (``rights.json``'s ``access``
  table; a rule on a single file carries only file-valid rights);
* which rights the ruleset handles: every fs right the target ABI knows, so that anything
  not granted (device nodes, symlink creation, …) is denied;
* TCP: with network ``blocked`` or ``proxy`` the ruleset handles BIND/CONNECT and only the
  listed ports are allowed;
* conflicts visible without the host: a grant equal to or inside a deny (dropped, deny
  wins, with a warning) and a deny inside a granted tree (refused here under
  ``deny_inside_allow refuse``; split by the launcher otherwise);
* rule ids: ``g3`` is ``policy.grants[3]``, ``d0`` a deny, ``p1`` a port, the convention of
  ``nonoc.bundle.payload`` whose ``provenance`` map the launcher reads to name rules. The
  resolver sorts rules canonically, so two spellings of one policy get the same ids.
"""

from __future__ import annotations

from typing import Any

from nonoc import paths
from nonoc.backends.host import LATEST_LANDLOCK_ABI, HostFacts
from nonoc.bundle.payload import rule_id
from nonoc.errors import Diagnostic, NonoError, Span
from nonoc.ir import (
    Access,
    NetworkMode,
    PathDeny,
    PathGrant,
    PathKind,
    Policy,
    Provenance,
)
from nonoc.launch import rights

NAME = "landlock"
TARGETS: frozenset[str] = frozenset({"linux"})

#: The ABI that brought TCP port rules and the one that brought scopes.
NET_ABI = 4
SCOPE_ABI = 6

# Codes of this backend's diagnostics: stable names that tools (``nonoc check``) key on,
# whatever the wording of the message.
#: A deny inside a granted tree: a note (split by the launcher) or, under refuse, an error.
DENY_INSIDE_ALLOW = "deny-inside-allow"
#: A grant equal to or inside a deny: dropped, with a warning.
DENY_COVERS_GRANT = "deny-covers-grant"
#: Port rules while the network is open: they change nothing.
PORTS_IGNORED = "landlock-ports-ignored"
#: The target ABI cannot restrict TCP: the network mode is left to seccomp.
NETWORK_UNENFORCED = "landlock-network-unenforced"
#: The target ABI has no scopes: they are not enforced.
SCOPES_UNENFORCED = "landlock-scopes-unenforced"


def lower(policy: Policy, host: HostFacts) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Compile ``policy`` into the Landlock rule table for ``host.landlock_abi``.

    Returns the table (JSON-able, deterministic) and warnings/notes. Raises ``NonoError``
    when the target ABI is impossible, the profile's ABI pin is newer than the target, or a
    deny lies inside a granted tree under ``deny_inside_allow refuse``.
    """
    abi = host.landlock_abi
    if not 1 <= abi <= LATEST_LANDLOCK_ABI:
        raise NonoError(f"Landlock ABI {abi} is not one nonoc knows (1 to {LATEST_LANDLOCK_ABI})")
    min_abi = policy.min_abi or 1
    if min_abi > abi:
        raise NonoError(
            f"profile {policy.name!r} is pinned to Landlock ABI {min_abi} (`abi {min_abi}`), "
            f"but the target ABI is {abi}",
            notes=(f"compile for ABI {min_abi} or newer, or lower the profile's `abi` pin",),
        )
    diagnostics: list[Diagnostic] = []
    handled_fs = rights.names_at("fs", abi)
    grants = list(policy.grants)
    denies = list(policy.denies)
    grant_ids = {id(g): rule_id("g", i) for i, g in enumerate(grants)}
    deny_ids = {id(d): rule_id("d", i) for i, d in enumerate(denies)}
    rules = []
    for grant in grants:
        rules.append(
            {
                "id": grant_ids[id(grant)],
                "path": grant.path,
                "kind": grant.kind.value,
                "access": _fs_rights(grant.access, grant.kind, handled_fs),
                "optional": grant.optional,
            }
        )
    deny_rows = []
    for deny in denies:
        deny_rows.append({"id": deny_ids[id(deny)], "path": deny.path, "kind": deny.kind.value})

    diagnostics.extend(_conflicts(policy, grants, denies, grant_ids, deny_ids))
    handled_net, net_rows, net_diagnostics = _network(policy, abi)
    diagnostics.extend(net_diagnostics)
    scopes, scope_diagnostics = _scopes(policy, abi)
    diagnostics.extend(scope_diagnostics)

    table: dict[str, Any] = {
        "abi": abi,
        "min_abi": min_abi,
        "compat": policy.compat.value,
        "deny_strategy": policy.deny_strategy.value,
        "handled_fs": handled_fs,
        "handled_net": handled_net,
        "scopes": scopes,
        "rules": rules,
        "denies": deny_rows,
        "net": net_rows,
    }
    return table, diagnostics


def _fs_rights(access: frozenset[Access], kind: PathKind, handled: list[str]) -> list[str]:
    """The Landlock rights for ``access`` on a tree or a file, limited to the target ABI."""
    names: set[str] = set()
    for item in access:
        names.update(rights.lowering(item.value, kind.value))
    names &= set(handled)
    if kind is PathKind.FILE:
        # The kernel refuses (EINVAL) directory-only rights on a rule for a single file.
        return rights.file_valid(names)
    return rights.ordered("fs", names)


def _network(policy: Policy, abi: int) -> tuple[list[str], list[dict[str, Any]], list[Diagnostic]]:
    """Handled net rights and port rules for the policy's network mode."""
    network = policy.network
    diagnostics: list[Diagnostic] = []
    ports = list(network.ports)
    if network.mode is NetworkMode.OPEN:
        if ports:
            diagnostics.append(
                Diagnostic(
                    "warning",
                    "port rules have no effect while the network is open",
                    _span(ports[0].provenance),
                    notes=(
                        "add `network block` (or `network proxy`) to restrict TCP "
                        "to the listed ports",
                    ),
                    code=PORTS_IGNORED,
                )
            )
        return [], [], diagnostics
    if abi < NET_ABI:
        diagnostics.append(
            Diagnostic(
                "warning",
                f"Landlock ABI {abi} cannot restrict TCP (ABI {NET_ABI} can); "
                f"network mode {network.mode.value!r} is left to the seccomp filter",
                _span(network.provenance) if network.provenance else None,
                code=NETWORK_UNENFORCED,
            )
        )
        return [], [], diagnostics
    rows = []
    for index, port in enumerate(ports):
        access = "CONNECT_TCP" if port.direction == "connect" else "BIND_TCP"
        rows.append({"id": rule_id("p", index), "port": port.port, "access": [access]})
    return rights.names_at("net", abi), rows, diagnostics


def _scopes(policy: Policy, abi: int) -> tuple[list[str], list[Diagnostic]]:
    """Scope names the table asks for (ABI 6 and later)."""
    wanted = []
    if policy.scopes.abstract_unix_socket:
        wanted.append("ABSTRACT_UNIX_SOCKET")
    if policy.scopes.signal:
        wanted.append("SIGNAL")
    if abi >= SCOPE_ABI:
        return rights.ordered("scope", wanted), []
    if not wanted:
        return [], []
    note = Diagnostic(
        "note",
        f"Landlock scopes ({', '.join(wanted)}) need ABI {SCOPE_ABI}; "
        f"they are not enforced for target ABI {abi}",
        code=SCOPES_UNENFORCED,
    )
    return [], [note]


def _conflicts(
    policy: Policy,
    grants: list[PathGrant],
    denies: list[PathDeny],
    grant_ids: dict[int, str],
    deny_ids: dict[int, str],
) -> list[Diagnostic]:
    """Deny-versus-grant conflicts visible from the templates alone (the launcher sees the rest)."""
    diagnostics: list[Diagnostic] = []
    for deny in denies:
        deny_id = deny_ids[id(deny)]
        for grant in grants:
            grant_id = grant_ids[id(grant)]
            if paths.is_within(grant.path, deny.path):
                diagnostics.append(
                    Diagnostic(
                        "warning",
                        f"{grant_id}: grant of {grant.path} is "
                        + (
                            "the denied path"
                            if grant.path == deny.path
                            else f"inside denied {deny.path}"
                        )
                        + "; the deny wins and the grant is dropped",
                        _span(grant.provenance),
                        notes=(f"{deny_id}: denied at {deny.provenance.location()}",),
                        code=DENY_COVERS_GRANT,
                        related=(_span(deny.provenance),),
                    )
                )
            elif grant.kind is PathKind.TREE and paths.is_within(deny.path, grant.path):
                where = f"{deny_id}: deny of {deny.path} lies inside granted tree {grant.path}"
                if policy.deny_strategy.value == "refuse":
                    raise NonoError(
                        f"{where} ({grant_id}); Landlock cannot deny inside an allowed tree",
                        _span(deny.provenance),
                        notes=(
                            f"{grant_id}: granted at {grant.provenance.location()}",
                            "with `deny_inside_allow split` the launcher grants the tree's other "
                            "entries one by one instead",
                        ),
                        code=DENY_INSIDE_ALLOW,
                        related=(_span(grant.provenance),),
                    )
                diagnostics.append(
                    Diagnostic(
                        "note",
                        f"{where} ({grant_id}); the launcher will grant the tree's other entries "
                        "one by one around it (deny_inside_allow split)",
                        _span(deny.provenance),
                        notes=(
                            f"{grant_id}: granted at {grant.provenance.location()}",
                            "new entries cannot be created directly in the directories on the way",
                        ),
                        code=DENY_INSIDE_ALLOW,
                        related=(_span(grant.provenance),),
                    )
                )
    return diagnostics


def _span(provenance: Provenance) -> Span:
    return Span(provenance.file, provenance.line, provenance.column)
