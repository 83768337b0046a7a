"""The audit trail as a ``nono run`` hook (``nonoc.runtime.run.session.Hook``'s shape).

Install it first among the hooks: ``before_spawn`` opens the session (so later hooks can
record into ``hook.session``) and, hooks being closed in reverse order, ``after_exit``
closes it last, after the rollback hook has recorded its "after" snapshot::

    audit = AuditHook(policy_digest=digest, profile=name, landlock_abi=abi, signing_key=key)
    rollback = RollbackHook(roots, audit=audit)
    proxy = ProxyHook(..., on_event=audit.network_event)        # ProxyEvent sink
    supervisor = SupervisorHook(..., audit=audit)      # or on_event=audit.supervisor_event
    run_child(launch, hooks=[audit, rollback, proxy, supervisor])

The sinks may be handed out before the session opens: events arriving before it opens or
after it closes are dropped, never raised into the proxy's or supervisor's threads.
"""

from __future__ import annotations

import os

from nonoc.runtime.audit.session import AuditSession

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every ``nono run`` milliseconds
    from typing import Any

    from nonoc.runtime.audit.session import Signer


class AuditHook:
    """Opens an :class:`AuditSession` before the child starts and closes it with its exit code."""

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None = None,
        signing_key: Signer | None = None,
        **fields: Any,
    ) -> None:
        self.root = root
        self.signing_key = signing_key
        self.fields = fields
        self.session: AuditSession | None = None

    def record(self, kind: str, **fields: Any) -> None:
        """Record into the open session (nothing before it opens or after it closes)."""
        if self.session is not None and not self.session.closed:
            self.session.record(kind, **fields)

    def network_event(self, event: Any) -> None:
        """The proxy's ``on_event`` sink: one ``network_decision`` per ``ProxyEvent``.

        Safe to hand out before the session opens (events before it, or after it closes,
        are dropped); runs on the proxy's thread, one ``write`` and no fsync.
        """
        session = self.session
        if session is not None and not session.closed:
            try:
                session.network_event(event)
            except ValueError:  # closed meanwhile: the run is over
                pass

    def supervisor_event(self, event: Any) -> None:
        """The supervisor's ``on_event`` sink: one ``supervisor_decision`` per ``Event``.

        (``SupervisorHook(audit=hook)`` works too: it calls :meth:`record`.)
        """
        session = self.session
        if session is not None and not session.closed:
            try:
                session.supervisor_event(event)
            except ValueError:  # closed meanwhile: the run is over
                pass

    def before_spawn(self, launch: Any) -> None:
        """Open the session with the command and ``launch.session_id``.

        ``policy_digest`` defaults to ``launch.bundle_digest`` when the hook was not given one.
        """
        if "policy_digest" not in self.fields and getattr(launch, "bundle_digest", None):
            self.fields["policy_digest"] = launch.bundle_digest
        self.session = AuditSession.open(
            command=list(launch.argv),
            root=self.root,
            session_id=launch.session_id,
            signing_key=self.signing_key,
            **self.fields,
        )
        if launch.session_id is None:
            launch.session_id = self.session.id  # later hooks (rollback) share the id

    def after_spawn(self, launch: Any) -> None:
        """Record the child's pid."""
        self.record("command", argv=list(launch.argv), pid=launch.pid, decision="started")

    def after_exit(self, launch: Any, exit_code: int) -> None:
        """Close the session with the child's exit code."""
        if self.session is not None:
            self.session.close(exit_code)
