"""Restore: make the trees match a snapshot again, exactly and without ever losing a file.

The order of work, and why:

1. **Safety snapshot.** The trees as they are now are snapshotted first (label
   ``pre-restore``), under the target snapshot's rules, so everything restore is about to
   overwrite or delete is in the store: a restore can itself be undone, and a restore
   interrupted at any point has lost nothing.
2. **Plan**: the difference between that safety snapshot and the target, limited to the
   requested paths. Every object the plan needs is re-hashed before the tree is touched:
   a damaged store stops the restore before it changes anything.
3. **Journal**: the plan's temporary names are written to ``journal/<id>.json``.
4. Removals (deepest first), new directories, then every file and symlink written to a
   temporary name beside its destination; one filesystem sync; then each temporary is
   renamed over its destination; then modes and times; then directory modes, deepest
   first (so a read-only directory is filled before it becomes read-only); a last sync.
5. The journal is deleted.

Rerunning an interrupted restore removes the temporaries its journal lists, takes another
safety snapshot (``pre-restore-resumed``) and computes the plan again from the trees as they
are: whatever was done is not redone, whatever was not is. Every path operation goes through
:class:`safefs.TreeHandle`, which never follows a symlink out of the tree. What the snapshot
left out (excluded, ignored, over the size limit, other filesystems) is never touched; a
directory that must go but still holds such content is kept and reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from nonoc.runtime.rollback.diff import within
from nonoc.runtime.rollback.fsio import atomic_write, sync_filesystem
from nonoc.runtime.rollback.manifest import Entry, sort_key
from nonoc.runtime.rollback.objects import CHUNK
from nonoc.runtime.rollback.plan import Plan, make_plan
from nonoc.runtime.rollback.progress import NoProgress, Progress
from nonoc.runtime.rollback.safefs import TreeHandle
from nonoc.runtime.rollback.snapshot import Snapshot

if TYPE_CHECKING:
    from nonoc.runtime.rollback.store import SnapshotStore

TEMP_PREFIX = ".nono-restore-"


@dataclass
class RestoreReport:
    """What a restore did (or, with ``dry_run``, would do)."""

    snapshot: str
    pre_restore: str | None = None
    resumed: bool = False
    dry_run: bool = False
    removed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Paths removed, created, written or updated."""
        return len(self.removed) + len(self.created) + len(self.written) + len(self.updated)


def restore(
    store: SnapshotStore,
    target: Snapshot,
    paths: Sequence[str] | None = None,
    *,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> RestoreReport:
    """Make ``target``'s trees (or only ``paths`` in them) match it; see the module doc."""
    from nonoc.runtime.rollback.store import RollbackError

    progress = progress or NoProgress()
    for path in paths or ():
        if not any(within(path, [root]) for root in target.roots):
            raise RollbackError(
                f"{path} is not inside the snapshot's trees",
                notes=tuple(f"tree: {r}" for r in target.roots),
            )
    report = RestoreReport(target.id, dry_run=dry_run)
    target_entries = store.entries(target)
    if dry_run:
        plan = make_plan(store.scan_current(target, progress=progress), target_entries, paths)
        _describe(plan, report)
        return report
    with store.lock(shared=True), _restore_lock(store):
        journal_dir = store.root / "journal"
        previous = _open_journals(store)
        resume = next((j for j in previous if j["snapshot"] == target.id), None)
        # A safety snapshot even when resuming: whatever changed since the interruption is
        # kept too. The undo point reported stays the first one, taken before any change.
        safety = store.take(
            target.roots,
            target.session,
            "pre-restore" if resume is None else "pre-restore-resumed",
            target.options,
            progress,
            ignore_source=store.ignore_source(target),
            rules_from=target.rules_from or target.id,
        )
        report.resumed = resume is not None
        report.pre_restore = str(resume.get("pre_restore") or safety.id) if resume else safety.id
        current = store.entries(safety)
        plan = make_plan(current, target_entries, paths)
        _check_objects(store, plan, progress)
        journal_id = secrets.token_hex(6)
        temporaries = [_temporary(e.path, journal_id, i) for i, e in enumerate(plan.writes)]
        journal = {
            "id": journal_id,
            "snapshot": target.id,
            "pre_restore": report.pre_restore,
            "roots": list(target.roots),
            "temporaries": temporaries,
        }
        journal_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            journal_dir / f"{journal_id}.json", json.dumps(journal, sort_keys=True).encode()
        )
        for old in previous:
            (journal_dir / f"{old['id']}.json").unlink(missing_ok=True)
        _execute(store, target, plan, temporaries, report, progress)
        (journal_dir / f"{journal_id}.json").unlink()
    return report


