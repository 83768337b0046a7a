"""``nono rollback``: list, show, diff, restore, verify and clean up snapshots.

Argument parsing and printing only; the work is in :mod:`nonoc.runtime.rollback`.
Snapshot ids may be abbreviated to a unique prefix, or given as ``latest`` (for ``restore``:
the newest snapshot taken before a run, so that ``restore latest`` undoes the last run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from nonoc.errors import UsageError

if TYPE_CHECKING:
    from nonoc.runtime.rollback import Snapshot, SnapshotStore, TreeDiff

HELP = "List, inspect, verify, restore and clean up rollback snapshots."
DEFAULT_KEEP = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``rollback`` subcommands."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    p = sub.add_parser("list", help="list snapshots, oldest first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("show", help="a snapshot's details and what its session changed")
    p.add_argument("id", help="snapshot id, unique prefix, or 'latest'")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser(
        "diff", help="what changed since the snapshot (a file's text diff with PATH)"
    )
    p.add_argument("id", help="snapshot id, unique prefix, or 'latest'")
    p.add_argument(
        "path", nargs="?", help="limit to this path; a changed file shows its content diff"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("restore", help="make the trees (or PATHS) match the snapshot again")
    p.add_argument("id", help="snapshot id, unique prefix, or 'latest'")
    p.add_argument("paths", nargs="*", metavar="PATH", help="restore only these paths")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p = sub.add_parser("verify", help="re-hash a snapshot's objects and recompute its Merkle root")
    p.add_argument("id", help="snapshot id, unique prefix, or 'latest'")
    p = sub.add_parser("cleanup", help="drop old snapshots by count and size, then unused objects")
    p.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help=f"keep the N newest snapshots (default {DEFAULT_KEEP})",
    )
    p.add_argument(
        "--max-size",
        metavar="SIZE",
        help="then drop the oldest until the store fits (e.g. 2G, 500M)",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would be removed")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; return the exit code."""
    from nonoc.runtime.rollback import SnapshotStore

    store = SnapshotStore()
    action = getattr(args, "action", None)
    if action is None:
        raise UsageError(
            "nono rollback needs an action: list, show, diff, restore, verify or cleanup"
        )
    handler = {
        "list": _list,
        "show": _show,
        "diff": _diff,
        "restore": _restore,
        "verify": _verify,
        "cleanup": _cleanup,
    }[action]
    return handler(store, args)


def _list(store: SnapshotStore, args: argparse.Namespace) -> int:
    snapshots = store.list()
    if args.json:
        print(json.dumps([s.to_json() for s in snapshots], indent=2, sort_keys=True))
        return 0
    if not snapshots:
        print("no snapshots")
        return 0
    print(
        f"{'ID':<22}  {'CREATED (UTC)':<19}  {'LABEL':<11}  {'FILES':>7}  {'SIZE':>10}  SESSION / TREES"
    )
    for s in snapshots:
        created = s.created[:19].replace("T", " ")
        trees = ", ".join(s.roots)
        session = f"{s.session}  " if s.session else ""
        print(
            f"{s.id:<22}  {created:<19}  {s.label:<11}  {s.files:>7}  "
            f"{format_size(s.total_bytes):>10}  {session}{trees}"
        )
    return 0


def _show(store: SnapshotStore, args: argparse.Namespace) -> int:
    snap = store.get(args.id)
    base, newer = _session_pair(store, snap)
    diff = store.diff(base, newer) if base and newer else None
    if args.json:
        data: dict[str, Any] = {"snapshot": snap.to_json()}
        if diff is not None and base and newer:
            data["changes"] = {
                "from": base.id,
                "to": newer.id,
                "changes": [c.to_json() for c in diff.changes],
            }
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    print(f"snapshot  {snap.id}" + (f"  ({snap.label})" if snap.label else ""))
    if snap.session:
        print(f"session   {snap.session}")
    print(f"created   {snap.created}")
    for i, root in enumerate(snap.roots):
        print(f"{'trees' if i == 0 else '':<9} {root}")
    print(
        f"contents  {snap.files} files ({format_size(snap.total_bytes)}), "
        f"{snap.dirs} directories, {snap.symlinks} symlinks"
    )
    print(f"merkle    {snap.merkle_root}")
    _print_left_out(snap)
    if diff is None or base is None or newer is None:
        print("\nno other snapshot of these trees to compare with")
        return 0
    print(f"\nchanges from {base.id} ({base.label or '-'}) to {newer.id} ({newer.label or '-'}):")
    _print_changes(diff, snap.roots)
    return 0


