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

from nonoc import paths
from nonoc.runtime.supervisor.netrules import NetRules

TYPE_CHECKING = False
if TYPE_CHECKING:  # built at a run's first mediated call, which waits: no typing at run time
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

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


def _ancestors(path: str) -> Iterator[str]:
    """``path`` and each directory above it, up to ``/``."""
    while True:
        yield path
        if path == "/":
            return
        cut = path.rfind("/")
        path = path[:cut] if cut > 0 else "/"


class GrantTable:
    """Rights by real path, denies, socket grants and the handled rights of this host's kernel."""

    __slots__ = (
        "abstract_scoped",
        "denies",
        "files",
        "handled",
        "net",
        "protect_metadata",
        "sockets",
        "trees",
    )

    def __init__(
        self,
        trees: dict[str, frozenset[str]] | None = None,
        files: dict[str, frozenset[str]] | None = None,
        handled: frozenset[str] = frozenset({READ_FILE, READ_DIR, WRITE_FILE, TRUNCATE, MAKE_REG}),
        denies: frozenset[str] = frozenset(),
        sockets: frozenset[str] = frozenset(),
        abstract_scoped: bool = True,
        protect_metadata: bool = False,
        net: NetRules | None = None,
    ) -> None:
        self.trees: dict[str, frozenset[str]] = {} if trees is None else trees
        self.files: dict[str, frozenset[str]] = {} if files is None else files
        self.handled, self.denies, self.sockets = handled, denies, sockets
        #: Landlock scopes abstract unix sockets to the sandbox (ABI 6+, and the policy keeps it).
        self.abstract_scoped = abstract_scoped
        #: ``protect metadata``: metadata changes only inside writable grants.
        self.protect_metadata = protect_metadata
        #: The sandbox's TCP rules on this kernel (handled rights, ``(port, rights)`` rules).
        self.net = NetRules(()) if net is None else net

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"GrantTable({fields})"

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
        table._finish(payload, denied, environ, extra_denies)
        return table

    @classmethod
    def from_record(
        cls,
        record: bytes,
        payload: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        extra_denies: Iterable[str] = (),
    ) -> GrantTable:
        """The table from what the sandboxed child reported of the ruleset it applied.

        ``record`` is ``nonoc.runtime.supervisor.hook.plan_record``'s: the launcher's plan
        as the child built it, so the parent does not walk the host again (the deny
        splitting alone opens every entry of a split tree) and holds exactly the rules the
        kernel holds. ``payload`` gives what the plan does not: socket grants, ``protect
        metadata``.
        """
        lines = record.decode("utf-8", "surrogateescape").split("\0")
        if len(lines) < 3:
            raise ValueError("the sandboxed child's ruleset record is incomplete")
        handled_fs, handled_net, scopes = (line.split() for line in lines[:3])
        table = cls(handled=frozenset(handled_fs))
        denied: set[str] = set()
        ports: list[tuple[int, tuple[str, ...]]] = []
        for line in lines[3:]:
            kind, _, rest = line.partition(" ")
            if kind in ("d", "f"):
                access, _, path = rest.partition(" ")
                rights = access.split(",") if access else []
                if kind == "d":
                    table.add_tree(path, rights)
                else:
                    table.add_file(path, rights)
            elif kind == "x":
                denied.add(rest)
            elif kind == "p":
                port, _, access = rest.partition(" ")
                ports.append((int(port), tuple(access.split(",")) if access else ()))
            else:
                raise ValueError(f"unknown line in the ruleset record: {line[:40]!r}")
        table.abstract_scoped = "ABSTRACT_UNIX_SOCKET" in scopes
        table.net = NetRules(tuple(handled_net), tuple(ports))
        table._finish(payload, denied, environ, extra_denies)
        return table

    def _finish(
        self,
        payload: Mapping[str, Any],
        denied: set[str],
        environ: Mapping[str, str] | None,
        extra_denies: Iterable[str],
    ) -> None:
        """Denies (the plan's, nono's own directories, ``extra_denies``), sockets, metadata."""
        table = self
        launch = (payload.get("linux") or {}).get("launch") or {}
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