def pending_journals(store: SnapshotStore) -> list[dict[str, object]]:
    """Unfinished restores (their snapshots must survive cleanup)."""
    directory = store.root / "journal"
    if not directory.is_dir():
        return []
    found = []
    for item in sorted(directory.glob("*.json")):
        try:
            found.append(json.loads(item.read_bytes()))
        except (OSError, ValueError):
            continue
    return found


def _open_journals(store: SnapshotStore) -> list[dict[str, object]]:
    """Unfinished restores, after removing the temporaries they may have left."""
    journals = pending_journals(store)
    for journal in journals:
        roots = [str(r) for r in journal.get("roots", [])]  # type: ignore[attr-defined]
        for temporary in journal.get("temporaries", []):  # type: ignore[attr-defined]
            root = _root_of(str(temporary), roots)
            if root is None or not os.path.isdir(root):
                continue
            with TreeHandle(root) as tree:
                rel = _relative(str(temporary), root)
                try:
                    st = tree.lstat(rel)
                except OSError:
                    continue  # a directory on the way is now a symlink: nothing of ours there
                if st is not None and not stat.S_ISDIR(st.st_mode):
                    tree.unlink(rel)
    return journals


def _execute(
    store: SnapshotStore,
    target: Snapshot,
    plan: Plan,
    temporaries: list[str],
    report: RestoreReport,
    progress: Progress,
) -> None:
    progress.start("restore", plan.steps(), "ops")
    try:
        with ExitStack() as stack:
            trees = _TreeSet(target.roots, stack)
            _make_writable(trees, plan, report)
            for entry in plan.remove:
                _attempt(report, entry.path, partial(_remove, trees, entry, report))
                progress.advance()
            for entry in plan.mkdirs:
                _attempt(report, entry.path, partial(_mkdir, trees, entry, report))
                progress.advance()
            staged: list[tuple[Entry, str]] = []
            for entry, temporary in zip(plan.writes, temporaries, strict=True):
                if _attempt(report, entry.path, partial(_stage, store, trees, entry, temporary)):
                    staged.append((entry, temporary))
                progress.advance()
            if store.durable and staged:
                for root in target.roots:
                    sync_filesystem(root)
            for entry, temporary in staged:
                if _attempt(report, entry.path, partial(trees.rename, temporary, entry.path)):
                    report.written.append(entry.path)
                progress.advance()
            for entry in plan.meta:
                if _attempt(report, entry.path, partial(_set_meta, trees, entry)):
                    report.updated.append(entry.path)
                progress.advance()
            created = {e.path for e in plan.mkdirs}
            for entry in plan.dir_modes:
                done = _attempt(
                    report, entry.path, partial(trees.call, entry.path, "set_mode", entry.mode)
                )
                if done and entry.path not in created:
                    report.updated.append(entry.path)
                progress.advance()
            if store.durable:
                for root in target.roots:
                    if os.path.isdir(root):
                        sync_filesystem(root)
    finally:
        progress.finish()


class _TreeSet:
    """One :class:`TreeHandle` per root, opened on demand (a deleted root is recreated)."""

    def __init__(self, roots: Sequence[str], stack: ExitStack) -> None:
        self.roots = list(roots)
        self.stack = stack
        self.handles: dict[str, TreeHandle] = {}

    def locate(self, path: str) -> tuple[TreeHandle, str]:
        root = _root_of(path, self.roots)
        if root is None:
            raise OSError(22, "outside the snapshot's trees", path)
        if root not in self.handles:
            if not os.path.lexists(root):
                os.makedirs(root, mode=0o700)
            self.handles[root] = self.stack.enter_context(TreeHandle(root))
        return self.handles[root], _relative(path, root)

    def call(self, path: str, method: str, *args: object) -> object:
        tree, rel = self.locate(path)
        return getattr(tree, method)(rel, *args)

    def rename(self, src: str, dst: str) -> None:
        tree, src_rel = self.locate(src)
        _, dst_rel = self.locate(dst)
        tree.rename(src_rel, dst_rel)


def _attempt(report: RestoreReport, path: str, action: Callable[[], object]) -> bool:
    """Run one operation; a failure is reported and the restore goes on with the rest."""
    try:
        action()
    except OSError as exc:
        report.errors.append((path, exc.strerror or str(exc)))
        return False
    return True


