"""Verify a snapshot: every object it needs is present and hashes to its name, every
symlink's recorded hash matches its target, and the Merkle root recomputed from the
manifest's entries is the one the snapshot recorded (in its manifest and its summary).

The Merkle root is also what ``nono run`` writes into the audit trail, whose hash chain
protects it: a manifest rewritten together with its recorded root still disagrees with
the audit record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nonoc.runtime.rollback.manifest import merkle_root, symlink_digest
from nonoc.runtime.rollback.progress import Progress
from nonoc.runtime.rollback.snapshot import Snapshot, read_manifest

if TYPE_CHECKING:
    from nonoc.runtime.rollback.store import SnapshotStore


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_snapshot`."""

    snapshot: str
    merkle_recorded: str
    merkle_computed: str = ""
    objects_checked: int = 0
    bytes_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def verify_snapshot(store: SnapshotStore, snapshot: Snapshot, progress: Progress) -> VerifyReport:
    """Check ``snapshot`` against its objects and its recorded Merkle root."""
    report = VerifyReport(snapshot.id, snapshot.merkle_root)
    try:
        recorded, entries = read_manifest(store.root / "snapshots" / snapshot.id)
    except (OSError, ValueError, KeyError) as exc:
        report.problems.append(f"manifest unreadable: {exc}")
        return report
    if recorded.merkle_root != snapshot.merkle_root:
        report.problems.append(
            f"manifest records Merkle root {recorded.merkle_root}, summary {snapshot.merkle_root}"
        )
    report.merkle_computed = merkle_root(entries)
    if report.merkle_computed != snapshot.merkle_root:
        report.problems.append(
            f"Merkle root of the entries is {report.merkle_computed}, recorded {snapshot.merkle_root}"
        )
    users: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for entry in entries:
        if entry.type == "file":
            users.setdefault(entry.sha256, []).append(entry.path)
            sizes[entry.sha256] = entry.size
        elif entry.type == "symlink" and symlink_digest(entry.target or "") != entry.sha256:
            report.problems.append(f"{entry.path}: symlink target does not match its recorded hash")
    progress.start("verify", sum(sizes.values()))
    try:
        for digest in sorted(users):
            paths = users[digest]
            where = paths[0] + (f" (and {len(paths) - 1} more)" if len(paths) > 1 else "")
            try:
                actual, size = store.objects.rehash(digest)
            except FileNotFoundError:
                report.problems.append(f"{where}: object {digest} is missing")
                continue
            report.objects_checked += 1
            report.bytes_checked += size
            if actual != digest:
                report.problems.append(
                    f"{where}: object {digest} is corrupted (its content hashes to {actual})"
                )
            elif size != sizes[digest]:
                report.problems.append(
                    f"{where}: object {digest} has {size} bytes, manifest says {sizes[digest]}"
                )
            progress.advance(size)
    finally:
        progress.finish()
    return report
