"""Supervisor decisions into the audit trail (``supervisor_decision`` records).

Every decision reaches the ``on_event`` callback. Most are ``continue``/``granted``: an open
the initial grants already cover, which Landlock decides; a Python start-up makes
hundreds. Recording each would make the trail mostly noise and cost every open a hashed,
written record, so by default they are counted and written once, as one record with a
``count``, when the recorder is closed; every other decision (a refusal, an approval,
a socket or metadata call) is one record. ``record_granted=True`` records each one too.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from nonoc.runtime.supervisor.verdict import Event


class AuditSink(Protocol):
    """What :class:`nonoc.runtime.audit.AuditSession` offers: ``record(kind, **fields)``."""

    def record(self, kind: str, **fields: Any) -> Any:
        """Append one event."""
        ...


class AuditRecorder:
    """An ``on_event`` callback writing to an audit session (see the module docstring)."""

    def __init__(self, session: AuditSink, *, record_granted: bool = False) -> None:
        self.session = session
        self.record_granted = record_granted
        self.granted: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Record ``event`` (or count it, for a plain ``granted`` continue)."""
        if event.decision == "continue" and event.reason == "granted" and not self.record_granted:
            with self._lock:
                self.granted[event.syscall] = self.granted.get(event.syscall, 0) + 1
            return
        self.session.record("supervisor_decision", **event.fields())

    def close(self) -> None:
        """Write the count of calls continued inside the grants, by system call."""
        with self._lock:
            counts, self.granted = dict(sorted(self.granted.items())), {}
        if counts:
            self.session.record(
                "supervisor_decision",
                decision="continue",
                reason="granted",
                count=sum(counts.values()),
                by_syscall=counts,
            )
