"""Rollback: snapshots of the trees an agent may write, and an exact, crash-safe restore.

API for ``nono run`` (and anything else that wants an undo)::

    from nonoc.runtime.rollback import SnapshotStore, RollbackOptions, ProgressBar

    store = SnapshotStore()                      # $XDG_STATE_HOME/nono/rollback
    options = RollbackOptions(include=include_patterns(args.rollback_include, roots),
                              exclude=tuple(args.rollback_exclude))
    before = store.snapshot(writable_roots, session_id, "before", options=options,
                            progress=ProgressBar())
    ...                                          # the sandboxed command runs
    after = store.snapshot(writable_roots, session_id, "after", options=options)
    changes = store.diff(before, after)          # TreeDiff: .added .modified .deleted
    audit.record("snapshot", snapshot_id=after.id, label="after",
                 merkle_root=after.merkle_root, files=after.files)
    store.restore(before.id)                     # undo; or store.restore(id, paths=[...])
    store.verify(before.id).ok                   # objects re-hashed, Merkle root recomputed
    store.cleanup(keep=20, max_bytes=5 << 30)    # retention

As ``nono run`` hooks (``before_spawn``/``after_spawn``/``after_exit``)::

    audit = AuditHook(policy_digest=digest)      # from nonoc.runtime.audit.hook; first
    rollback = RollbackHook(writable_roots, options=options, audit=audit)
    run_child(launch, hooks=[audit, rollback])

``Snapshot`` (summary fields: ``id``, ``session``, ``label``, ``roots``, ``merkle_root``,
``files``, ``total_bytes``, ``excluded``…) is what ``snapshot``/``get``/``list`` return;
``store.entries(snapshot)`` loads its per-path entries. Errors the user can act on are
:class:`RollbackError` (a ``NonoError``).

**The store must be out of the agent's reach.** ``nono run`` must add a deny of
``$XDG_STATE_HOME/nono`` (rollback objects, snapshots, and the audit trail beside them) to
the policy it compiles, even when a grant would cover it (say ``--allow ~``): an agent
that can write the store can rewrite history and what restore brings back.

Modules: ``objects`` (content-addressed store), ``gitignore`` (pattern matcher), ``rules``
(what is left out), ``scan`` (the walk), ``manifest`` (entries, Merkle root), ``snapshot``
(on-disk form), ``store`` (the API), ``diff``, ``restore`` (+ ``plan``, ``safefs``), ``verify``,
``retention`` (cleanup), ``progress``, ``fsio`` (durable writes), ``hook`` (for ``nono run``).
"""

from __future__ import annotations

from nonoc.runtime.rollback.diff import Change, TreeDiff
from nonoc.runtime.rollback.hook import RollbackHook
from nonoc.runtime.rollback.manifest import Entry
from nonoc.runtime.rollback.progress import NoProgress, Progress, ProgressBar
from nonoc.runtime.rollback.rules import RollbackOptions, include_patterns
from nonoc.runtime.rollback.scan import Exclusion
from nonoc.runtime.rollback.snapshot import Snapshot
from nonoc.runtime.rollback.store import RollbackError, SnapshotStore, default_root

__all__ = [
    "Change",
    "Entry",
    "Exclusion",
    "NoProgress",
    "Progress",
    "ProgressBar",
    "RollbackError",
    "RollbackHook",
    "RollbackOptions",
    "Snapshot",
    "SnapshotStore",
    "TreeDiff",
    "default_root",
    "include_patterns",
]
