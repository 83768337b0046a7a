"""The snapshot store: take, list, find, compare snapshots; entry point of restore and cleanup.

Layout under the store's root (``$XDG_STATE_HOME/nono/rollback`` by default)::

    objects/ab/cdef…       content, named by SHA-256 (see objects.py)
    snapshots/<id>/        manifest.json, summary.json (see snapshot.py)
    journal/<id>.json      an unfinished restore (see restore.py)
    lock                   flock: snapshots and restores share it, cleanup takes it alone

A snapshot is incremental: a file whose size, mtime, ctime, inode and device match the
previous snapshot of the same tree keeps its hash without being read. ctime is compared
too because a process can set mtime back with ``utimes`` but cannot set ctime, so an
agent cannot make a change invisible to the next snapshot. A file changed within
``RACY_NS`` of the previous snapshot's start is hashed again regardless, since its
timestamps cannot tell a later write from the one that was recorded.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nonoc.errors import NonoError
from nonoc.runtime.rollback.diff import TreeDiff, diff_entries
from nonoc.runtime.rollback.manifest import Entry, merkle_root
from nonoc.runtime.rollback.objects import ObjectStore, hash_file
from nonoc.runtime.rollback.progress import NoProgress, Progress
from nonoc.runtime.rollback.rules import RollbackOptions
from nonoc.runtime.rollback.scan import Exclusion, IgnoreSource, TreeScanner
from nonoc.runtime.rollback.snapshot import (
    Snapshot,
    new_snapshot_id,
    read_manifest,
    read_manifest_rows,
    read_summary,
    write_snapshot,
)

if TYPE_CHECKING:
    from nonoc.runtime.rollback.restore import RestoreReport
    from nonoc.runtime.rollback.retention import CleanupReport
    from nonoc.runtime.rollback.verify import VerifyReport

RACY_NS = 100_000_000
HASH_THREADS = 4


class RollbackError(NonoError):
    """A rollback request that cannot be carried out (unknown snapshot, damaged store…)."""


def default_root() -> Path:
    """``$XDG_STATE_HOME/nono/rollback`` (``~/.local/state/nono/rollback`` when unset)."""
    from nonoc.runtime.config import state_dir

    return Path(state_dir()) / "rollback"


def nono_dirs() -> tuple[str, ...]:
    """nono's own state, config and cache directories (``$XDG_*_HOME/nono``)."""
    home = os.path.expanduser("~")
    return tuple(
        os.path.join(os.environ.get(name) or os.path.join(home, *default), "nono")
        for name, default in (
            ("XDG_STATE_HOME", (".local", "state")),
            ("XDG_CONFIG_HOME", (".config",)),
            ("XDG_CACHE_HOME", (".cache",)),
        )
    )


