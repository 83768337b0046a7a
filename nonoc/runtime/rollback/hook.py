"""Rollback as a ``nono run`` hook (``nonoc.runtime.run.session.Hook``'s shape).

``before_spawn`` snapshots the writable roots (label ``before``), ``after_exit`` snapshots
them again (``after``), records both Merkle roots in the audit trail when an
:class:`~nonoc.runtime.audit.hook.AuditHook` is given, and tells the user on standard error
what changed and how to undo it. A failed "before" snapshot stops the run (raising
``NonoError``): running an agent the user expects to be able to undo, without the undo,
would be a silent hole.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from nonoc.errors import NonoError
from nonoc.runtime.rollback.progress import ProgressBar
from nonoc.runtime.rollback.rules import RollbackOptions
from nonoc.runtime.rollback.snapshot import Snapshot
from nonoc.runtime.rollback.store import SnapshotStore


class RollbackHook:
    """Snapshots before and after the child; see the module doc."""

    def __init__(
        self,
        roots: Sequence[str | os.PathLike[str]],
        *,
        store: SnapshotStore | None = None,
        options: RollbackOptions | None = None,
        audit: Any = None,
        stream: TextIO | None = None,
    ) -> None:
        self.roots = list(roots)
        self.store = store or SnapshotStore()
        self.options = options or RollbackOptions()
        self.audit = audit
        self.stream = stream if stream is not None else sys.stderr
        self.before: Snapshot | None = None
        self.after: Snapshot | None = None

    def before_spawn(self, launch: Any) -> None:
        """Take the ``before`` snapshot."""
        try:
            self.before = self._take(launch, "before")
        except OSError as exc:
            raise NonoError(
                f"cannot snapshot the writable trees for rollback: {exc}",
                notes=("use --no-rollback to run without it",),
            ) from None
        if self.before.excluded:
            left_out = ", ".join(os.path.basename(x.path) for x in self.before.excluded[:6])
            more = " …" if len(self.before.excluded) > 6 else ""
            self.stream.write(
                f"nono: rollback: left out {left_out}{more} (see `nono rollback show {self.before.id}`)\n"
            )

    def after_spawn(self, launch: Any) -> None:
        """Nothing to do while the child runs."""

    def after_exit(self, launch: Any, exit_code: int) -> None:
        """Take the ``after`` snapshot and say what changed."""
        if self.before is None:
            return
        self.after = self._take(launch, "after")
        diff = self.store.diff(self.before, self.after)
        if diff:
            self.stream.write(
                f"nono: rollback: {len(diff.added)} added, {len(diff.modified)} modified, "
                f"{len(diff.deleted)} deleted; undo with `nono rollback restore {self.before.id}`\n"
            )

    def _take(self, launch: Any, label: str) -> Snapshot:
        snapshot = self.store.snapshot(
            self.roots,
            launch.session_id or "",
            label,
            options=self.options,
            progress=ProgressBar(self.stream),
        )
        if self.audit is not None:
            self.audit.record(
                "snapshot",
                snapshot_id=snapshot.id,
                label=label,
                merkle_root=snapshot.merkle_root,
                files=snapshot.files,
                bytes=snapshot.total_bytes,
                roots=list(snapshot.roots),
            )
        return snapshot
