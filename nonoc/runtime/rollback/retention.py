"""Cleanup: keep the newest snapshots by count and by size, then drop unreferenced objects.

``keep`` keeps the N newest snapshots. ``max_bytes`` then drops the oldest of those
until the distinct objects they reference fit (the newest snapshot is always kept).
Snapshots an unfinished restore depends on (its target and its safety snapshot) are
never dropped. Objects no remaining snapshot references are deleted, as are half-written
objects and snapshot directories without a summary. The store's lock is held alone, so
no snapshot is being written meanwhile.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nonoc.runtime.rollback.restore import pending_journals
from nonoc.runtime.rollback.snapshot import Snapshot

if TYPE_CHECKING:
    from nonoc.runtime.rollback.store import SnapshotStore


@dataclass
class CleanupReport:
    """What cleanup removed (or, with ``dry_run``, would remove)."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    objects_removed: int = 0
    bytes_freed: int = 0
    bytes_kept: int = 0
    dry_run: bool = False


def cleanup(
    store: SnapshotStore, *, keep: int | None, max_bytes: int | None, dry_run: bool = False
) -> CleanupReport:
    """Apply the retention rules; see the module doc."""
    report = CleanupReport(dry_run=dry_run)
    with store.lock(shared=False):
        snapshots = store.list()
        protected: set[str] = set()
        for journal in pending_journals(store):
            protected.update(
                str(journal.get(k)) for k in ("snapshot", "pre_restore") if journal.get(k)
            )
        newest_first = list(reversed(snapshots))
        kept = newest_first if keep is None else newest_first[: max(keep, 0)]
        kept += [s for s in newest_first if s.id in protected and s not in kept]
        sizes: dict[str, dict[str, int]] = {s.id: _objects_of(store, s) for s in snapshots}
        if max_bytes is not None:
            while len(kept) > 1 and _size(kept, sizes) > max_bytes:
                droppable = [s for s in kept[1:] if s.id not in protected]
                if not droppable:
                    break
                kept.remove(min(droppable, key=lambda s: (s.started_ns, s.id)))
        kept_ids = {s.id for s in kept}
        report.kept = [s.id for s in snapshots if s.id in kept_ids]
        report.removed = [s.id for s in snapshots if s.id not in kept_ids]
        referenced: set[str] = set()
        for snap in kept:
            referenced.update(sizes[snap.id])
        report.bytes_kept = _size(kept, sizes)
        if not dry_run:
            for snap_id in report.removed:
                shutil.rmtree(store.root / "snapshots" / snap_id)
            _remove_incomplete(store)
            store.objects.clear_temporaries()
        for digest in list(store.objects.digests()):
            if digest in referenced:
                continue
            report.objects_removed += 1
            report.bytes_freed += store.objects.size(digest)
            if not dry_run:
                store.objects.delete(digest)
    return report


def _objects_of(store: SnapshotStore, snapshot: Snapshot) -> dict[str, int]:
    return {e.sha256: e.size for e in store.entries(snapshot).values() if e.type == "file"}


def _size(kept: list[Snapshot], sizes: dict[str, dict[str, int]]) -> int:
    union: dict[str, int] = {}
    for snap in kept:
        union.update(sizes[snap.id])
    return sum(union.values())


def _remove_incomplete(store: SnapshotStore) -> None:
    directory = store.root / "snapshots"
    if not directory.is_dir():
        return
    for item in os.scandir(directory):
        if item.is_dir(follow_symlinks=False) and not os.path.exists(
            os.path.join(item.path, "summary.json")
        ):
            shutil.rmtree(item.path)