def _diff(store: SnapshotStore, args: argparse.Namespace) -> int:
    snap = store.get(args.id)
    paths = [args.path] if args.path else None
    diff = store.diff_current(snap, paths)
    if args.json:
        print(json.dumps([c.to_json() for c in diff.changes], indent=2, sort_keys=True))
        return 0
    if args.path and len(diff.changes) == 1 and diff.changes[0].kind == "modified":
        change = diff.changes[0]
        if change.old and change.new and change.old.type == change.new.type == "file":
            _print_content_diff(store, change.old.sha256, change.path)
            return 0
    print(f"changes since {snap.id}:")
    _print_changes(diff, snap.roots)
    return 0


def _restore_target(store: SnapshotStore, ref: str) -> Snapshot:
    """The snapshot to restore. ``latest`` means "undo the last run": the newest snapshot
    taken *before* a run, since restoring the newest one (taken after it) changes nothing."""
    if ref == "latest":
        before = [s for s in store.list() if s.label == "before"]
        if before:
            return before[-1]
    return store.get(ref)


def _restore(store: SnapshotStore, args: argparse.Namespace) -> int:
    from nonoc.runtime.rollback import ProgressBar

    snap = _restore_target(store, args.id)
    paths = args.paths or None
    preview = store.restore(snap, paths, dry_run=True)
    if not preview.changed:
        print(f"nothing to restore: the trees already match {snap.id}")
        return 0
    print(f"restoring {snap.id} will:")
    for verb, items in (
        ("remove", preview.removed),
        ("create", preview.created),
        ("write", preview.written),
        ("reset mode/time of", preview.updated),
    ):
        if items:
            print(
                f"  {verb} {len(items)}: "
                + ", ".join(_short(p, snap.roots) for p in items[:8])
                + (" …" if len(items) > 8 else "")
            )
    if args.dry_run:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "restore changes files: confirm with --yes (standard input is not a terminal)"
            )
        answer = input("proceed? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing restored")
            return 1
    report = store.restore(snap, paths, progress=ProgressBar())
    print(
        f"restored {snap.id}: {len(report.written)} written, {len(report.removed)} removed, "
        f"{len(report.created)} directories created, {len(report.updated)} modes/times reset"
    )
    if report.resumed:
        print("  (completed an interrupted restore)")
    if report.pre_restore:
        print(
            f"  the trees as they were are in snapshot {report.pre_restore}: "
            f"`nono rollback restore {report.pre_restore}` undoes this restore"
        )
    for path, why in report.kept:
        print(f"  kept {_short(path, snap.roots)}: {why}")
    for path, why in report.errors:
        print(f"error: {path}: {why}", file=sys.stderr)
    return 1 if report.errors else 0


def _verify(store: SnapshotStore, args: argparse.Namespace) -> int:
    from nonoc.runtime.rollback import ProgressBar

    snap = store.get(args.id)
    report = store.verify(snap, ProgressBar())
    if report.ok:
        print(
            f"snapshot {snap.id}: OK ({report.objects_checked} objects, "
            f"{format_size(report.bytes_checked)} re-hashed; Merkle root {report.merkle_computed})"
        )
        return 0
    for problem in report.problems:
        print(f"snapshot {snap.id}: {problem}", file=sys.stderr)
    print(
        f"snapshot {snap.id}: FAILED verification ({len(report.problems)} problems)",
        file=sys.stderr,
    )
    return 1


