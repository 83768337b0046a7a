"""Which trees ``nono run``'s rollback snapshots: the user's writable trees on this host.

A snapshot root is a tree grant of the bundle's Landlock table that

- carries a right that changes the tree (``WRITABLE``: write, truncate, create, remove,
  rename);
- was written by the profile or a flag, not by a group of the shipped standard library
  (its provenance's file is not ``stdlib/…``): those grant the system's scratch places
  (``/tmp``, ``/dev/shm``, the terminal), the tools' caches and the agents' own state
  (``~/.npm``, ``~/.claude``), which are not the user's work and would make every snapshot
  slow and every restore surprising;
- exists on this host as a directory, once its variables are expanded and its symlinks
  resolved;
- is not a scratch or pseudo filesystem place (``/tmp``, ``/var/tmp``, ``$TMPDIR``
  themselves, anything under ``/dev``, ``/proc``, ``/sys``, ``/run``) nor inside nono's own
  directories (``$XDG_{STATE,CONFIG,CACHE}_HOME/nono``).

Single-file grants (``--allow-file``) are not snapshot roots. Each tree left out for
another reason than its origin is named in a note, so that ``nono run`` can say why it
snapshots less than the user may think.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

#: Landlock rights that change a tree: a grant holding one of them is "writable".
WRITABLE = frozenset(
    {
        "WRITE_FILE",
        "TRUNCATE",
        "REMOVE_DIR",
        "REMOVE_FILE",
        "MAKE_CHAR",
        "MAKE_DIR",
        "MAKE_REG",
        "MAKE_SOCK",
        "MAKE_FIFO",
        "MAKE_BLOCK",
        "MAKE_SYM",
        "REFER",
    }
)
#: Places whose whole tree is system scratch or a pseudo filesystem.
PSEUDO = ("/dev", "/proc", "/sys", "/run")
SCRATCH = ("/tmp", "/var/tmp")


def within(inner: str, outer: str) -> bool:
    """Whether real path ``inner`` is ``outer`` or lies beneath it (by component)."""
    return outer == "/" or inner == outer or inner.startswith(outer.rstrip("/") + "/")


def snapshot_roots(
    payload: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """The snapshot roots for ``payload`` on this host, and notes on trees left out."""
    from nonoc.paths import UnsetVariable, expand, host_variables
    from nonoc.runtime.rollback.store import nono_dirs

    linux = payload.get("linux")
    table = linux.get("landlock") if isinstance(linux, dict) else None
    if not isinstance(table, dict):
        return [], ["rollback: the bundle has no Linux rule table to find writable trees in"]
    provenance = _linux_provenance(payload)
    values = host_variables(os.environ if environ is None else environ)
    own = [os.path.realpath(d) for d in nono_dirs()]
    scratch = {os.path.realpath(p) for p in (*SCRATCH, values.get("TMPDIR", "/tmp"))}
    roots: list[str] = []
    notes: list[str] = []
    for row in table.get("rules") or ():
        if row.get("kind", "tree") != "tree" or not WRITABLE & set(row.get("access") or ()):
            continue
        origin = provenance.get(str(row.get("id")))
        if isinstance(origin, dict) and str(origin.get("file", "")).startswith("stdlib/"):
            continue
        template = str(row.get("path"))
        try:
            real = os.path.realpath(expand(template, values))
        except UnsetVariable:
            continue
        if not os.path.isdir(real):
            continue
        if real in scratch or any(within(real, p) for p in PSEUDO):
            notes.append(
                f"rollback: {real} is scratch space or a pseudo filesystem; not snapshotted"
            )
        elif any(within(real, d) for d in own):
            notes.append(f"rollback: {real} is nono's own directory; not snapshotted")
        elif real not in roots:
            roots.append(real)
    return roots, notes


def _linux_provenance(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """Rule id -> provenance of the Linux rules (decoded now if it was deferred)."""
    recorded = payload.get("provenance")
    section = recorded.get("linux") if recorded is not None else None
    return section if isinstance(section, dict) else {}
