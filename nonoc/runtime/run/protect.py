"""Make files read-only to the agent for one run: verified instruction files and their signatures.

The policy language has no "deny write" (a ``deny`` takes every right, reads included), and
the files to protect are known only at start-up, after ``nonoc.runtime.trust.enforce``
verified them in this working tree. So the run's private copy of the payload is changed on
this host, before the fork, the way the launcher keeps a deny inside a granted tree
(``nonoc.launch.denies``), but taking away only what reaches the file:

- a **file grant** on a protected file keeps only its reads (``READ``);
- a **tree grant** above a protected file is *split*. Landlock rights only add up down a
  tree: a right granted on a directory reaches every file beneath it, and a rule on the
  file cannot take it back. So the tree's own rule keeps only its reads (``READ``:
  reading and listing, executing), which is what the protected file and the directories
  on the way down to it get; and each entry *beside* the way gets the tree's full rights
  in a rule of its own (directories as trees, files with the rights a file can carry,
  symbolic links none: a link's target was never covered through it).

The cost is the same kind as a deny's split, smaller: the directories on the way down
(usually just the working directory's top) become read-only — nothing can be created,
deleted or renamed directly in them, while they can still be listed and read — and
everything that already existed beside the way keeps its rights (so ``src/`` and the other
files at the top stay writable). Taking away only the rights that reach the file
(``WRITE_FILE``, ``TRUNCATE``, ``REMOVE_FILE``) would leave files creatable there but not
writable, which fails later and leaves empty files behind; a read-only directory fails
cleanly. Hard links made from a protected file into a writable place are refused by
Landlock itself (a link may not gain rights), and a second name the file already had is
reported, since it is not covered.

Grants the launcher will drop or split for a deny compose with this: the launcher applies
its denies to the rewritten rules. Kernels without ``TRUNCATE`` (Landlock ABI < 3) cannot
stop ``truncate(2)`` on the file; that is said in a note.

On macOS the Seatbelt profile gets ``(deny file-write* (literal PATH))`` per file, after
every allow (untested here: no macOS host).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

#: What a protected file and the directories on the way down to it keep: reading.
READ = ("EXECUTE", "READ_FILE", "READ_DIR", "IOCTL_DEV")
#: How the rules this module adds are named in provenance (``nono why``, refusals).
LABEL = "read-only instruction files"


def protect(
    payload: dict[str, Any],
    files: Sequence[str | os.PathLike[str]],
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Make ``files`` read-only in ``payload`` (this run's private copy); return notes."""
    targets = sorted({os.path.realpath(os.fspath(f)) for f in files})
    if not targets:
        return []
    notes = [
        f"{path} has {links} names; only this one is protected"
        for path, links in ((p, _links(p)) for p in targets)
        if links > 1
    ]
    linux = payload.get("linux")
    if isinstance(linux, dict) and isinstance(linux.get("landlock"), dict):
        notes += _protect_landlock(payload, linux, targets, environ)
    macos = payload.get("macos")
    if isinstance(macos, dict) and isinstance(macos.get("seatbelt"), dict):
        _protect_seatbelt(macos, targets)
    return notes


def _links(path: str) -> int:
    try:
        return os.stat(path).st_nlink
    except OSError:
        return 1


