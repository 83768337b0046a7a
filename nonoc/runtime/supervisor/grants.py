"""What the sandbox was granted at launch, and what may never be granted, on this host.

The supervisor answers three questions about a real path (symlinks resolved):

* is the access already inside the initial grants? Then the kernel may simply continue:
  Landlock enforces the same rule table, so the answer cannot be abused even if the
  process rewrites the path after the supervisor read it;
* is it never grantable (a deny of the policy, which carries the mandatory credential and
  nono-self groups, or nono's own config, state and cache directories)? Then the answer
  is EPERM and nobody is asked;
* is it inside a *writable* grant (metadata changes) or a ``unix_socket`` grant?

The table is built from the bundle payload with the launcher's own planning code
(:func:`nonoc.launch.plan.build`), so "inside the grants" means exactly what the child's
Landlock ruleset allows on this host: the same variables, the same deny splitting, the
same rights masked to the running kernel. Landlock unions the rights of every rule on a
path's ancestors, and so does :meth:`GrantTable.rights_at`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nonoc import paths
from nonoc.runtime.supervisor.netrules import NetRules

READ_FILE, READ_DIR, WRITE_FILE = "READ_FILE", "READ_DIR", "WRITE_FILE"
TRUNCATE, MAKE_REG = "TRUNCATE", "MAKE_REG"


def nono_dirs(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """nono's own configuration, state and cache directories on this host (real paths)."""
    values = paths.host_variables(os.environ if environ is None else environ)
    found = []
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        if variable in values:
            found.append(os.path.realpath(os.path.join(values[variable], "nono")))
    return tuple(found)


def _ancestors(path: str) -> Iterable[str]:
    """``path`` and each directory above it, up to ``/``."""
    while True:
        yield path
        if path == "/":
            return
        cut = path.rfind("/")
        path = path[:cut] if cut > 0 else "/"


@dataclass
class GrantTable:
    """Rights by real path, denies, socket grants and the handled rights of this host's kernel."""

    trees: dict[str, frozenset[str]] = field(default_factory=dict)
    files: dict[str, frozenset[str]] = field(default_factory=dict)
    handled: frozenset[str] = frozenset({READ_FILE, READ_DIR, WRITE_FILE, TRUNCATE, MAKE_REG})
    denies: frozenset[str] = frozenset()
    sockets: frozenset[str] = frozenset()
    #: Landlock scopes abstract unix sockets to the sandbox (ABI 6+, and the policy keeps it).
    abstract_scoped: bool = True
    #: ``protect metadata``: metadata changes only inside writable grants.
    protect_metadata: bool = False
    #: The sandbox's TCP rules on this kernel (handled rights, ``(port, rights)`` rules).
    net: NetRules = field(default_factory=lambda: NetRules(()))

    def add_tree(self, path: str, rights: Iterable[str]) -> None:
        """Grant ``rights`` beneath directory ``path`` (unioned with what is there)."""
        self.trees[path] = self.trees.get(path, frozenset()) | frozenset(rights)

    def add_file(self, path: str, rights: Iterable[str]) -> None:
        """Grant ``rights`` on exactly the file ``path``."""
        self.files[path] = self.files.get(path, frozenset()) | frozenset(rights)

    def rights_at(self, path: str) -> frozenset[str]:
        """Every right the initial grants give at ``path`` (absolute, normalised)."""
        found = self.files.get(path, frozenset())
        trees = self.trees
        for place in _ancestors(path):
            rights = trees.get(place)
            if rights is not None:
                found = found | rights
        return found

    def allows(self, path: str, needed: Iterable[str]) -> bool:
        """Whether Landlock already allows every handled right of ``needed`` at ``path``."""
        wanted = frozenset(needed) & self.handled
        return wanted <= self.rights_at(path) if wanted else True

    def classify(self, path: str, needed: frozenset[str]) -> str | None:
        """``never_grantable``, ``granted`` (Landlock allows ``needed``), or ``None``: one pass."""
        denies, trees = self.denies, self.trees
        found = self.files.get(path, frozenset())
        for place in _ancestors(path):
            if place in denies:
                return "never_grantable"
            rights = trees.get(place)
            if rights is not None:
                found = found | rights
        wanted = needed & self.handled
        return "granted" if wanted <= found else None

    def never_grantable(self, path: str) -> str | None:
        """The denied path that covers ``path``, or ``None``."""
        denies = self.denies
        if not denies:
            return None
        for place in _ancestors(path):
            if place in denies:
                return place
        return None

    def writable(self, path: str) -> bool:
        """Whether ``path`` lies inside a grant that carries write access."""
        return WRITE_FILE in self.rights_at(path)

    def socket_granted(self, path: str) -> bool:
        """Whether a ``unix_socket`` grant names ``path`` or a directory above it."""
        return any(place in self.sockets for place in _ancestors(path))

    @classmethod
    def from_payload(
        cls,
        payload: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        extra_denies: Iterable[str] = (),
    ) -> GrantTable:
        """The table for a verified bundle payload on this host (see the module docstring).

        ``extra_denies`` are more real paths never to grant. Raises what the launcher's
        planning raises for a bundle that cannot run here.
        """
        from nonoc.launch import plan as planning

        linux = payload.get("linux") or {}
        landlock = linux.get("landlock") or {}
        launch = linux.get("launch") or {}
        provenance = (payload.get("provenance") or {}).get("linux") or {}
        plan = planning.build(landlock, provenance, environ=environ)
        try:
            table = cls(handled=frozenset(plan.report.handled_fs))
            for grant in plan.grants:
                if grant.is_dir:
                    table.add_tree(grant.path, grant.access)
                else:
                    table.add_file(grant.path, grant.access)
            denied = {place for deny in plan.denies for place in deny.paths}
            table.abstract_scoped = "ABSTRACT_UNIX_SOCKET" in plan.report.scopes
            ports = tuple((port.port, tuple(port.access)) for port in plan.ports)
            table.net = NetRules(tuple(plan.report.handled_net), ports)
        finally:
            plan.close()
        denied.update(nono_dirs(environ))
        denied.update(os.path.realpath(p) for p in extra_denies)
        table.denies = frozenset(denied)
        values = paths.host_variables(os.environ if environ is None else environ)
        sockets = set()
        for template in launch.get("unix_sockets") or ():
            try:
                sockets.add(os.path.realpath(paths.expand(str(template), values)))
            except paths.UnsetVariable:
                continue  # a socket grant whose variable is unset grants nothing
        table.sockets = frozenset(sockets)
        table.protect_metadata = bool(launch.get("protect_metadata"))
        return table