def normalize_roots(roots: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Absolute, symlink-free roots, without duplicates or roots nested in another."""
    resolved = sorted({os.path.realpath(os.fspath(r)) for r in roots})
    kept: list[str] = []
    for root in resolved:
        if not any(root == k or root.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(root)
    return tuple(kept)


class SnapshotStore:
    """Snapshots of directory trees, stored under ``root``."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, durable: bool = True) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.objects = ObjectStore(self.root / "objects")
        self.durable = durable
        # The store itself and nono's own directories (state with the audit trail, config
        # with the trusted keys and local secret, cache with compiled bundles) are never
        # part of a snapshot, even when a snapshot root contains them (``--allow ~``), so
        # restore never rewrites them either.
        self.never = frozenset(
            {os.path.realpath(self.root), *(os.path.realpath(p) for p in nono_dirs())}
        )

    # -- taking snapshots -------------------------------------------------------------

    def snapshot(
        self,
        roots: Sequence[str | os.PathLike[str]],
        session_id: str = "",
        label: str = "",
        *,
        options: RollbackOptions | None = None,
        progress: Progress | None = None,
    ) -> Snapshot:
        """Record the trees under ``roots``; return the stored snapshot."""
        with self.lock(shared=True):
            return self.take(
                normalize_roots(roots), session_id, label, options or RollbackOptions(), progress
            )

    def take(
        self,
        roots: tuple[str, ...],
        session_id: str,
        label: str,
        options: RollbackOptions,
        progress: Progress | None,
        *,
        ignore_source: IgnoreSource | None = None,
        rules_from: str | None = None,
    ) -> Snapshot:
        """Take a snapshot with the lock already held (restore uses this directly)."""
        snap_id = new_snapshot_id()
        started_ns = time.time_ns()
        began = time.perf_counter()
        scan = TreeScanner(options, ignore_source, self.never).scan(roots)
        parent = self.latest_covering(roots)
        entries, excluded, hashed = self.hash_entries(
            scan.entries, parent, store=True, progress=progress or NoProgress()
        )
        snapshot = Snapshot(
            id=snap_id,
            session=session_id,
            label=label,
            created=datetime.fromtimestamp(started_ns / 1e9, UTC).isoformat(
                timespec="microseconds"
            ),
            started_ns=started_ns,
            roots=roots,
            merkle_root=merkle_root(entries, presorted=True),
            files=sum(e.type == "file" for e in entries),
            dirs=sum(e.type == "dir" for e in entries),
            symlinks=sum(e.type == "symlink" for e in entries),
            total_bytes=sum(e.size for e in entries if e.type == "file"),
            options=options,
            excluded=tuple(scan.excluded + excluded),
            ignored=scan.ignored,
            parent=parent.id if parent else None,
            rules_from=rules_from or snap_id,
            hashed_files=hashed[0],
            hashed_bytes=hashed[1],
        )
        snapshot.duration_ms = int((time.perf_counter() - began) * 1000)
        write_snapshot(self.root / "snapshots" / snap_id, snapshot, entries, durable=self.durable)
        return snapshot

    def hash_entries(
        self,
        entries: list[Entry],
        parent: Snapshot | None,
        *,
        store: bool,
        progress: Progress,
    ) -> tuple[list[Entry], list[Exclusion], tuple[int, int]]:
        """Fill in file hashes, reusing ``parent``'s where the stat fields prove them current.

        Returns the entries still present, files that could not be read, and
        (files hashed, bytes hashed). With ``store`` the content goes into the object store.
        """
        cache = self._stat_cache(parent) if parent else {}
        fresh_before = (parent.started_ns - RACY_NS) if parent else 0
        pending: list[Entry] = []
        for entry in entries:
            if entry.type != "file":
                continue
            old = cache.get(entry.path)
            if (
                old is not None
                and old[0] == (entry.size, entry.mtime_ns, entry.ctime_ns, entry.ino, entry.dev)
                and entry.ctime_ns < fresh_before
            ):
                # The object is not looked up: the parent is a complete snapshot, so it
                # exists unless the store was damaged, which verify reports and restore
                # refuses before touching anything.
                entry.sha256 = old[1]
            else:
                pending.append(entry)
        gone: set[str] = set()
        excluded: list[Exclusion] = []
        hashed_bytes = 0
        read = self.objects.put_file if store else hash_file

        def work(entry: Entry) -> tuple[Entry, tuple[str, int] | OSError]:
            try:
                return entry, read(entry.path)
            except OSError as exc:
                return entry, exc

        progress.start("snapshot", sum(e.size for e in pending))
        # A few threads overlap the waits on open/create/write (hashlib and os.read/write
        # release the GIL); on a disk with slow metadata this is most of a snapshot's time.
        pool = ThreadPoolExecutor(max_workers=HASH_THREADS) if len(pending) > 16 else None
        try:
            results = pool.map(work, pending) if pool else map(work, pending)
            for entry, outcome in results:
                if isinstance(outcome, OSError):
                    # Deleted meanwhile, became a symlink (ELOOP), or unreadable.
                    gone.add(entry.path)
                    if not isinstance(outcome, FileNotFoundError):
                        excluded.append(Exclusion(entry.path, f"unreadable ({outcome.strerror})"))
                    continue
                digest, size = outcome
                if size != entry.size:
                    entry.ctime_ns = 0  # changed while read: never trust these stat fields
                entry.sha256, entry.size = digest, size
                hashed_bytes += size
                progress.advance(size)
        finally:
            if pool:
                pool.shutdown()
            progress.finish()
        kept = [e for e in entries if e.path not in gone] if gone else entries
        return kept, excluded, (len(pending) - len(gone), hashed_bytes)

    def _stat_cache(
        self, parent: Snapshot
    ) -> dict[str, tuple[tuple[int, int, int, int, int], str]]:
        """path -> ((size, mtime, ctime, inode, device), hash) for the parent's files."""
        _, rows = read_manifest_rows(self.root / "snapshots" / parent.id)
        # Rows follow manifest.FIELDS: path, type, mode, size, sha256, target, mtime, ctime, ino, dev.
        return {r[0]: ((r[3], r[6], r[7], r[8], r[9]), r[4]) for r in rows if r[1] == "file"}

    # -- finding snapshots ------------------------------------------------------------

    def list(self) -> list[Snapshot]:
        """Every complete snapshot, oldest first."""
        directory = self.root / "snapshots"
        if not directory.is_dir():
            return []
        found = []
        for item in directory.iterdir():
            if (item / "summary.json").is_file():
                found.append(read_summary(item))
        found.sort(key=lambda s: (s.started_ns, s.id))
        return found

    def get(self, ref: str) -> Snapshot:
        """A snapshot by id, unique id prefix, or ``latest``."""
        snapshots = self.list()
        if ref == "latest":
            if not snapshots:
                raise RollbackError("there are no snapshots")
            return snapshots[-1]
        matches = [s for s in snapshots if s.id == ref] or [
            s for s in snapshots if s.id.startswith(ref)
        ]
        if not matches:
            raise RollbackError(f"no snapshot '{ref}'", notes=("`nono rollback list` shows them",))
        if len(matches) > 1:
            ids = ", ".join(s.id for s in matches[:5])
            raise RollbackError(f"'{ref}' names several snapshots: {ids}")
        return matches[0]

    def entries(self, snapshot: Snapshot | str) -> dict[str, Entry]:
        """A snapshot's entries by path."""
        snap = self.get(snapshot) if isinstance(snapshot, str) else snapshot
        _, entries = read_manifest(self.root / "snapshots" / snap.id)
        return {e.path: e for e in entries}

    def latest_covering(self, roots: Sequence[str]) -> Snapshot | None:
        """The newest snapshot that shares a root with ``roots`` (the incremental base)."""
        wanted = set(roots)
        for snap in reversed(self.list()):
            if wanted & set(snap.roots):
                return snap
        return None

    def session_snapshots(self, session_id: str) -> builtins.list[Snapshot]:  # `list` is the method
        """The snapshots taken for one session, oldest first."""
        return [s for s in self.list() if session_id and s.session == session_id]

    # -- comparing ------------------------------------------------------------------

    def diff(
        self, a: Snapshot | str, b: Snapshot | str, paths: Sequence[str] | None = None
    ) -> TreeDiff:
        """What changed from snapshot ``a`` to snapshot ``b`` (optionally under ``paths``)."""
        older = self.get(a) if isinstance(a, str) else a
        newer = self.get(b) if isinstance(b, str) else b
        roots = older.roots + newer.roots
        return diff_entries(self.entries(older), self.entries(newer), _absolute(paths, roots))

    def diff_current(
        self, snapshot: Snapshot | str, paths: Sequence[str] | None = None
    ) -> TreeDiff:
        """What changed from ``snapshot`` to the trees as they are now (nothing is stored)."""
        snap = self.get(snapshot) if isinstance(snapshot, str) else snapshot
        current = self.scan_current(snap, progress=NoProgress())
        return diff_entries(self.entries(snap), current, _absolute(paths, snap.roots))

    def scan_current(self, snapshot: Snapshot, *, progress: Progress) -> dict[str, Entry]:
        """The trees of ``snapshot`` as they are now, scanned under the snapshot's rules."""
        source = self.ignore_source(snapshot)
        scan = TreeScanner(snapshot.options, source, self.never).scan(snapshot.roots)
        parent = self.latest_covering(snapshot.roots)
        entries, _, _ = self.hash_entries(scan.entries, parent, store=False, progress=progress)
        return {e.path: e for e in entries}

    def ignore_source(self, snapshot: Snapshot) -> IgnoreSource:
        """``.gitignore`` text as recorded in the snapshot whose rules ``snapshot`` follows."""
        rules = snapshot
        if snapshot.rules_from not in (None, snapshot.id):
            try:
                rules = self.get(snapshot.rules_from or "")
            except RollbackError:
                pass  # removed by cleanup: the snapshot's own .gitignore files are the next best
        recorded = self.entries(rules)

        def source(directory: str) -> bytes | None:
            entry = recorded.get(os.path.join(directory, ".gitignore"))
            if entry is None or entry.type != "file":
                return None
            return self.objects.read_bytes(entry.sha256)

        return source

    # -- the rest -------------------------------------------------------------------

    def restore(
        self,
        snapshot: Snapshot | str,
        paths: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
        dry_run: bool = False,
    ) -> RestoreReport:
        """Make the trees match ``snapshot`` again, or only ``paths`` in them.

        A ``pre-restore`` snapshot of the trees is taken first, so a restore can be undone;
        an interrupted restore completes when run again. See :mod:`restore`.
        """
        from nonoc.runtime.rollback.restore import restore

        snap = self.get(snapshot) if isinstance(snapshot, str) else snapshot
        return restore(self, snap, _absolute(paths, snap.roots), progress=progress, dry_run=dry_run)

    def verify(self, snapshot: Snapshot | str, progress: Progress | None = None) -> VerifyReport:
        """Re-hash every object and recompute the Merkle root (see :mod:`verify`)."""
        from nonoc.runtime.rollback.verify import verify_snapshot

        snap = self.get(snapshot) if isinstance(snapshot, str) else snapshot
        return verify_snapshot(self, snap, progress or NoProgress())

    def cleanup(
        self, keep: int | None = None, max_bytes: int | None = None, *, dry_run: bool = False
    ) -> CleanupReport:
        """Drop old snapshots by count and size, then unreferenced objects (see :mod:`retention`)."""
        from nonoc.runtime.rollback.retention import cleanup

        return cleanup(self, keep=keep, max_bytes=max_bytes, dry_run=dry_run)

    @contextmanager
    def lock(self, *, shared: bool) -> Iterator[None]:
        """Hold the store's lock: shared for snapshots and restores, exclusive for cleanup."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _absolute(paths: Sequence[str] | None, roots: Sequence[str]) -> list[str] | None:
    """User paths as absolute paths inside ``roots``.

    A path that is lexically inside a root is taken as written: resolving it could follow
    a symlink the agent planted inside the tree. Otherwise (a symlinked working
    directory, say) the real path of its parent is used.
    """
    if paths is None:
        return None
    out = []
    for p in paths:
        absolute = os.path.normpath(os.path.abspath(p))
        if not any(absolute == r or absolute.startswith(r.rstrip("/") + "/") for r in roots):
            parent, name = os.path.split(absolute)
            absolute = (
                os.path.join(os.path.realpath(parent), name) if name else os.path.realpath(absolute)
            )
        out.append(absolute)
    return out