def _cleanup(store: SnapshotStore, args: argparse.Namespace) -> int:
    keep = args.keep
    max_bytes = parse_size(args.max_size) if args.max_size else None
    if keep is None and max_bytes is None:
        keep = DEFAULT_KEEP
    if keep is not None and keep < 0:
        raise UsageError("--keep must be 0 or more")
    report = store.cleanup(keep=keep, max_bytes=max_bytes, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {len(report.removed)} snapshots and {report.objects_removed} objects "
        f"({format_size(report.bytes_freed)}); kept {len(report.kept)} snapshots ({format_size(report.bytes_kept)})"
    )
    for snap_id in report.removed:
        print(f"  {snap_id}")
    return 0


def _session_pair(store: SnapshotStore, snap: Snapshot) -> tuple[Snapshot | None, Snapshot | None]:
    """The two snapshots whose difference ``show`` reports for ``snap``."""
    siblings = [
        s for s in store.session_snapshots(snap.session) if not s.label.startswith("pre-restore")
    ]
    if snap in siblings and len(siblings) > 1:
        index = siblings.index(snap)
        return (
            (snap, siblings[index + 1])
            if index + 1 < len(siblings)
            else (siblings[index - 1], snap)
        )
    if snap.parent:
        try:
            return store.get(snap.parent), snap
        except Exception:  # the parent may have been cleaned up
            return None, None
    return None, None


def _print_left_out(snap: Snapshot) -> None:
    for i, item in enumerate(snap.excluded):
        size = f", {format_size(item.size)}" if item.size is not None else ""
        print(f"{'left out' if i == 0 else '':<9} {item.path} ({item.reason}{size})")
    if snap.ignored:
        print(f"{'ignored':<9} {snap.ignored} paths (.gitignore or --rollback-exclude)")


def _print_changes(diff: TreeDiff, roots: tuple[str, ...]) -> None:
    if not diff:
        print("  no changes")
        return
    marks = {"added": "+", "modified": "~", "deleted": "-"}
    for change in diff.changes:
        entry = change.new or change.old
        assert entry is not None
        name = _short(change.path, roots) + ("/" if entry.type == "dir" else "")
        if entry.type == "symlink":
            name += f" -> {entry.target}"
        if change.kind == "added":
            detail = format_size(change.new_size or 0) if entry.type == "file" else entry.type
        elif change.kind == "deleted":
            detail = format_size(change.old_size or 0) if entry.type == "file" else entry.type
        else:
            detail = _modification(change)
        print(f"  {marks[change.kind]} {name:<50} {detail}")
    print(f"  {len(diff.added)} added, {len(diff.modified)} modified, {len(diff.deleted)} deleted")


def _modification(change: Any) -> str:
    old, new = change.old, change.new
    parts = []
    if "type" in change.what:
        parts.append(f"{old.type} -> {new.type}")
    if "content" in change.what:
        parts.append(f"{format_size(old.size)} -> {format_size(new.size)}")
    if "target" in change.what:
        parts.append(f"target was {old.target}")
    if "mode" in change.what:
        parts.append(f"mode {old.mode:o} -> {new.mode:o}")
    return ", ".join(parts)


def _print_content_diff(store: SnapshotStore, digest: str, path: str) -> None:
    import difflib

    old = store.objects.read_bytes(digest)
    try:
        with open(path, "rb") as f:
            new = f.read()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}")
        return
    if b"\0" in old[:8192] or b"\0" in new[:8192]:
        print(f"binary file {path} differs ({format_size(len(old))} -> {format_size(len(new))})")
        return
    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(keepends=True),
        new.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"{path} (snapshot)",
        tofile=f"{path} (now)",
    )
    sys.stdout.writelines(lines)


def _short(path: str, roots: tuple[str, ...]) -> str:
    """A path relative to its root when there is only one root."""
    if len(roots) == 1:
        root = roots[0]
        if path == root:
            return "."
        if path.startswith(root.rstrip("/") + "/"):
            return os.path.relpath(path, root)
    return path


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``500M``, ``2G``, ``1.5GiB``, ``4096``: a size in bytes (K, M, G, T are powers of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"not a size: '{text}' (examples: 500M, 2G, 1.5GiB, 4096)")
    power = "kmgt".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * (1024**power))


def format_size(amount: int) -> str:
    """A byte count for people: ``812 B``, ``3.4 KiB``, ``12.0 MiB``."""
    value = float(amount)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