def _remove(trees: _TreeSet, entry: Entry, report: RestoreReport) -> None:
    if entry.path in trees.roots:
        report.kept.append((entry.path, "a snapshot root is never removed"))
        return
    if entry.type == "dir":
        if trees.call(entry.path, "rmdir"):
            report.removed.append(entry.path)
        else:
            report.kept.append((entry.path, "holds content the snapshot left out"))
    else:
        trees.call(entry.path, "unlink")
        report.removed.append(entry.path)


def _mkdir(trees: _TreeSet, entry: Entry, report: RestoreReport) -> None:
    tree, rel = trees.locate(entry.path)
    if rel:
        st = tree.lstat(rel)
        if st is None:
            tree.mkdir(rel, entry.mode)
        elif not stat.S_ISDIR(st.st_mode):
            raise OSError(17, "something is in the way of this directory", entry.path)
    report.created.append(entry.path)


def _stage(store: SnapshotStore, trees: _TreeSet, entry: Entry, temporary: str) -> None:
    """Write ``entry``'s content under its temporary name, with its final mode and time."""
    tree, rel = trees.locate(temporary)
    if entry.type == "symlink":
        tree.symlink(rel, entry.target or "")
        return
    out = tree.create(rel)
    try:
        _copy_object(store, entry.sha256, out)
        os.fchmod(out, entry.mode)
        os.utime(out, ns=(entry.mtime_ns, entry.mtime_ns))
    finally:
        os.close(out)


def _copy_object(store: SnapshotStore, digest: str, out: int) -> None:
    from nonoc.runtime.rollback.store import RollbackError

    hasher = hashlib.sha256()
    source = store.objects.open(digest)
    try:
        while chunk := os.read(source, CHUNK):
            hasher.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
    finally:
        os.close(source)
    if hasher.hexdigest() != digest:
        raise RollbackError(f"object {digest} is damaged", notes=("run `nono rollback verify`",))


def _set_meta(trees: _TreeSet, entry: Entry) -> None:
    trees.call(entry.path, "set_mode", entry.mode)
    trees.call(entry.path, "set_mtime", entry.mtime_ns)


def _make_writable(trees: _TreeSet, plan: Plan, report: RestoreReport) -> None:
    """Give the owner write access to directories restore works in (their modes come back at the end).

    Without it a restore run by a normal user could not replace a file in a directory the
    agent made read-only. Directories that are not in the target are removed anyway.
    """
    parents = {os.path.dirname(e.path) for e in plan.remove + plan.mkdirs + plan.writes}
    for parent in sorted(parents, key=sort_key):
        try:
            tree, rel = trees.locate(parent)
            st = tree.lstat(rel)
        except OSError:
            continue
        if st is not None and stat.S_ISDIR(st.st_mode) and (st.st_mode & 0o300) != 0o300:
            _attempt(report, parent, partial(tree.set_mode, rel, (st.st_mode & 0o7777) | 0o700))


def _check_objects(store: SnapshotStore, plan: Plan, progress: Progress) -> None:
    """Re-hash every object the plan will copy; refuse to start if one is missing or damaged."""
    from nonoc.runtime.rollback.store import RollbackError

    files = [e for e in plan.writes if e.type == "file"]
    progress.start("checking objects", sum(e.size for e in files))
    try:
        for digest in sorted({e.sha256 for e in files}):
            try:
                actual, size = store.objects.rehash(digest)
            except FileNotFoundError:
                raise RollbackError(
                    f"object {digest} is missing from the store; nothing was restored"
                ) from None
            if actual != digest:
                raise RollbackError(
                    f"object {digest} is damaged; nothing was restored",
                    notes=("run `nono rollback verify` to see which snapshots it affects",),
                )
            progress.advance(size)
    finally:
        progress.finish()


def _describe(plan: Plan, report: RestoreReport) -> None:
    report.removed = [e.path for e in plan.remove]
    report.created = [e.path for e in plan.mkdirs]
    report.written = [e.path for e in plan.writes]
    created = set(report.created)
    report.updated = [e.path for e in plan.meta] + [
        e.path for e in plan.dir_modes if e.path not in created
    ]


@contextmanager
def _restore_lock(store: SnapshotStore) -> Iterator[None]:
    import fcntl

    directory = store.root / "journal"
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _temporary(path: str, journal_id: str, index: int) -> str:
    return os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}{journal_id}-{index}")


def _root_of(path: str, roots: Sequence[str]) -> str | None:
    for root in sorted(roots, key=len, reverse=True):
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return root
    return None


def _relative(path: str, root: str) -> str:
    return "" if path == root else path[len(root.rstrip("/")) + 1 :]
