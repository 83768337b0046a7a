"""Supervisor decisions into the audit trail (``supervisor_decision`` records).

Most decisions are ``continue``/``granted``: an open the initial grants already cover,
which Landlock decides; a Python start-up makes hundreds. The supervisor counts those
instead of reporting each (``Supervisor.granted``, unless ``report_granted``), and the
recorder writes the count once, as one record, when it is closed; every other decision (a
refusal, an approval, a socket or metadata call) is one record. With ``report_granted``
the recorder counts the events it gets the same way, so the trail reads alike.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # made at a run's first mediated call, which waits: no typing at run time
    from collections.abc import Mapping
    from typing import Any, Protocol

    from nonoc.runtime.supervisor.verdict import Event

    class AuditSink(Protocol):
        """What :class:`nonoc.runtime.audit.AuditSession` offers: ``record(kind, **fields)``."""

        def record(self, kind: str, **fields: Any) -> Any:
            """Append one event."""
            ...

else:

    class AuditSink:
        """Anything with ``record(kind, **fields)`` (a ``typing.Protocol`` for type checkers)."""


class AuditRecorder:
    """An ``on_event`` callback writing to an audit session (see the module docstring)."""

    def __init__(self, session: AuditSink, *, record_granted: bool = False) -> None:
        self.session = session
        #: Write every granted continue that arrives as an event (else count them).
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

    def close(self, granted: Mapping[str, int] | None = None) -> None:
        """Write the count of calls continued inside the grants, by system call.

        ``granted`` adds the supervisor's own counts (``Supervisor.granted``).
        """
        with self._lock:
            merged = dict(self.granted)
            self.granted = {}
        for name, count in (granted or {}).items():
            merged[name] = merged.get(name, 0) + count
        counts = dict(sorted(merged.items()))
        if counts:
            self.session.record(
                "supervisor_decision",
                decision="continue",
                reason="granted",
                count=sum(counts.values()),
                by_syscall=counts,
            )