def within(inner: str, outer: str) -> bool:
    """Whether real path ``inner`` is ``outer`` or lies beneath it (by component)."""
    return outer == "/" or inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _protect_landlock(
    payload: dict[str, Any],
    linux: dict[str, Any],
    targets: list[str],
    environ: Mapping[str, str] | None,
) -> list[str]:
    from nonoc.launch import rights
    from nonoc.paths import UnsetVariable, expand, host_variables

    table = dict(linux["landlock"])
    values = host_variables(os.environ if environ is None else environ)
    notes: list[str] = []
    if "TRUNCATE" not in (table.get("handled_fs") or ()):
        notes.append(
            "this bundle's Landlock rules do not handle TRUNCATE: truncate(2) is not stopped"
        )
    rules: list[dict[str, Any]] = []
    origins: dict[str, str] = {}
    for row in table.get("rules") or ():
        access = list(row.get("access") or ())
        if not set(access) - set(READ):
            rules.append(row)
            continue
        try:
            real = os.path.realpath(expand(str(row["path"]), values))
        except UnsetVariable:
            rules.append(row)  # the launcher skips or refuses it: nothing reaches the files
            continue
        inside = [t for t in targets if within(t, real)]
        if not inside:
            rules.append(row)
            continue
        kept = [a for a in access if a in READ]
        if not os.path.isdir(real):
            if kept:
                rules.append({**row, "access": kept})
            continue
        if kept:
            rules.append({**row, "access": kept})
        file_access = rights.file_valid(access)
        entries, unlisted = beside(real, inside)
        notes += [f"{d} cannot be listed; its entries keep only read rights" for d in unlisted]
        for index, (path, is_dir) in enumerate(entries):
            rule_id = f"{row['id']}-ro{index}"
            origins[rule_id] = str(row["id"])
            rules.append(
                {
                    "id": rule_id,
                    "path": path,
                    "kind": "tree" if is_dir else "file",
                    "access": access if is_dir else file_access,
                    "optional": True,
                }
            )
    table["rules"] = rules
    linux["landlock"] = table
    if origins:
        _add_provenance(payload, origins)
    return notes


def beside(root: str, targets: Iterable[str]) -> tuple[list[tuple[str, bool]], list[str]]:
    """Entries beside the ways from directory ``root`` down to ``targets`` (real paths).

    Returns ``(path, is_directory)`` for each entry that is neither on a way nor a target
    nor a symbolic link, and the directories on the way that could not be listed.
    """
    ways: dict[str, Any] = {}
    for target in targets:
        node = ways
        parts = [p for p in target[len(root.rstrip("/")) :].split("/") if p]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = None  # a protected file: no rule of its own
    found: list[tuple[str, bool]] = []
    unlisted: list[str] = []

    def visit(directory: str, node: dict[str, Any]) -> None:
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            unlisted.append(directory)  # fail closed: its entries keep only the reduced rights
            return
        for entry in entries:
            if entry.name in node:
                child = node[entry.name]
                if isinstance(child, dict) and entry.is_dir(follow_symlinks=False):
                    visit(entry.path, child)
                continue
            if entry.is_symlink():
                continue
            found.append((entry.path, entry.is_dir(follow_symlinks=False)))

    visit(root, ways)
    return found, unlisted


def _add_provenance(payload: dict[str, Any], origins: Mapping[str, str]) -> None:
    """Provenance of the added rules: their tree's own, with this step in the chain."""
    from nonoc.launch.verify import Deferred

    recorded = payload.get("provenance")

    def merged() -> dict[str, Any]:
        base = dict(recorded.items()) if recorded is not None else {}
        linux = dict(base.get("linux") or {})
        for rule_id, origin in origins.items():
            entry = dict(linux.get(origin) or {"file": "<nono run>", "line": 0, "column": 0})
            link = {"kind": "builtin", "name": LABEL, "file": "<nono run>", "line": 0}
            entry["chain"] = [*(entry.get("chain") or ()), link]
            linux[rule_id] = entry
        base["linux"] = linux
        return base

    payload["provenance"] = Deferred(merged)


def _protect_seatbelt(macos: dict[str, Any], targets: list[str]) -> None:
    """Append a write deny per file: Seatbelt lets the last matching rule decide."""
    section = dict(macos["seatbelt"])
    lines = [f'(deny file-write* (literal "{_sbpl_string(t)}"))' for t in targets]
    section["sbpl"] = (
        str(section.get("sbpl", "")).rstrip("\n") + "\n; " + LABEL + "\n" + "\n".join(lines) + "\n"
    )
    macos["seatbelt"] = section


def _sbpl_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
